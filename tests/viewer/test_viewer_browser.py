"""The viewer in headless Chromium, over the demo's data: list, filters, a conversation's
waterfall and tree, the span panel, HTML in values shown as text, live updates, a phone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery
from generative_ai_toolkit.tracer.viewer._server import ViewerServer
from viewer.conftest import (
    Browsing,
    list_ids,
    open_conversation,
    open_page,
    serving,
    store,
    wait_list,
)
from viewer.spans import (
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
    # The first LLM call's output: Bedrock's {"message": ...} asking for the tool (the demo's
    # model runs behind a real boto3 client since instrument_bedrock).
    page.wait_for_selector("#panel .io:has-text('A-999')")
    output = panel.locator(".io").inner_text()
    assert "lookup_order" in output
    assert "A-100" not in output
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
    scripts = page.locator("script").evaluate_all("all => all.map(s => s.getAttribute('src'))")
    assert ["/static/extras.js", "/static/compare.js", "/static/app.js"] == scripts  # only ours
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
