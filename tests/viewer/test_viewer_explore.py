"""Exploring traces in headless Chromium, keyboard first: finding and filtering a turn's spans,
zooming and panning the waterfall, the span breadcrumb, JSON trees and copy buttons, long chats,
sortable list columns, the compare view, opening a trace from the top bar, phone-width labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery
from generative_ai_toolkit.tracer.viewer._server import ViewerServer
from values.test_rollups_everywhere import PRICING
from values.test_rollups_everywhere import SPANS as USAGE_SPANS
from viewer.conftest import (
    Browsing,
    list_ids,
    open_conversation,
    open_page,
    serving,
    store,
    wait_list,
)
from viewer.spans import BASE_NS, make_span, turn

pytestmark = pytest.mark.integration

DASH, MINUS = "\u2013", "\u2212"  # as the page writes ranges and differences
FINDER = "finder"
FINDER_TRACE = 0xF1


def store_finder(server: ViewerServer) -> None:
    """One turn: converse > llm-invocation, tool-invocation (customer.tier = Gold), retry
    (failed)."""
    query = server.query
    assert isinstance(query, SqliteQuery)
    spans = turn(FINDER, trace=FINDER_TRACE, start_ns=BASE_NS, extra={"customer.tier": "Gold"})
    failed = make_span(
        "retry",
        trace=FINDER_TRACE,
        span_id=FINDER_TRACE * 1000 + 3,
        parent=FINDER_TRACE * 1000,
        start_ns=BASE_NS + 750_000,
        duration_ns=100_000,
        status="ERROR",
        inherited={"ai.conversation.id": FINDER},
    )
    store(query.db_path, [*spans, failed])


def tab_to(page: Any, selector: str, *, limit: int = 80, back: bool = False) -> None:
    """Press Tab (Shift+Tab) until the focus is on an element matching ``selector``."""
    wanted = page.locator(selector).first
    for _ in range(limit):
        if wanted.evaluate("e => e === document.activeElement"):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"Tab never reached {selector}")


def row_names(page: Any) -> list[str]:
    return page.locator("section.turn .row .name").all_inner_texts()  # type: ignore[no-any-return]


def test_finding_spans_by_name_attribute_and_errors_with_the_keyboard(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """The find box filters a turn's spans by name, attribute key or value (any case), or to
    the failed ones; matches keep their ancestors (dimmed); Enter selects the next match."""
    store_finder(demo_viewer)
    page = open_conversation(browse, demo_viewer, FINDER)
    status = page.locator(".find-status")
    tab_to(page, ".find")
    page.keyboard.type("LLM-INV")
    page.wait_for_selector(".find-status:text-matches('^1 of 4 spans match$')")
    assert ["converse", "llm-invocation"] == row_names(page)
    assert "context" in (page.locator(".row").nth(0).get_attribute("class") or "")
    assert "match" in (page.locator(".row").nth(1).get_attribute("class") or "")
    for text in ("customer.TIER", "gold"):  # an attribute's key, then its value
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
        page.wait_for_selector(".find-status:text-is('1 of 4 spans match')")
        assert ["converse", "tool-invocation"] == row_names(page)
    page.keyboard.press("Enter")
    page.wait_for_selector("#span-title:text-is('tool-invocation')")
    assert ["tool-invocation"] == page.locator(".row[aria-selected=true] .name").all_inner_texts()
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    page.wait_for_function("() => document.querySelectorAll('section.turn .row').length === 4")
    assert "" == status.inner_text()
    page.keyboard.press("Tab")  # to "Errors only"
    page.keyboard.press("Space")
    page.wait_for_selector(".find-status:text-is('1 of 4 spans match')")
    assert ["converse", "retry"] == row_names(page)
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("nothing-like-this")
    page.wait_for_selector(".find-status:text-is('No span matches')")
    assert [] == browse.errors


def test_a_live_span_joins_the_filter_and_the_find_box_keeps_the_focus(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """A span stored while a turn is filtered shows when it matches, and the find box being
    typed in keeps the focus and its text while the turn is drawn again."""
    store_finder(demo_viewer)
    page = open_conversation(browse, demo_viewer, FINDER)
    page.locator(".find").click()
    page.keyboard.type("late")
    page.wait_for_selector(".find-status:text-is('No span matches')")
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    late = make_span(
        "late-step",
        trace=FINDER_TRACE,
        span_id=FINDER_TRACE * 1000 + 9,
        parent=FINDER_TRACE * 1000,
        start_ns=BASE_NS + 900_000,
        duration_ns=50_000,
        inherited={"ai.conversation.id": FINDER},
    )
    store(query.db_path, [late])
    page.wait_for_selector(".row.match .name:text-is('late-step')")
    assert ["converse", "late-step"] == row_names(page)
    assert "1 of 5 spans match" == page.inner_text(".find-status")
    assert page.evaluate("document.activeElement.classList.contains('find')")
    page.keyboard.type("-st")
    assert "late-st" == page.input_value(".find")
    assert [] == browse.errors


def ticks(page: Any) -> list[str]:
    return page.locator("section.turn .ruler .tick").all_inner_texts()  # type: ignore[no-any-return]


def test_zooming_and_panning_the_waterfall_by_drag_keys_and_buttons(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Dragging across the timeline zooms into that range (selecting no span); + and - zoom
    around the selected span, Shift+arrows pan, 0 and Reset show the whole turn again."""
    store_finder(demo_viewer)
    page = open_conversation(browse, demo_viewer, FINDER)
    assert ["0ns", "250µs", "500µs", "750µs", "1.00ms"] == ticks(page)
    box = page.locator("section.turn .ruler .ticks").bounding_box()
    assert box is not None
    y = box["y"] + 60  # over the rows' tracks
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=4)
    page.mouse.up()
    shown = ticks(page)
    assert ("500µs", "750µs") == (shown[0], shown[-1])
    assert f"500µs {DASH} 750µs of 1.00ms" == page.inner_text(".zoom-text")
    assert 0 == page.locator(".row[aria-selected=true]").count()
    assert page.locator("#panel").is_hidden()
    page.click("button.zoom-reset")
    assert "0ns" == ticks(page)[0]
    assert page.locator("button.zoom-reset").is_disabled()
    # The keyboard: select the tool span, zoom in twice around it, pan, reset.
    page.locator(".row").nth(2).click()
    page.keyboard.press("+")
    page.keyboard.press("+")
    shown = ticks(page)  # twice half as wide, the span's middle (600µs) where it was
    assert ("450µs", "700µs") == (shown[0], shown[-1])
    page.keyboard.press("Shift+ArrowRight")  # a quarter of the window
    assert f"513µs {DASH} 763µs of 1.00ms" == page.inner_text(".zoom-text")
    page.keyboard.press("-")
    assert f"425µs {DASH} 925µs of 1.00ms" == page.inner_text(".zoom-text")
    page.keyboard.press("0")
    assert "0ns" == ticks(page)[0]
    page.keyboard.press("/")  # from the tree to its find box
    assert page.evaluate("document.activeElement.classList.contains('find')")
    # The buttons are in the tab order.
    tab_to(page, "button.zoom-in")
    page.keyboard.press("Enter")
    assert f"300µs {DASH} 800µs of 1.00ms" == page.inner_text(".zoom-text")  # around the span
    assert [] == browse.errors


