"""The viewer's JSON API and server rules, over HTTP on 127.0.0.1 (no browser)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from generative_ai_toolkit.tracer import (
    InMemoryTracer,
    SpanListQuery,
    SqliteTracer,
    StructuredLogsTracer,
)
from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery
from generative_ai_toolkit.tracer.viewer import (
    CONTENT_SECURITY_POLICY,
    ViewerServer,
    check_bind_address,
)
from generative_ai_toolkit.tracer.viewer._live import ReloadingQuery
from generative_ai_toolkit.tracer.viewer._server import _STATIC_TYPES
from viewer.conftest import make_demo_db, serving
from viewer.spans import (
    BASE_NS,
    XSS_IMG,
    XSS_SCRIPT,
    make_span,
    many_conversations,
    turn,
    xss_turn,
)


class Client:
    """Plain HTTP requests to a viewer, one connection per request."""

    def __init__(self, server: ViewerServer) -> None:
        url = urlsplit(server.url)
        self.host = url.hostname or ""
        self.port = url.port or 0

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def json(self, path: str) -> Any:
        status, _, body = self.request("GET", path)
        assert 200 == status, body
        return json.loads(body)


@pytest.fixture
def tracer() -> InMemoryTracer:
    spans = [
        *turn("weather", trace=1, auth="alice", start_ns=BASE_NS, user_input="Weather?"),
        *turn("weather", trace=2, auth="alice", start_ns=BASE_NS + 10**9, user_input="More?"),
        *turn("orders", trace=3, auth="bob", start_ns=BASE_NS + 2 * 10**9),
        *xss_turn(trace=4, start_ns=BASE_NS + 3 * 10**9),
    ]
    memory = InMemoryTracer()
    for span in spans:
        memory.persist(span)
    return memory


@pytest.fixture
def client(tracer: InMemoryTracer) -> Iterator[Client]:
    with serving(tracer) as server:
        yield Client(server)


def test_conversations_are_listed_newest_first_with_counts(client: Client) -> None:
    """The list holds each conversation's counts, times and duration, most recent first."""
    data = client.json("/api/conversations")
    rows = data["conversations"]
    assert ["xss-" + XSS_IMG, "orders", "weather"] == [r["conversation_id"] for r in rows]
    weather = rows[2]
    assert ("alice", 2, 6, 0) == (
        weather["auth_context"],
        weather["trace_count"],
        weather["span_count"],
        weather["error_count"],
    )
    assert 2_000_000 == weather["total_duration_ns"]
    assert "2025-04-15T20:24:45.000000+00:00" == weather["first_started_at"]
    assert BASE_NS // 1000 == weather["first_started_us"]
    assert (50, 0, False) == (data["limit"], data["offset"], data["has_more"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=eath", ["weather"]),
        ("auth_context=bob", ["orders"]),
        ("since=2025-04-15T20:24:47Z", ["xss-" + XSS_IMG, "orders"]),
        ("until=2025-04-15T20:24:46.5", ["weather"]),
        ("errors=1", []),
        ("limit=1&offset=1", ["orders"]),
    ],
)
def test_conversations_filter_and_page(client: Client, query: str, expected: list[str]) -> None:
    """Filters and paging map onto ConversationFilter, limit and offset."""
    rows = client.json(f"/api/conversations?{query}")["conversations"]
    assert expected == [r["conversation_id"] for r in rows]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=x",
        "offset=-1",
        "offset=9223372036854775808",
        "since=yesterday",
        "until=2025-13",
        "since=9999-12-31T23:59:59",
        "since=0001-01-01",
        "until=0001-01-01",
    ],
)
def test_bad_list_parameters_are_400(client: Client, query: str) -> None:
    """A parameter the API cannot use is a 400 with a message, not a crash."""
    status, _, body = client.request("GET", f"/api/conversations?{query}")
    assert 400 == status
    message = json.loads(body)["error"]
    assert query.partition("=")[0] in message
    assert "Error" not in message  # no raw Python exception


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_search_ignores_case_in_every_store(tmp_path: Path, store: str) -> None:
    """Searching for part of a conversation id, or of an auth context, finds it whatever the
    case of either."""
    spans = [
        *turn("Weather-Bot", trace=1),
        *turn("orders", trace=2, auth="Bob", start_ns=BASE_NS + 10**9),
    ]
    query: Any = SpanListQuery(spans)
    if store == "sqlite":
        tracer = SqliteTracer(tmp_path / "traces.sqlite3")
        for span in spans:
            tracer.persist(span)
        tracer.flush()
        tracer.shutdown()
        query = SqliteQuery(tmp_path / "traces.sqlite3", create=False)
    try:
        with serving(query) as server:
            client = Client(server)
            for search in ("weather", "EATHER-b", "Weather-Bot"):
                found = client.json(f"/api/conversations?search={search}")["conversations"]
                assert ["Weather-Bot"] == [c["conversation_id"] for c in found]
            for part, ids in [("ALI", ["Weather-Bot"]), ("b", ["orders"]), ("zed", [])]:
                found = client.json(f"/api/conversations?auth_search={part}")["conversations"]
                assert ids == [c["conversation_id"] for c in found]
            exact = client.json("/api/conversations?auth_context=Alice")["conversations"]
            assert [] == exact  # the exact filter stays exact: it scopes a tenant
    finally:
        if isinstance(query, SqliteQuery):
            query.close()


