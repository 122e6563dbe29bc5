"""``redact=`` on every tracer: a planted secret never reaches any store or export.

Each store is read back as it holds the spans (the JSON lines, the terminal text, SQLite rows,
DynamoDB items, OTLP requests as the receiver decoded them) and searched for the secret.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generative_ai_toolkit.tracer import (
    BaseTracer,
    HumanReadableTracer,
    InMemoryTracer,
    SqliteTracer,
    StructuredLogsTracer,
    TeeTracer,
    Trace,
)
from generative_ai_toolkit.tracer.redaction import Redactor, content_omitted
from otlp.capture import CaptureServer

from .values import SECRETS, nested, planted

REDACT = Redactor(secrets=True, emails=True, credit_cards=True)
#: Each example writes a few spans at once, so the stores' round trips are shared.
batches = st.lists(planted(), min_size=1, max_size=4)
FEW = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def trace_values(tracer: BaseTracer, values: list[Any]) -> None:
    """One conversation turn per value: a root with the value in an LLM span below it."""
    for value in values:
        with tracer.trace("converse") as root:
            root.add_attribute("ai.conversation.id", "c-1", inheritable=True)
            with tracer.trace("llm") as llm:
                llm.add_attribute("ai.llm.request.messages", value)
                llm.add_attribute("ai.tool.input", {"args": [value]})


def assert_redacted(stored: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in stored
    assert "[REDACTED:" in stored


@given(batches)
def test_in_memory(cases: list[tuple[Any, str]]) -> None:
    """``get_traces`` hands back redacted spans."""
    tracer = InMemoryTracer(redact=REDACT)
    trace_values(tracer, [v for v, _ in cases])
    stored = json.dumps([t.attributes for t in tracer.get_traces()])
    assert_redacted(stored, [s for _, s in cases])


@given(st.lists(nested, min_size=1, max_size=4))
def test_values_without_secrets_are_stored_unchanged(values: list[Any]) -> None:
    """A redacting tracer stores clean values exactly as a plain one does, listing nothing."""
    plain, redacting = InMemoryTracer(), InMemoryTracer(redact=REDACT)
    trace_values(plain, values)
    trace_values(redacting, values)
    assert [t.attributes for t in plain.get_traces()] == [
        t.attributes for t in redacting.get_traces()
    ]


@given(batches)
def test_json_lines(cases: list[tuple[Any, str]]) -> None:
    """The JSON lines carry the markers, never the secrets."""
    stream = io.StringIO()
    trace_values(StructuredLogsTracer(stream=stream, redact=REDACT), [v for v, _ in cases])
    assert_redacted(stream.getvalue(), [s for _, s in cases])


@given(batches)
def test_console(cases: list[tuple[Any, str]]) -> None:
    """The terminal text shows no secret (it shows the last message, redacted)."""
    stream = io.StringIO()
    trace_values(HumanReadableTracer(stream=stream, redact=REDACT), [v for v, _ in cases])
    for _, secret in cases:
        assert secret not in stream.getvalue()


@given(batches)
def test_tee_redacts_once_for_every_child(cases: list[tuple[Any, str]]) -> None:
    """``TeeTracer(redact=...)`` hands every child the redacted span."""
    memory, stream = InMemoryTracer(), io.StringIO()
    tee = TeeTracer(memory, StructuredLogsTracer(stream=stream), redact=REDACT)
    trace_values(tee, [v for v, _ in cases])
    assert_redacted(stream.getvalue(), [s for _, s in cases])
    assert_redacted(json.dumps([t.attributes for t in memory.get_traces()]), [s for _, s in cases])


def test_a_tee_child_redacts_for_itself_only() -> None:
    """A local copy keeps what the exported copy drops: each child's own ``redact=``."""
    local, stream = InMemoryTracer(), io.StringIO()
    tee = TeeTracer(local, StructuredLogsTracer(stream=stream, redact=content_omitted()))
    trace_values(tee, ["what the user said"])
    assert "what the user said" not in stream.getvalue()
    assert "[REDACTED:content]" in stream.getvalue()
    assert "what the user said" in json.dumps([t.attributes for t in local.get_traces()])


@pytest.fixture(scope="module")
def sqlite_tracer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteTracer]:
    path = tmp_path_factory.mktemp("privacy") / "traces.sqlite3"
    tracer = SqliteTracer(path, redact=REDACT, schedule_delay=0.01)
    yield tracer
    tracer.shutdown()


