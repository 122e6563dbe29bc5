"""How the viewer shows things, in headless Chromium: times, row labels at every width, tool
results, case-insensitive search and opening a trace by id, a time range out of reach."""

from __future__ import annotations

from typing import Any

import pytest

from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery
from generative_ai_toolkit.tracer.viewer._server import ViewerServer
from viewer.conftest import (
    Browsing,
    list_ids,
    open_conversation,
    open_page,
    store,
    wait_list,
)
from viewer.spans import BASE_NS, make_span, turn

pytestmark = pytest.mark.integration


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
    """Search finds ids in any case; a trace id typed in the top bar's trace box opens its
    conversation with the trace's root span selected; an id that is not one, or unknown, says
    so."""
    page = browse.page
    page.goto(demo_viewer.url)
    wait_list(browse, 4)
    page.fill("#f-search", "WEATHER")
    wait_list(browse, 1)
    assert ["weather-demo"] == list_ids(browse)
    page.fill("#jump-id", "not-a-trace")
    page.press("#jump-id", "Enter")
    assert "A trace id is 32 hex digits." == page.evaluate(
        "document.getElementById('jump-id').validationMessage"
    )
    query = demo_viewer.query
    assert isinstance(query, SqliteQuery)
    spans = query.conversation_spans("orders-demo")
    trace_id = f"{spans[-1]._trace_id:032x}"
    root = next(s for s in spans if s._trace_id == spans[-1]._trace_id and not s._parent_id)
    page.fill("#jump-id", trace_id.upper())
    page.press("#jump-id", "Enter")
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