@pytest.mark.parametrize("query", ["offset=9223372036854775808", "since=9999-12-31T23:59:59"])
def test_out_of_range_parameters_are_400_over_sqlite(tmp_path: Path, query: str) -> None:
    """Numbers and times a SQLite store cannot hold are a 400, never the store's overflow."""
    db = make_demo_db(tmp_path / "traces.sqlite3")
    query_ = SqliteQuery(db, create=False)
    try:
        with serving(query_) as server:
            status, _, body = Client(server).request("GET", f"/api/conversations?{query}")
    finally:
        query_.close()
    assert 400 == status, body


def test_ten_thousand_conversations_come_one_page_at_a_time() -> None:
    """Over 10,000 conversations a request returns one page, and says whether more follow."""
    with serving(SpanListQuery(many_conversations(10_000))) as server:
        client = Client(server)
        first = client.json("/api/conversations")
        assert 50 == len(first["conversations"])
        assert first["has_more"] is True
        assert "c-09999" == first["conversations"][0]["conversation_id"]
        last = client.json("/api/conversations?limit=200&offset=9900")
        assert 100 == len(last["conversations"])
        assert last["has_more"] is False
        assert "c-00000" == last["conversations"][-1]["conversation_id"]


def test_conversation_gives_span_outlines_by_start(client: Client) -> None:
    """A conversation's spans, in start order, with what the waterfall and tree need."""
    data = client.json("/api/conversations/weather")
    assert "alice" == data["auth_context"]
    spans = data["spans"]
    assert 6 == len(spans)
    root = spans[0]
    assert {
        "trace_id": f"{1:032x}",
        "span_id": f"{1000:016x}",
        "parent_span_id": None,
        "name": "converse",
        "kind": "SERVER",
        "status": "OK",
        "start_us": BASE_NS // 1000,
        "end_us": BASE_NS // 1000 + 1000,
        "duration_ns": 1_000_000,
        "labels": ["assistant"],
        "type": "converse",
        "input": "Weather?",
        "response": "You said: Weather?",
    } == root
    assert ["converse", "llm-invocation", "tool-invocation"] == [s["name"] for s in spans[:3]]
    assert "1/1" != spans[1].get("tokens")  # no token attributes in these spans
    assert f"{1000:016x}" == spans[1]["parent_span_id"]
    assert ("tool-invocation", "echo") == (spans[2]["type"], spans[2]["tool"])  # for compare