@FEW
@given(batches)
def test_sqlite(sqlite_tracer: SqliteTracer, cases: list[tuple[Any, str]]) -> None:
    """Neither the rows read back nor the database file hold the secret."""
    trace_values(sqlite_tracer, [v for v, _ in cases])
    assert sqlite_tracer.flush(10)
    stored = json.dumps([t.attributes for t in sqlite_tracer.get_traces()])
    assert_redacted(stored, [s for _, s in cases])
    raw = b"".join(p.read_bytes() for p in Path(sqlite_tracer.db_path).parent.iterdir())
    for _, secret in cases:
        assert secret.encode() not in raw


@pytest.fixture(scope="module")
def capture() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server


@FEW
@given(batches)
def test_otlp_export(capture: CaptureServer, cases: list[tuple[Any, str]]) -> None:
    """What a real OTLP receiver decodes holds markers, never secrets (``gen_ai.*`` too)."""
    from generative_ai_toolkit.tracer.otlp import OtlpTracer  # noqa: PLC0415

    tracer = OtlpTracer(endpoint=capture.endpoint, redact=REDACT, schedule_delay=0.01)
    try:
        trace_values(tracer, [v for v, _ in cases])
        assert tracer.flush(10)
    finally:
        tracer.shutdown()
    stored = "".join(str(received.request) for received in capture.accepted())
    assert_redacted(stored, [s for _, s in cases])
    capture.received.clear()


@pytest.mark.integration
@FEW
@given(batches)
def test_dynamodb(ddb_table: tuple[Any, str], cases: list[tuple[Any, str]]) -> None:
    """The items in the table hold markers, never secrets."""
    from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer  # noqa: PLC0415

    client, table = ddb_table
    tracer = DynamoDbTracer(table, client=client, redact=REDACT, schedule_delay=0.01)
    try:
        trace_values(tracer, [v for v, _ in cases])
        assert tracer.flush(30)
    finally:
        tracer.shutdown()
    items = client.scan(TableName=table)["Items"]
    assert_redacted(json.dumps(items), [s for _, s in cases])


@pytest.fixture(scope="module")
def ddb_table() -> Iterator[tuple[Any, str]]:
    from services.dynamodb_local import DynamoDbLocal, create_notebook_table  # noqa: PLC0415

    with DynamoDbLocal() as server:
        client = server.client()
        create_notebook_table(client, table_name="PrivacyTraces")
        yield client, "PrivacyTraces"
        client.close()


# -- where and how often redaction runs ------------------------------------------------------


def test_exporting_tracers_redact_on_the_worker_not_the_agents_thread(tmp_path: Path) -> None:
    """The agent's thread pays nothing: the redactor runs on the export worker."""
    threads: set[str] = set()

    def spy(key: str, value: Any, span: Trace) -> Any:
        threads.add(threading.current_thread().name)
        return value

    tracer = SqliteTracer(tmp_path / "t.sqlite3", redact=spy, schedule_delay=0.01)
    trace_values(tracer, ["hello"])
    tracer.shutdown()
    assert {"span-export-SqliteTracer"} == threads


def spying(calls: list[str]) -> Callable[[str, Any, Trace], Any]:
    """A redactor that changes nothing and notes each call (span:key@thread)."""

    def spy(key: str, value: Any, span: Trace) -> Any:
        calls.append(f"{span.span_name}:{key}@{threading.current_thread().name}")
        return value

    return spy


EACH_ATTRIBUTE_ONCE = [
    "llm:ai.llm.request.messages",
    "llm:ai.tool.input",
    "llm:ai.conversation.id",
    "converse:ai.conversation.id",
]


def test_console_tracers_redact_each_span_once_at_persist() -> None:
    """One call per attribute of each span, on the thread that ended it."""
    calls: list[str] = []
    tracer = StructuredLogsTracer(stream=io.StringIO(), redact=spying(calls))
    trace_values(tracer, ["hello"])
    assert [f"{c}@MainThread" for c in EACH_ATTRIBUTE_ONCE] == calls