def test_span_panel_breadcrumb_selects_ancestors(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """A span's panel starts with its ancestors, root first; each one selects that span."""
    page = open_conversation(browse, demo_viewer, "research-demo")
    first = page.locator("section.turn").first
    first.locator(".row").nth(4).click()  # the sub-agent's first LLM call
    page.wait_for_selector("#panel .span-path")
    crumbs = page.locator("#panel .span-path li")
    assert [
        "converse · assistant",
        "tool-invocation · research",
        "converse · researcher",
    ] == crumbs.locator("button").all_inner_texts()
    assert "llm-invocation" in (crumbs.last.inner_text())
    assert "location" == crumbs.last.get_attribute("aria-current")
    tab_to(page, "#panel .span-path button >> nth=1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#span-title:text-is('tool-invocation')")
    assert ["tool-invocation"] == first.locator(".row[aria-selected=true] .name").all_inner_texts()
    assert [] == browse.errors


def test_copy_buttons_and_json_trees(chromium: Any, demo_viewer: ViewerServer) -> None:
    """Trace id, span id and every attribute value have a copy button; an object value is a
    tree whose nodes fold with the keyboard; text holding JSON is a tree too."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    attributes = {
        "ai.conversation.id": "json",
        "order": {"id": "A-1", "lines": [{"sku": "x", "qty": 2}], "paid": True, "note": None},
        "raw": '{"k": [1, 2]}',
    }
    store(
        query.db_path, [make_span("tool-invocation", trace=0xA0, span_id=1, attributes=attributes)]
    )
    browsing = open_page(chromium, "copy-and-trees")
    page = browsing.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        open_conversation(browsing, demo_viewer, "json")
        page.click(".row")
        page.wait_for_selector("#span-attributes")
        tree = page.locator("tr[data-key='order'] .json-tree")
        assert ("0", "region", "order") == (
            tree.get_attribute("tabindex"),
            tree.get_attribute("role"),
            tree.get_attribute("aria-label"),
        )
        assert "{4 keys}" in tree.locator("summary").first.inner_text()
        assert '"A-1"' in tree.inner_text()
        lines = tree.locator("details details").first  # "lines": [1 item], open (small)
        assert lines.get_attribute("open") is not None
        lines.locator("summary").first.focus()
        page.keyboard.press("Enter")
        assert lines.get_attribute("open") is None
        assert "[1 item]" in lines.inner_text()
        raw = page.locator("tr[data-key='raw'] .json-tree")
        assert "JSON text" in raw.inner_text()
        browsing.shot("trees")
        # Copying, by keyboard.
        trace_id = f"{0xA0:032x}"
        tab_to(page, "#panel button[aria-label='Copy trace id']")
        page.keyboard.press("Enter")
        page.wait_for_selector("#panel button[aria-label='Copy trace id']:text-is('Copied')")
        assert trace_id == page.evaluate("navigator.clipboard.readText()")
        assert "Copied trace id" == page.inner_text("#announce")
        page.click("tr[data-key='order'] button.copy")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert '"sku": "x"' in copied
        page.click("#panel button[aria-label='Copy span id']")
        page.wait_for_function(
            "() => document.getElementById('announce').textContent === 'Copied span id'"
        )
        assert f"{1:016x}" == page.evaluate("navigator.clipboard.readText()")
        assert [] == browsing.errors
    finally:
        page.context.close()


def test_long_chats_show_the_last_messages_until_show_all(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """A history of 20 messages shows its last 6 and a button that shows all 20 (the focus
    goes to the first one)."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"}
        for i in range(20)
    ]
    attributes = {"ai.conversation.id": "long-chat", "ai.llm.request.messages": history}
    store(
        query.db_path, [make_span("llm-invocation", trace=0xB2, span_id=1, attributes=attributes)]
    )
    page = open_conversation(browse, demo_viewer, "long-chat")
    page.click(".row")
    page.wait_for_selector("#panel .chat .msg")
    messages = page.locator("#panel .chat .msg")
    assert 6 == messages.count()
    assert "message 14" in messages.first.inner_text()
    tab_to(page, "#panel button.show-all")
    assert "Show all 20 messages (14 earlier)" == page.inner_text("#panel button.show-all")
    page.keyboard.press("Enter")
    assert 20 == messages.count()
    assert "message 0" in page.evaluate("document.activeElement.textContent")
    assert [] == browse.errors