def test_outline_tokens_are_numbers_and_tool_errors_count_as_errors() -> None:
    """Token counts come as numbers (with their total); a tool's ``ai.tool.error`` is the
    outline's error, as ``gat-traces show`` prints it."""
    context = {"ai.conversation.id": "tokens"}
    llm = make_span(
        "llm-invocation",
        trace=1,
        span_id=1,
        attributes={**context, "ai.llm.response.usage": {"inputTokens": 12, "outputTokens": 6}},
    )
    half = make_span(
        "llm-invocation",
        trace=1,
        span_id=2,
        attributes={**context, "ai.llm.response.usage": {"inputTokens": 7}},
    )
    tool = make_span(
        "tool-invocation",
        trace=1,
        span_id=3,
        attributes={**context, "ai.tool.error": "no such order"},
    )
    with serving(SpanListQuery([llm, half, tool])) as server:
        spans = Client(server).json("/api/conversations/tokens")["spans"]
    assert {"input": 12, "output": 6, "total": 18} == spans[0]["tokens"]
    assert {"input": 7, "output": None, "total": None} == spans[1]["tokens"]
    assert "no such order" == spans[2]["error"]
    assert "error" not in spans[0]


def test_conversation_ids_with_slashes_and_html_are_path_segments(client: Client) -> None:
    """Any conversation id works once URL-encoded; unknown ones are 404."""
    data = client.json("/api/conversations/" + quote("xss-" + XSS_IMG, safe=""))
    assert 3 == len(data["spans"])
    assert XSS_SCRIPT == data["auth_context"]
    status, _, _ = client.request("GET", "/api/conversations/" + quote("no/such", safe=""))
    assert 404 == status


def test_trace_tree_nests_full_spans(client: Client) -> None:
    """A trace as trees: the root with its children by start, each span in full."""
    data = client.json(f"/api/traces/{1:032x}")
    (root,) = data["roots"]
    assert "converse" == root["name"]
    assert ["llm-invocation", "tool-invocation"] == [c["name"] for c in root["children"]]
    assert [] == root["children"][0]["children"]
    assert "Weather?" == _attrs(root)["ai.user.input"]


def test_span_detail_marks_inherited_attributes(client: Client) -> None:
    """One span: every attribute in order, inherited ones marked; values keep their JSON type."""
    span = client.json(f"/api/traces/{1:032x}/spans/{1001:016x}")
    assert [
        ("ai.trace.type", False),
        ("ai.llm.request.model.id", False),
        ("ai.llm.request.messages", False),
        ("ai.llm.response.output", False),
        ("ai.conversation.id", True),
        ("ai.auth.context", True),
    ] == [(a["key"], a["inherited"]) for a in span["attributes"]]
    assert [{"role": "user", "content": "Weather?"}] == _attrs(span)["ai.llm.request.messages"]
    assert {"service.name": "ViewerTest"} == span["resource_attributes"]
    assert "2025-04-15T20:24:45.000100+00:00" == span["started_at"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/api/traces/{9:032x}", 404),
        (f"/api/traces/{1:032x}/spans/{9:016x}", 404),
        ("/api/traces/not-hex", 400),
        (f"/api/traces/{1:032x}/spans/12", 400),
        ("/api/nothing", 404),
        ("/static/../../etc/passwd", 404),
        ("/static/app.py", 404),
    ],
)
def test_unknown_or_malformed_paths(client: Client, path: str, status: int) -> None:
    """Unknown things are 404, malformed ids 400; only the shipped assets are served."""
    assert status == client.request("GET", path)[0]


def test_values_are_strict_json_whatever_the_attribute() -> None:
    """NaN, bytes, sets and objects in attributes still give strict JSON."""
    memory = InMemoryTracer()
    with memory.trace("odd") as span:
        span.add_attribute("ai.conversation.id", "odd")
        span.add_attribute("nan", float("nan"))
        span.add_attribute("bytes", b"\x00\x01")
        span.add_attribute("object", object())
    with serving(memory) as server:
        client = Client(server)
        (outline,) = client.json("/api/conversations/odd")["spans"]
        status, _, body = client.request(
            "GET", f"/api/traces/{outline['trace_id']}/spans/{outline['span_id']}"
        )
    assert 200 == status
    values = {a["key"]: a["value"] for a in json.loads(body)["attributes"]}
    assert ("NaN", "AAE=") == (values["nan"], values["bytes"])
    assert values["object"].startswith("<object object")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
