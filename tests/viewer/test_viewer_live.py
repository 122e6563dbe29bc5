"""The viewer in headless Chromium while spans arrive and servers come and go: ten tabs at
once, a server stopped and restarted, a conversation that appears while open, 250 turns."""

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
    serving,
    store,
    wait_list,
)
from viewer.spans import BASE_NS, make_span, turn

pytestmark = pytest.mark.integration

now = time.time_ns


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


def test_an_open_conversation_catches_up_after_the_server_restarts(
    browse: Browsing, demo_db: Path
) -> None:
    """Spans stored while the server was down appear once it is back, without a reload."""
    page = browse.page
    query = SqliteQuery(demo_db, create=False)
    try:
        with serving(query) as first:
            port = first.server_address[1]
            page = open_conversation(browse, first, "weather-demo")
            page.evaluate("window.stayed = true")
            page.wait_for_selector("#live[data-state=on]")
        page.wait_for_selector("#live[data-state=retry], #live[data-state=off]")
        assert page.inner_text("#live") in ("reconnecting…", "offline")
        store(demo_db, turn("weather-demo", trace=0xFACE, user_input="Back?", start_ns=now()))
        with serving(query, port=port):
            page.wait_for_selector("section.turn >> nth=3")
            assert "Back?" in page.locator("section.turn").nth(3).inner_text()
            assert "live" == page.inner_text("#live")
        assert page.evaluate("window.stayed") is True
    finally:
        query.close()


def test_a_live_update_leaves_the_focus_and_the_selected_row_in_the_tree(
    browse: Browsing, tmp_path: Path
) -> None:
    """Keyboard users keep their place: a span arriving in the turn they are in draws it again,
    and its tree still has the focus and the same selected row, and the arrow keys go on."""
    path = tmp_path / "traces.sqlite3"
    store(path, turn("focus-1", trace=1))
    query = SqliteQuery(path, create=False)
    try:
        with serving(query) as server:
            page = open_conversation(browse, server, "focus-1")
            page.wait_for_selector("#live[data-state=on]")
            page.locator(".row").nth(1).click()
            tree = page.locator("[role=tree]")
            selected = tree.get_attribute("aria-activedescendant")
            assert selected
            context = {"ai.conversation.id": "focus-1", "ai.auth.context": "alice"}
            late = make_span("late", trace=1, span_id=1999, parent=1000, inherited=context)
            store(path, [late])
            page.wait_for_selector(f'.row[data-span-id="{1999:016x}"]')
            assert "tree" == page.evaluate("document.activeElement.getAttribute('role')")
            assert selected == tree.get_attribute("aria-activedescendant")
            page.keyboard.press("ArrowDown")
            assert selected != tree.get_attribute("aria-activedescendant")
            assert not browse.errors
    finally:
        query.close()