def test_in_memory_tracer_redacts_each_span_once_at_the_first_read_after_it() -> None:
    """Nothing on the agent's thread; the next read redacts every span held, on its thread."""
    calls: list[str] = []
    tracer = InMemoryTracer(redact=spying(calls))
    agent = threading.Thread(target=trace_values, args=(tracer, ["hello"]), name="agent")
    agent.start()
    agent.join()
    assert [] == calls
    assert 2 == tracer.stats["stored"]
    assert 2 == len(tracer.get_traces())
    tracer.list_conversations()
    tracer.conversation_spans("c-1")
    assert [f"{c}@MainThread" for c in EACH_ATTRIBUTE_ONCE] == calls


def test_in_memory_tracer_lookups_see_only_redacted_values() -> None:
    """A redacted conversation id is found by its redacted value, never by the secret."""
    tracer = InMemoryTracer(redact=REDACT)
    with tracer.trace("turn") as turn:
        turn.add_attribute("ai.conversation.id", "alice@example.com")
    assert [] == tracer.get_traces(attribute_filter={"ai.conversation.id": "alice@example.com"})
    (found,) = tracer.get_traces(attribute_filter={"ai.conversation.id": "[REDACTED:email]"})
    assert "turn" == found.span_name
    assert ["[REDACTED:email]"] == [c.conversation_id for c in tracer.list_conversations()]


def test_in_memory_tracer_evicts_spans_held_for_redaction_as_it_evicts_others() -> None:
    """``memory_size`` bounds redacted and not-yet-redacted spans together; the newest stay."""
    calls: list[str] = []
    tracer = InMemoryTracer(3, redact=spying(calls))
    for index in range(5):
        with tracer.trace(f"span {index}"):
            pass
    assert {"stored": 3, "evicted": 2} == {k: tracer.stats[k] for k in ("stored", "evicted")}
    assert ["span 2", "span 3", "span 4"] == [t.span_name for t in tracer.get_traces()]
    with tracer.trace("span 5"):
        pass
    assert ["span 3", "span 4", "span 5"] == [t.span_name for t in tracer.get_traces()]
    assert 3 == tracer.stats["evicted"]
    assert [] == calls  # spans without attributes: nothing to ask the redactor


@pytest.mark.parametrize(
    "make",
    [InMemoryTracer, StructuredLogsTracer, HumanReadableTracer, TeeTracer],
    ids=lambda f: f.__name__,
)
def test_without_redact_or_sampler_the_hot_path_is_the_classs_own(
    make: Callable[[], BaseTracer],
) -> None:
    """Zero extra work when nothing is configured: no wrapper is installed."""
    tracer = make()
    assert {"trace", "persist", "shutdown"}.isdisjoint(vars(tracer))
    assert {"persist_errors"} <= set(tracer.stats)
    assert "redaction_errors" not in tracer.stats


def test_a_raising_redactor_never_loses_the_span_and_is_logged_once_per_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The value is replaced, the span stored, the error counted; one log line per cause."""

    def broken(key: str, value: Any, span: Trace) -> Any:
        if key == "ai.tool.input":
            raise RuntimeError("redactor bug")
        return value

    tracer = InMemoryTracer(redact=broken)
    with caplog.at_level(logging.ERROR, logger="generative_ai_toolkit.tracer"):
        trace_values(tracer, ["a", "b", "c"])
    assert 6 == len(tracer.get_traces())
    assert {"[REDACTED:error]"} == {
        t.attributes["ai.tool.input"] for t in tracer.get_traces() if t.span_name == "llm"
    }
    assert 3 == tracer.stats["redaction_errors"]
    assert 1 == len([r for r in caplog.records if r.exc_info])


def test_redaction_errors_on_the_worker_are_counted_too(tmp_path: Path) -> None:
    """Exporting tracers count them in the same ``stats`` key."""

    def broken(key: str, value: Any, span: Trace) -> Any:
        raise ValueError("nope")

    tracer = SqliteTracer(tmp_path / "t.sqlite3", redact=broken, schedule_delay=0.01)
    trace_values(tracer, ["a"])
    assert 2 == len(tracer.get_traces())
    assert 4 == tracer.stats["redaction_errors"]  # every attribute of both spans
    tracer.shutdown()


def test_every_planted_kind_is_covered() -> None:
    """The property tests plant every kind the built-in redactor knows."""
    kinds = {marker.removeprefix("[REDACTED:").rstrip("]") for marker in SECRETS.values()}
    assert {"aws-key", "aws-secret", "bearer-token", "jwt", "api-key", "private-key"} <= kinds
    assert {"email", "card"} <= kinds
