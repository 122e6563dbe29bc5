"""The viewer in headless Chromium, over the demo's data: list, filters, a conversation's
waterfall and tree, the span panel, HTML in values shown as text, live updates, a phone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery
from generative_ai_toolkit.tracer.viewer._server import ViewerServer
from viewer.conftest import Browsing, open_page, serving, store
from viewer.spans import (
    BASE_NS,
    XSS_CONVERSATION,
    XSS_IMG,
    XSS_SCRIPT,
    make_span,
    many_conversations,
    turn,
)

pytestmark = pytest.mark.integration

DEMO_IDS = ["research-demo", "orders-demo", "weather-demo"]
now = time.time_ns


def list_ids(browsing: Browsing) -> list[str]:
    rows = browsing.page.locator("table.conversations tbody tr")
    return [rows.nth(i).get_attribute("data-conversation-id") or "" for i in range(rows.count())]


def wait_list(browsing: Browsing, count: int) -> None:
    browsing.page.wait_for_function(
        "n => document.body.dataset.ready === 'list' && "
        "document.querySelectorAll('table.conversations tbody tr').length === n",
        arg=count,
    )


def open_conversation(browsing: Browsing, server: ViewerServer, conversation_id: str) -> Any:
    page = browsing.page
    page.goto(f"{server.url}#/c/{conversation_id}")
    page.wait_for_selector("body[data-ready=conversation] .row")
    return page


def test_list_shows_conversations_newest_first_with_counts(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """The list shows every conversation, most recently active first, with its counts."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    assert [*DEMO_IDS, XSS_CONVERSATION] == list_ids(browse)
    orders = page.locator("tr[data-conversation-id='orders-demo'] td")
    assert ["3", "12", "1"] == [orders.nth(i).inner_text() for i in (3, 4, 5)]
    browse.shot("list")
    assert [] == browse.errors