@pytest.mark.parametrize(
    "path", ["/", "/api/conversations", "/api/conversations/weather", f"/api/traces/{1:032x}"]
)
def test_no_endpoint_accepts_a_writing_method(
    client: Client, tracer: InMemoryTracer, method: str, path: str
) -> None:
    """Every method but GET and HEAD is refused with 405 and changes nothing."""
    before = len(tracer.get_traces())
    status, headers, _ = client.request(method, path, body=b'{"x": 1}')
    assert 405 == status
    assert "GET, HEAD" == headers["Allow"]
    assert before == len(tracer.get_traces())


def test_head_answers_without_a_body(client: Client) -> None:
    status, headers, body = client.request("HEAD", "/api/conversations")
    assert (200, b"") == (status, body)
    assert int(headers["Content-Length"]) > 0


def test_every_response_has_a_strict_content_security_policy(client: Client) -> None:
    """Pages, assets, API answers and errors all carry the CSP and no-sniff headers."""
    for path in ["/", "/static/app.js", "/static/app.css", "/api/conversations", "/api/x"]:
        _, headers, _ = client.request("GET", path)
        assert CONTENT_SECURITY_POLICY == headers["Content-Security-Policy"]
        assert "nosniff" == headers["X-Content-Type-Options"]
        assert "DENY" == headers["X-Frame-Options"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY


def raw_request(server: ViewerServer, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is (no HTTP client to tidy it up) and read the answer."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname or "", url.port or 0), timeout=10) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414),
        (b"GET / extra HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
        (b"BREW / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 501),
    ],
)
def test_errors_from_the_http_machinery_carry_the_security_headers(
    tracer: InMemoryTracer, data: bytes, expected: int
) -> None:
    """A too-long address, a bad request line, an unknown method: the
    server's own error answers are JSON with the same security headers as every response."""
    with serving(tracer) as server:
        status, headers, body = raw_request(server, data)
    assert expected == status
    assert CONTENT_SECURITY_POLICY == headers["Content-Security-Policy"]
    assert "nosniff" == headers["X-Content-Type-Options"]
    assert "DENY" == headers["X-Frame-Options"]
    assert json.loads(body)["error"]
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY


def test_the_page_uses_no_outside_resources(client: Client) -> None:
    """The page's files load nothing from elsewhere and never parse data as HTML."""
    names = ["/", *(f"/static/{n}" for n in _STATIC_TYPES if n.endswith((".js", ".css")))]
    assert {"/static/app.js", "/static/extras.js", "/static/compare.js"} <= set(names)
    for name in names:
        text = client.request("GET", name)[2].decode()
        assert [] == re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I)
        assert "@import" not in text
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]:
            assert sink not in text


def test_requests_for_another_host_name_are_refused(client: Client) -> None:
    """A Host header that is not a loopback name is refused (no DNS rebinding)."""
    assert 421 == client.request("GET", "/api/conversations", headers={"Host": "evil.test"})[0]
    for host in ["localhost:1", "127.0.0.1:8484", "[::1]:8484"]:
        assert 200 == client.request("GET", "/", headers={"Host": host})[0]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com", "10.0.0.1"])
def test_non_loopback_addresses_are_refused(tracer: InMemoryTracer, host: str) -> None:
    """Listening beyond this machine needs allow_remote."""
    with pytest.raises(ValueError, match="not a loopback address"):
        ViewerServer(tracer, host=host, port=0)
    check_bind_address(host, allow_remote=True)  # allowed when asked for


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_addresses_are_accepted(host: str) -> None:
    check_bind_address(host)


def _read_event(stream: Any, wanted: str, deadline: float) -> Any:
    """The data of the next ``wanted`` event on an event stream (others are skipped)."""
    event = ""
    while time.monotonic() < deadline:
        line = stream.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event == wanted:
            return json.loads(line[len("data: ") :])
    raise AssertionError(f"no {wanted} event in time")