def test_list_columns_sort_and_say_so(browse: Browsing, demo_viewer: ViewerServer) -> None:
    """Column headers are buttons that sort the page's rows; aria-sort names the column and
    the direction (by last activity, newest first, to begin with)."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    before = list_ids(browse)
    sorted_by = "table.conversations th[aria-sort]"
    assert ("Last activity", "descending") == (
        page.locator(sorted_by).locator("button").inner_text().strip(" ▼"),
        page.locator(sorted_by).get_attribute("aria-sort"),
    )
    tab_to(page, "th button.sort >> text=Spans")
    page.keyboard.press("Enter")
    assert "descending" == page.locator("th:has-text('Spans')").get_attribute("aria-sort")
    spans = page.locator("tbody td[data-label=Spans]").all_inner_texts()
    assert sorted(spans, key=int, reverse=True) == spans
    assert "Sorted by spans, highest first, within this page" == page.inner_text("caption")
    page.keyboard.press("Enter")
    assert "ascending" == page.locator("th:has-text('Spans')").get_attribute("aria-sort")
    assert sorted(spans, key=int) == page.locator("tbody td[data-label=Spans]").all_inner_texts()
    page.click("th button.sort >> text=Conversation")
    ids = list_ids(browse)
    assert sorted(ids) == ids
    page.click("th button.sort >> text=Last activity")
    assert before == list_ids(browse)
    assert page.locator("caption").is_hidden()
    assert [] == browse.errors


def test_at_phone_width_a_sort_by_box_sorts_the_cards(
    chromium: Any, demo_viewer: ViewerServer
) -> None:
    """Without a header row to click, "Sort by" and Reverse sort the page's cards the same
    way (keyboard included); at desktop width the box is hidden and the headers do it."""
    browsing = open_page(chromium, "sort-by-phone", width=375, height=800)
    page = browsing.page
    try:
        page.goto(demo_viewer.url)
        wait_list(browsing, 4)
        assert page.locator("table.conversations thead").is_hidden()
        page.focus("#sort-by")
        page.select_option("#sort-by", "Spans")
        spans = page.locator("tbody td[data-label=Spans]").all_inner_texts()
        assert sorted(spans, key=int, reverse=True) == spans
        tab_to(page, "button.sort-reverse")
        page.keyboard.press("Enter")
        assert (
            sorted(spans, key=int) == page.locator("tbody td[data-label=Spans]").all_inner_texts()
        )
        assert "Reverse the order (now lowest first)" == page.get_attribute(
            "button.sort-reverse", "aria-label"
        )
        page.set_viewport_size({"width": 1280, "height": 800})
        assert page.locator(".sort-by").is_hidden()
        assert "ascending" == page.locator("th:has-text('Spans')").get_attribute("aria-sort")
        assert [] == browsing.errors
    finally:
        page.context.close()


def test_compare_two_conversations_then_two_turns_by_keyboard(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """From a conversation, "Compare with…" opens the compare view with it as A; B is typed;
    totals, tool calls and turns show side by side; a turn of each compares turns."""
    page = open_conversation(browse, demo_viewer, "orders-demo")
    tab_to(page, "a.compare-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready=compare]")
    assert "orders-demo" == page.input_value("#compare-a")
    tab_to(page, "#compare-b")
    page.keyboard.type("weather-demo")
    page.keyboard.press("Enter")
    page.wait_for_selector("#compare-totals")

    def figures(metric: str) -> list[str]:
        cells = page.locator(f"#compare-totals tr[data-metric='{metric}'] td")
        return cells.all_inner_texts()  # type: ignore[no-any-return]

    assert ["3", "3", "same"] == figures("Turns")
    assert ["12", "10", f"{MINUS}2 ({MINUS}17%)"] == figures("Spans")
    assert ["1", "0", f"{MINUS}1 ({MINUS}100%)"] == figures("Errors")
    assert ["3", "2", f"{MINUS}1 ({MINUS}33%)"] == figures("Tool calls")
    assert figures("Total tokens")[0].isdigit()
    assert [DASH, DASH, DASH] == figures("Cost")  # served without a pricing table
    assert "lookup_order" in page.inner_text("#compare-tools")
    assert 3 == page.locator("#compare-turns tbody tr").count()
    browse.shot("compare")
    # One turn of each: the second of orders (the failed lookup) against weather's first.
    tab_to(page, "#compare-a-turn", back=True)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#compare-totals th:text-is('A: orders-demo, turn 2')")
    tab_to(page, "#compare-b-turn")
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#compare-totals th:text-is('B: weather-demo, turn 1')")
    assert ["1", "1", "same"] == figures("Turns")
    assert ["1", "0", f"{MINUS}1 ({MINUS}100%)"] == figures("Failed tool calls")
    assert "at=" in page.url
    assert "bt=" in page.url
    page.reload()
    page.wait_for_selector("#compare-totals th:text-is('A: orders-demo, turn 2')")
    assert [] == browse.errors


def test_compare_two_turns_tokens_and_cost_with_a_pricing_table(
    browse: Browsing, tmp_path: Path
) -> None:
    """Served with a pricing table, the compare view adds tokens (cache ones too) and cost as
    the conversation view does, a partial cost marked."""
    path = tmp_path / "usage.sqlite3"
    store(path, USAGE_SPANS)
    query = SqliteQuery(path, create=False)
    with serving(query, pricing=PRICING) as server:
        traces = sorted({s._trace_id for s in query.conversation_spans("c-1")})
        first, second = (f"{t:032x}" for t in traces)
        page = browse.page
        page.goto(f"{server.url}#/compare?a=c-1&at={first}&b=c-1&bt={second}")
        page.wait_for_selector("#compare-totals th:text-is('B: c-1, turn 2')")
        rows = page.locator("#compare-totals tbody tr")

        def figures(metric: str) -> list[str]:
            cells = rows.filter(has=page.locator(f"th:text-is('{metric}')")).locator("td")
            return cells.all_inner_texts()  # type: ignore[no-any-return]

        assert ["680", "18", f"{MINUS}662 ({MINUS}97%)"] == figures("Total tokens")
        assert ["400", "0", f"{MINUS}400 ({MINUS}100%)"] == figures("Cache read tokens")
        assert [
            "0.001395 USD",
            "≥ 0.000001 USD",
            f"{MINUS}0.001394 USD ({MINUS}100%, of partial costs)",
        ] == figures("Cost")
        assert [] == browse.errors
    query.close()


def test_a_trace_id_in_the_top_bar_opens_it_from_any_page(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """The top bar's trace box works on every page: a trace id opens its conversation with the
    root span selected; anything else says what a trace id is."""
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    spans = query.conversation_spans("weather-demo")
    trace_id = f"{spans[0]._trace_id:032x}"
    page = open_conversation(browse, demo_viewer, "orders-demo")
    tab_to(page, "#jump-id", back=True)
    page.keyboard.type("nope")
    page.keyboard.press("Enter")
    assert "A trace id is 32 hex digits." == page.evaluate(
        "document.getElementById('jump-id').validationMessage"
    )
    page.keyboard.press("Control+A")
    page.keyboard.type(trace_id.upper())
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready=conversation] .row[aria-selected=true]")
    assert "#/c/weather-demo?span=" in page.url
    assert [] == browse.errors


INSIDE_TRACK = """row => {
  const track = row.querySelector('.track').getBoundingClientRect();
  const dur = row.querySelector('.dur').getBoundingClientRect();
  return dur.left >= track.left - 0.5 && dur.right <= track.right + 0.5;
}"""


@pytest.mark.parametrize("width", [375, 1280])
def test_duration_labels_are_never_cut(
    chromium: Any, demo_viewer: ViewerServer, width: int
) -> None:
    """At phone width (375 px) and on a laptop, every bar's duration label is inside its
    track, whole, and nothing scrolls sideways."""
    browsing = open_page(chromium, f"durations-{width}", width=width, height=900)
    page = browsing.page
    try:
        for conversation in ("research-demo", "orders-demo", "weather-demo"):
            open_conversation(browsing, demo_viewer, conversation)
            rows = page.locator("section.turn .row")
            assert rows.count() >= 8
            outside = [
                rows.nth(i).locator(".name").inner_text()
                for i in range(rows.count())
                if not rows.nth(i).evaluate(INSIDE_TRACK)
            ]
            assert [] == outside, conversation
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert page.evaluate(
                "[...document.querySelectorAll('.trace-scroll')]"
                ".every(s => s.scrollWidth <= s.clientWidth)"
            )
        browsing.shot("durations")
        assert [] == browsing.errors
    finally:
        page.context.close()