def test_list_filters_by_search_errors_and_auth_context(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Typing in the search box, ticking errors-only or naming an auth context narrows the list."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    page.fill("#f-search", "weather")
    wait_list(browse, 1)
    assert ["weather-demo"] == list_ids(browse)
    assert "search=weather" in page.url
    page.fill("#f-search", "")
    wait_list(browse, 4)
    page.check("#f-errors")
    wait_list(browse, 1)
    assert ["orders-demo"] == list_ids(browse)
    page.uncheck("#f-errors")
    page.fill("#f-auth", "alice")
    wait_list(browse, 2)
    assert ["research-demo", "weather-demo"] == list_ids(browse)
    page.select_option("#f-range", "15m")
    wait_list(browse, 2)  # the demo ran moments ago
    browse.shot("filtered")
    page.fill("#f-auth", "nobody")
    page.wait_for_selector("p.empty")
    assert [] == browse.errors


def test_conversation_shows_turns_with_waterfall_and_tree(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Clicking a conversation shows its turns in order, each a tree with a scaled waterfall."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    page.click("text=orders-demo")
    page.wait_for_selector("body[data-ready=conversation] .row")
    turns = page.locator("section.turn")
    assert 3 == turns.count()
    assert "Where is my order A-100?" in turns.nth(0).inner_text()
    assert "And order A-999?" in turns.nth(1).inner_text()
    assert "12 spans" == page.inner_text("#span-count")
    second = turns.nth(1)
    rows = second.locator("[role=treeitem]")
    assert ["converse", "llm-invocation", "tool-invocation", "llm-invocation"] == [
        rows.nth(i).locator(".name").inner_text() for i in range(rows.count())
    ]
    assert ["1", "2", "2", "2"] == [rows.nth(i).get_attribute("aria-level") for i in range(4)]
    # Bars: coloured by kind and status, children inside their parent's time span.
    bars = second.locator(".bar")
    assert "kind-SERVER" in (bars.nth(0).get_attribute("class") or "")
    assert "kind-CLIENT" in (bars.nth(1).get_attribute("class") or "")
    assert "status-ERROR" in (bars.nth(2).get_attribute("class") or "")
    root = bars.nth(0).bounding_box()
    assert root is not None
    lefts = []
    for i in range(1, 4):
        box = bars.nth(i).bounding_box()
        assert box is not None
        assert root["x"] - 1 <= box["x"]
        assert box["x"] + box["width"] <= root["x"] + root["width"] + 1
        lefts.append(box["x"])
    assert lefts == sorted(lefts)  # in start order
    browse.shot("conversation", full_page=True)
    # The tree collapses and expands.
    second.locator("[role=treeitem][aria-level='1'] .twisty").click()
    assert 1 == second.locator("[role=treeitem]").count()
    assert "false" == second.locator("[role=treeitem]").first.get_attribute("aria-expanded")
    second.locator("[role=treeitem][aria-level='1'] .twisty").click()
    assert 4 == second.locator("[role=treeitem]").count()
    assert [] == browse.errors


def test_span_panel_shows_exception_attributes_and_messages(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """A span's panel: the exception with its traceback, every attribute (inherited ones
    marked), the LLM's message history as a chat and its tool call."""
    page = open_conversation(browse, demo_viewer, "orders-demo")
    page.click(".row.status-ERROR")
    page.wait_for_selector("#span-attributes")
    panel = page.locator("#panel")
    assert "tool-invocation" == page.inner_text("#span-title")
    assert "LookupError: order A-999 does not exist" in panel.locator(".error-box").inner_text()
    assert "Traceback (most recent call last)" in panel.locator("pre.traceback").inner_text()
    inherited = panel.locator("tr.inherited")
    assert {"ai.conversation.id", "ai.auth.context"} == {
        inherited.nth(i).get_attribute("data-key") for i in range(inherited.count())
    }
    own = panel.locator("#span-attributes tr:not(.inherited)")
    assert "ai.tool.name" in [own.nth(i).get_attribute("data-key") for i in range(own.count())]
    assert "span=" in page.url
    browse.shot("span-error")
    # The last LLM call of the turn: its history as messages, oldest first.
    page.locator("section.turn").nth(1).locator(".row").nth(3).click()
    page.wait_for_selector("#panel .chat .msg")
    messages = panel.locator(".chat .msg")
    assert 7 == messages.count()  # 4 earlier messages, the question, the tool call and its result
    assert "And order A-999?" in messages.nth(4).inner_text()
    assert "lookup_order" in messages.nth(5).locator(".toolcall").inner_text()
    assert "order A-999 does not exist" in messages.nth(6).inner_text()
    page.locator("section.turn").nth(1).locator(".row").nth(1).click()
    page.wait_for_selector("#panel .toolcall")
    assert 'lookup_order({"order_id":"A-999"})' == panel.locator(".toolcall").first.inner_text()
    browse.shot("span-llm")
    page.keyboard.press("Escape")
    assert page.locator("#panel").is_hidden()
    assert [] == browse.errors


def test_html_in_span_values_is_shown_as_text(browse: Browsing, demo_viewer: ViewerServer) -> None:
    """Script tags and attribute-breaking HTML in ids and values show as text and never run."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    assert XSS_CONVERSATION in page.inner_text("table.conversations")
    page.click(f"tr[data-conversation-id='{XSS_CONVERSATION}'] a")
    page.wait_for_selector("body[data-ready=conversation] .row")
    assert XSS_CONVERSATION == page.inner_text("main h1")
    assert XSS_SCRIPT in page.inner_text("section.turn .messages")
    page.locator(".row").nth(2).click()  # the tool span holding the attributes
    page.wait_for_selector("#span-attributes")
    values = page.locator("#span-attributes tr[data-key='note'] td.val")
    assert XSS_IMG == values.inner_text()
    assert values.is_visible()
    assert XSS_IMG == page.inner_text(f"#span-attributes tr[data-key='{XSS_SCRIPT}'] td.val")
    browse.shot("xss")
    page.wait_for_timeout(300)  # time for any injected handler to fire
    assert [] == browse.dialogs
    assert 0 == page.locator("main img, #panel img").count()
    assert 1 == page.locator("script").count()  # only app.js
    assert [] == browse.errors


def test_new_spans_appear_live_without_reload(browse: Browsing, demo_viewer: ViewerServer) -> None:
    """Spans stored while the page is open appear in it: as a new turn, inside a turn already
    shown, and as a new conversation in the list; the page never reloads."""
    page = open_conversation(browse, demo_viewer, "weather-demo")
    page.evaluate("window.stayed = true")
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    assert 3 == page.locator("section.turn").count()

    store(query.db_path, turn("weather-demo", trace=0xFEED, user_input="Live?", start_ns=now()))
    page.wait_for_selector("section.turn >> nth=3")
    assert "Live?" in page.locator("section.turn").nth(3).inner_text()
    assert "4 turns" == page.inner_text("#turn-count")

    first = page.locator("section.turn").first
    rows = first.locator(".row")
    before = rows.count()
    late = make_span(
        "late-span",
        trace=int(first.get_attribute("data-trace-id") or "", 16),
        span_id=0xABCDE,
        parent=int(rows.first.get_attribute("data-span-id") or "", 16),
        start_ns=now(),
        inherited={"ai.conversation.id": "weather-demo"},
    )
    store(query.db_path, [late])
    page.wait_for_selector("[data-span-id='00000000000abcde']")
    assert before + 1 == rows.count()
    browse.shot("live-conversation")

    page.click(".crumbs a")
    wait_list(browse, 4)
    store(query.db_path, turn("brand-new", trace=0xBEEF, start_ns=now()))
    page.wait_for_selector("tr[data-conversation-id='brand-new']")
    assert "brand-new" == list_ids(browse)[0]
    assert page.evaluate("window.stayed") is True
    assert [] == browse.errors


def test_list_of_ten_thousand_conversations_loads_one_page_at_a_time(
    browse: Browsing, tmp_path: Path
) -> None:
    """With 10,000 conversations the page asks for, and shows, 50 at a time."""
    db = tmp_path / "many.sqlite3"
    store(db, many_conversations(10_000))
    sizes: list[int] = []
    page = browse.page
    page.on(
        "response",
        lambda r: (
            sizes.append(len(r.json()["conversations"])) if "/api/conversations?" in r.url else None
        ),
    )
    with serving(SqliteQuery(db, create=False)) as server:
        page.goto(server.url)
        wait_list(browse, 50)
        assert "c-09999" == list_ids(browse)[0]
        page.click("#older")
        page.wait_for_selector("tr[data-conversation-id='c-09949']")
        assert "Page 2" == page.inner_text("#page-info")
        assert "c-09949" == list_ids(browse)[0]
        assert [50, 50] == sizes
    assert [] == browse.errors


def test_phone_width_in_dark_mode(chromium: Any, demo_viewer: ViewerServer) -> None:
    """On a phone in dark mode the pages fit the screen width and the panel covers the page."""
    browsing = open_page(chromium, "phone", width=390, height=844, dark=True)
    page = browsing.page
    try:
        page.goto(demo_viewer.url)
        wait_list(browsing, 4)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert "rgb(17, 20, 24)" == background
        browsing.shot("list")
        page.click("text=orders-demo")
        page.wait_for_selector("body[data-ready=conversation] .row")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        browsing.shot("conversation")
        page.click(".row.status-ERROR")
        page.wait_for_selector("#span-attributes")
        box = page.locator("#panel").bounding_box()
        assert box is not None
        assert 390 == box["width"]
        browsing.shot("span")
        assert [] == browsing.errors
    finally:
        page.context.close()


def selected_names(turn: Any) -> list[str]:
    return turn.locator(".row[aria-selected=true] .name").all_inner_texts()  # type: ignore[no-any-return]


def test_selecting_spans_in_one_turn_moves_the_highlight(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Clicking a second span of the same turn highlights it, and arrow keys walk every row."""
    page = open_conversation(browse, demo_viewer, "orders-demo")
    second = page.locator("section.turn").nth(1)
    rows = second.locator(".row")
    rows.nth(1).click()
    page.wait_for_selector("#span-attributes")
    rows.nth(2).click()
    page.wait_for_selector("#span-title:text-is('tool-invocation')")
    assert ["tool-invocation"] == selected_names(second)
    rows.nth(0).click()
    walked = [selected_names(second)]
    for _ in range(3):
        page.keyboard.press("ArrowDown")
        walked.append(selected_names(second))
    assert [["converse"], ["llm-invocation"], ["tool-invocation"], ["llm-invocation"]] == walked
    assert 3 == second.locator(".row").evaluate_all(
        "rows => rows.findIndex(r => r.getAttribute('aria-selected') === 'true')"
    )
    assert [] == browse.errors


def test_custom_time_range_out_of_reach_says_why(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """A custom range no store can hold shows the API's reason instead of a server error."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    page.select_option("#f-range", "custom")
    page.fill("#f-from", "9999-12-31T23:59")
    page.wait_for_selector("#list .error-box")
    assert "since is out of range" in page.inner_text("#list .error-box")
    assert "" == page.inner_text("#list-status")
    page.fill("#f-from", "2020-01-01T00:00")
    wait_list(browse, 4)


def test_ten_tabs_all_load_open_spans_and_update(chromium: Any, demo_viewer: ViewerServer) -> None:
    """Ten tabs of one browser all load a conversation and a span, and all see a new turn:
    no tab holds a connection open, so the browser's six per host are never used up."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, timezone_id="UTC")
    context.set_default_timeout(15_000)
    try:
        pages = [context.new_page() for _ in range(10)]
        for page in pages:
            page.goto(f"{demo_viewer.url}#/c/weather-demo")
        for page in pages:
            page.wait_for_selector("body[data-ready=conversation] .row")
            page.wait_for_selector("#live[data-state=on]")
        for page in pages:  # a plain click event: background tabs draw no frames to wait for
            page.locator(".row").nth(1).dispatch_event("click")
        for page in pages:
            page.wait_for_selector("#span-attributes")
        query = demo_viewer.query
        assert isinstance(query, SqliteQuery)
        store(query.db_path, turn("weather-demo", trace=0xFEED, user_input="Ten?", start_ns=now()))
        for page in pages:
            page.wait_for_selector("section.turn >> nth=3")
            assert "4 turns" == page.inner_text("#turn-count")
    finally:
        context.close()


def test_stopped_server_is_shown_in_words_and_the_page_recovers(
    browse: Browsing, demo_db: Path
) -> None:
    """When the server stops the badge says so in words; once it is back the page recovers
    by itself, even a list that failed to load meanwhile."""
    page = browse.page
    query = SqliteQuery(demo_db, create=False)
    try:
        with serving(query) as first:
            port = first.server_address[1]
            page.goto(first.url)
            wait_list(browse, 4)
            page.wait_for_selector("#live[data-state=on]")
            assert "live" == page.inner_text("#live")
        page.wait_for_selector("#live[data-state=off]")
        assert "offline" == page.inner_text("#live")
        page.fill("#f-search", "weather")
        page.wait_for_selector("#list .error-box")
        with serving(query, port=port):
            page.wait_for_selector("#live[data-state=on]")
            wait_list(browse, 1)
            assert ["weather-demo"] == list_ids(browse)
    finally:
        query.close()


def test_auth_context_chip_only_when_known_and_also_for_live_conversations(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """A conversation without auth context shows no auth chip (never "null"); one whose
    spans arrive while its page is open gets its auth chip with them."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    unknown = {"ai.conversation.id": "no-auth", "ai.auth.context": None}
    store(query.db_path, [make_span("converse", trace=0xA0, span_id=1, attributes=unknown)])
    page = open_conversation(browse, demo_viewer, "no-auth")
    chips = page.inner_text("#conversation-chips")
    assert "auth" not in chips
    assert "null" not in chips
    page.goto(f"{demo_viewer.url}#/c/late-comer")
    page.wait_for_selector("#no-spans")
    store(query.db_path, turn("late-comer", trace=0xA1, auth="dora", start_ns=now()))
    page.wait_for_selector("section.turn .row")
    page.wait_for_selector("#conversation-chips .chip:text-is('auth dora')")
    page.goto(demo_viewer.url)
    wait_list(browse, 6)
    assert "\u2013" == page.inner_text("tr[data-conversation-id='no-auth'] td >> nth=1")
    assert [] == [e for e in browse.errors if "404 (Not Found)" not in e]  # late-comer at first


def test_odd_addresses_and_ids_stay_usable(browse: Browsing, demo_viewer: ViewerServer) -> None:
    """A malformed address says so and links back; an empty conversation id is a visible link
    that opens its spans; a 5,000-character id makes a heading of a few lines, not a wall."""
    page = browse.page
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    long_id = "x" * 5000
    store(
        query.db_path,
        [
            make_span("converse", trace=0xB0, span_id=1, attributes={"ai.conversation.id": ""}),
            make_span(
                "converse", trace=0xB1, span_id=2, attributes={"ai.conversation.id": long_id}
            ),
        ],
    )
    page.goto(f"{demo_viewer.url}#/c/%E0%A4%A")
    page.wait_for_selector("body[data-ready=bad]")
    assert "This address is not valid" == page.inner_text("main h1")
    assert [] == browse.errors
    page.click(".crumbs a")
    wait_list(browse, 6)
    empty = page.locator("tr[data-conversation-id=''] a")
    assert "(empty id)" == empty.inner_text()
    box = empty.bounding_box()
    assert box is not None
    assert box["width"] > 20
    empty.click()
    page.wait_for_selector("body[data-ready=conversation] .row")
    assert "1 turn" == page.inner_text("#turn-count")
    page.goto(f"{demo_viewer.url}#/c/{long_id}")
    page.wait_for_selector("body[data-ready=conversation] .row")
    heading = page.locator("main h1").bounding_box()
    assert heading is not None
    assert heading["height"] < 120
    assert long_id == page.locator("main h1").get_attribute("title")
    assert [] == browse.errors


BEDROCK_CHAT = [
    {"role": "user", "content": [{"text": "Where is order A-1?"}]},
    {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"id": "A-1"}}}],
    },
    {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "t1", "content": [{"json": {"at": "depot"}}]}},
            {
                "toolResult": {
                    "toolUseId": "t2",
                    "content": [{"text": "timed out"}],
                    "status": "error",
                }
            },
        ],
    },
]


def test_bedrock_tool_results_read_like_tool_calls(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Bedrock toolResult blocks show as the tool's name and result (failures marked), like
    toolUse blocks, never as raw JSON; token counts show as input/output."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    attributes = {
        "ai.conversation.id": "bedrock",
        "ai.llm.request.messages": BEDROCK_CHAT,
        "ai.llm.response.usage": {"inputTokens": 12, "outputTokens": 6},
    }
    store(
        query.db_path, [make_span("llm-invocation", trace=0xC0, span_id=1, attributes=attributes)]
    )
    page = open_conversation(browse, demo_viewer, "bedrock")
    assert "tokens 12/6" in page.inner_text(".row .tag")
    page.click(".row")
    page.wait_for_selector("#panel .chat .msg")
    assert 'lookup({"id":"A-1"})' == page.inner_text("#panel .toolcall")
    results = page.locator("#panel .toolresult")
    assert ['lookup: {"at":"depot"}', "tool failed: timed out"] == results.all_inner_texts()
    assert "is-error" in (results.nth(1).get_attribute("class") or "")
    assert 0 == page.locator("#panel .chat pre.value").count()
    assert [] == browse.errors


def test_search_ignores_case_and_a_trace_id_opens_its_turn(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Search finds ids in any case; a trace id typed in the trace box opens its conversation
    with the trace's root span selected; an id that is not one, or unknown, says so."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    page.fill("#f-search", "WEATHER")
    wait_list(browse, 1)
    assert ["weather-demo"] == list_ids(browse)
    page.fill("#f-trace", "not-a-trace")
    page.press("#f-trace", "Enter")
    page.wait_for_selector("#trace-hint:text-is('A trace id is 32 hex digits.')")
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    spans = query.conversation_spans("orders-demo")
    trace_id = f"{spans[-1]._trace_id:032x}"
    root = next(s for s in spans if s._trace_id == spans[-1]._trace_id and not s._parent_id)
    page.fill("#f-trace", trace_id.upper())
    page.press("#f-trace", "Enter")
    page.wait_for_selector("body[data-ready=conversation] .row[aria-selected=true]")
    assert f"#/c/orders-demo?span={trace_id}-{root._span_id:016x}" in page.url
    page.wait_for_selector("#span-title:text-is('converse')")
    page.goto(f"{demo_viewer.url}#/t/{'0' * 31}1")
    page.wait_for_selector("main .error-box:text-is('No trace has this id.')")


def test_times_follow_one_rule_local_with_the_zone_named_and_utc_in_tooltips(
    chromium: Any, demo_viewer: ViewerServer
) -> None:
    """The list, turn headers and span panel all show times in the browser's zone (named in
    the top bar), each with the exact UTC time as its tooltip."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    store(query.db_path, turn("new-york", trace=0xD0, start_ns=BASE_NS))  # 20:24:45 UTC
    context = chromium.new_context(timezone_id="America/New_York")  # UTC-04:00 in April
    page = context.new_page()
    try:
        page.goto(f"{demo_viewer.url}#/?search=new-york")
        page.wait_for_selector("tr[data-conversation-id='new-york']")
        assert "Times in America/New_York" == page.inner_text("#zone")
        cell = page.locator("tr[data-conversation-id='new-york'] td").nth(2)
        assert cell.inner_text().startswith("2025-04-15 16:24:45")
        assert "2025-04-15T20:24:45.001000Z (UTC)" == cell.get_attribute("title")
        page.click("text=new-york")
        page.wait_for_selector("body[data-ready=conversation] .row")
        when = page.locator("section.turn .when")
        assert ("2025-04-15 16:24:45", "2025-04-15T20:24:45.000000Z (UTC)") == (
            when.inner_text(),
            when.get_attribute("title"),
        )
        page.click(".row")
        started = page.locator("#panel dl.meta dd span").first
        started.wait_for()
        assert ("2025-04-15 16:24:45.000000", "2025-04-15T20:24:45.000000Z (UTC)") == (
            started.inner_text(),
            started.get_attribute("title"),
        )
    finally:
        context.close()


FITS = """el => {
  const box = el.getBoundingClientRect();
  const label = el.closest('.label').getBoundingClientRect();
  return el.scrollWidth <= el.clientWidth + 1 && box.width > 0 && box.right <= label.right + 1;
}"""


def test_row_labels_keep_error_badges_tokens_and_tool_names_in_view(
    chromium: Any, demo_viewer: ViewerServer
) -> None:
    """On a phone the error badge and tool labels show whole; on a laptop with the panel open
    span names are not cut; a long model id gives way to the token counts."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    attributes = {
        "ai.conversation.id": "long-model",
        "ai.llm.request.model.id": "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/"
        "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "ai.llm.response.usage": {"inputTokens": 1234, "outputTokens": 56},
    }
    store(
        query.db_path, [make_span("llm-invocation", trace=0xE0, span_id=1, attributes=attributes)]
    )
    phone = open_page(chromium, "labels-phone", width=390, height=844)
    laptop = open_page(chromium, "labels-laptop", width=1280, height=800)
    try:
        page = open_conversation(phone, demo_viewer, "orders-demo")
        error_row = page.locator(".row.status-ERROR")
        assert error_row.locator(".badge.error").evaluate(FITS)
        assert "lookup_order" == error_row.locator(".tag").inner_text()
        assert error_row.locator(".tag").evaluate(FITS)
        phone.shot("labels")
        page = open_conversation(laptop, demo_viewer, "orders-demo")
        page.click(".row.status-ERROR")
        page.wait_for_selector("#span-attributes")
        names = page.locator("section.turn >> nth=1").locator(".row .name")
        laptop.shot("labels-with-panel")
        assert all(names.nth(i).evaluate(FITS) for i in range(names.count()))
        for browsing in (phone, laptop):
            page = open_conversation(browsing, demo_viewer, "long-model")
            tokens = page.locator(".row .tokens")
            assert "tokens 1234/56" == tokens.inner_text()
            assert tokens.evaluate(FITS)
    finally:
        phone.page.context.close()
        laptop.page.context.close()


def test_a_long_conversation_keeps_only_turns_near_the_screen_drawn(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Of 250 turns only those near the screen have rows in the page: scrolling to the end
    draws the last turns and lets the first ones go, keeping their place and selection."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    spans = [
        span
        for t in range(250)
        for span in turn("long-talk", trace=0x1000 + t, start_ns=BASE_NS + t * 10**9)
    ]
    store(query.db_path, spans)
    page = open_conversation(browse, demo_viewer, "long-talk")
    assert 250 == page.locator("section.turn").count()
    first = page.locator("section.turn").first
    first.locator(".row").nth(1).click()
    page.wait_for_selector("#span-attributes")
    page.evaluate("document.activeElement.blur()")  # a focused turn stays drawn
    assert page.locator(".trace-grid").count() < 25
    assert page.evaluate("document.getElementsByTagName('*').length") < 8000
    assert 1 == page.evaluate("performance.getEntriesByName('gat-interactive').length")
    last = page.locator("section.turn").last
    last.scroll_into_view_if_needed()
    last.locator(".row").first.wait_for()
    page.wait_for_function(
        "() => document.querySelector('section.turn .trace').children.length === 0"
    )
    assert page.locator(".trace-grid").count() < 25
    first.scroll_into_view_if_needed()
    first.locator(".row").first.wait_for()
    assert 1 == first.locator(".row[aria-selected=true]").count()
    assert [] == browse.errors