def test_live_events_bring_new_spans_of_the_open_conversation(
    client: Client, tracer: InMemoryTracer
) -> None:
    """The event stream sends spans stored after the page loaded, then list changes."""
    since = (BASE_NS + 10**10) // 1000
    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    try:
        conn.request("GET", f"/api/events?conversation=weather&since_us={since}")
        response = conn.getresponse()
        assert 200 == response.status
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        for span in turn("weather", trace=7, start_ns=BASE_NS + 2 * 10**10, user_input="Now"):
            tracer.persist(span)
        deadline = time.monotonic() + 10
        data = _read_event(response, "spans", deadline)
        assert {"converse", "llm-invocation", "tool-invocation"} == {
            s["name"] for s in data["spans"]
        }
        for span in turn("other", trace=8, start_ns=BASE_NS + 3 * 10**10):
            tracer.persist(span)
        data = _read_event(response, "conversations", deadline)
        assert "other" == data["latest"]["conversation_id"]
    finally:
        conn.close()


def test_live_events_do_not_repeat_spans_the_page_has(
    client: Client, tracer: InMemoryTracer
) -> None:
    """Spans ending well before the page's newest one are not sent again."""
    since = (BASE_NS + 10**11) // 1000
    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    try:
        conn.request("GET", f"/api/events?conversation=weather&since_us={since}")
        response = conn.getresponse()
        tracer.persist(turn("weather", trace=9, start_ns=BASE_NS + 2 * 10**11)[0])
        data = _read_event(response, "spans", time.monotonic() + 10)
        assert [f"{9001:016x}"] == [s["span_id"] for s in data["spans"]]
    finally:
        conn.close()


def test_an_empty_conversation_id_is_a_conversation_too() -> None:
    """Spans whose conversation id is "" are listed, served and followed like any other."""
    spans = turn("", trace=5)
    with serving(SpanListQuery(spans)) as server:
        client = Client(server)
        assert [""] == [
            c["conversation_id"] for c in client.json("/api/conversations")["conversations"]
        ]
        assert 3 == len(client.json("/api/conversations/")["spans"])
        news = client.json("/api/updates?conversation=&mark=&since_us=0")["conversation"]
        assert 3 == len(news["spans"])


def test_polled_updates_send_spans_only_when_the_conversation_changed(
    client: Client, tracer: InMemoryTracer
) -> None:
    """A poll with the page's mark gets no spans until the conversation grows; then the new
    spans (and those ending shortly before the page's newest), a new mark and the list's."""
    loaded = client.json("/api/conversations/weather")
    since = (BASE_NS + 10**11) // 1000  # as if the page had a span 100 s later
    path = f"/api/updates?conversation=weather&mark={quote(loaded['mark'])}&since_us={since}"
    quiet = client.json(path)
    assert {"mark": loaded["mark"], "span_count": 6, "auth_context": "alice", "spans": []} == (
        quiet["conversation"]
    )
    tracer.persist(turn("weather", trace=9, start_ns=BASE_NS + 2 * 10**11)[0])
    news = client.json(path)
    assert [f"{9001:016x}"] == [s["span_id"] for s in news["conversation"]["spans"]]
    assert (7, True) == (
        news["conversation"]["span_count"],
        news["conversation"]["mark"] != loaded["mark"],
    )
    assert "weather" == news["latest"]["conversation_id"]
    assert news["list_mark"] != quiet["list_mark"]


def test_a_loaded_conversation_is_not_read_again_by_the_first_poll(tmp_path: Path) -> None:
    """The mark a conversation comes with is the one polls give while it does not change (over
    SQLite too), so a page's first poll reads no spans."""
    query = SqliteQuery(make_demo_db(tmp_path / "traces.sqlite3"), create=False)
    try:
        with serving(query) as server:
            client = Client(server)
            for conversation in ("orders-demo", "weather-demo"):
                mark = client.json(f"/api/conversations/{conversation}")["mark"]
                news = client.json(
                    f"/api/updates?conversation={conversation}&mark={quote(mark)}&since_us=0"
                )
                assert (mark, []) == (news["conversation"]["mark"], news["conversation"]["spans"])
    finally:
        query.close()


def test_polled_updates_bring_a_new_conversation_with_its_auth_context(
    client: Client, tracer: InMemoryTracer
) -> None:
    """A page opened before its conversation had spans learns them and the auth context."""
    empty = client.json("/api/updates?conversation=later&mark=&since_us=0")["conversation"]
    assert ("", None, []) == (empty["mark"], empty["auth_context"], empty["spans"])
    for span in turn("later", trace=8, auth="carol", start_ns=BASE_NS + 3 * 10**10):
        tracer.persist(span)
    news = client.json("/api/updates?conversation=later&mark=&since_us=0")["conversation"]
    assert ("carol", 3) == (news["auth_context"], len(news["spans"]))


def test_a_growing_json_lines_file_is_re_read(tmp_path: Path) -> None:
    """Serving a JSON-lines file shows spans appended after the server started."""
    path = tmp_path / "spans.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        logs = StructuredLogsTracer(stream=stream)
        for span in turn("first", trace=1):
            logs.persist(span)
    from generative_ai_toolkit.tracer.cli._sources import read_jsonl  # noqa: PLC0415

    query = ReloadingQuery(lambda: SpanListQuery(read_jsonl(path)), lambda: path.stat().st_size)
    assert ["first"] == [s.conversation_id for s in query.list_conversations()]
    with path.open("a", encoding="utf-8") as stream:
        logs = StructuredLogsTracer(stream=stream)
        for span in turn("second", trace=2, start_ns=BASE_NS + 10**9):
            logs.persist(span)
        stream.write('{"half a line')
    assert ["first"] == [s.conversation_id for s in query.list_conversations()]
    path.write_text(path.read_text(encoding="utf-8").rsplit("\n", 1)[0] + "\n", encoding="utf-8")
    assert ["second", "first"] == [s.conversation_id for s in query.list_conversations()]


# -- the serve command -----------------------------------------------------------------------------


def _gat_traces() -> list[str]:
    script = Path(sys.executable).with_name("gat-traces")
    return (
        [str(script)] if script.exists() else [sys.executable, "-m", "generative_ai_toolkit.tracer"]
    )


def test_serve_command_serves_the_demo_database(tmp_path: Path) -> None:
    """`gat-traces serve --port 0` prints its address and serves the demo's conversations."""
    db = make_demo_db(tmp_path / "traces.sqlite3")
    process = subprocess.Popen(
        [*_gat_traces(), "serve", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:(\d+)/)", line)
        assert match, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match[2]), timeout=10)
        conn.request("GET", "/api/conversations")
        rows = json.loads(conn.getresponse().read())["conversations"]
        conn.close()
        assert 4 == len(rows)
        assert "research-demo" == rows[0]["conversation_id"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.0.2"])
def test_serve_command_refuses_a_non_loopback_host(tmp_path: Path, host: str) -> None:
    """Without --allow-remote, serve exits with one line saying why."""
    result = subprocess.run(
        [*_gat_traces(), "serve", "--db", str(tmp_path / "x.sqlite3"), "--host", host],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert 1 == result.returncode
    assert f"gat-traces: error: refusing to listen on {host}" in result.stderr
    assert "--allow-remote" in result.stderr
    assert "" == result.stdout


def _attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in span["attributes"]}


def test_the_viewer_module_serves_an_in_memory_tracer() -> None:
    """``generative_ai_toolkit.tracer.viewer`` serves any TraceQuery, e.g. InMemoryTracer."""
    from generative_ai_toolkit.tracer import viewer  # noqa: PLC0415

    memory = InMemoryTracer()
    for span in turn("notebook", trace=1):
        memory.persist(span)
    server = viewer.ViewerServer(memory, port=0).start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        rows = Client(server).json("/api/conversations")["conversations"]
        assert ["notebook"] == [r["conversation_id"] for r in rows]
    finally:
        server.close()
    assert sorted(viewer.__all__) == viewer.__all__
