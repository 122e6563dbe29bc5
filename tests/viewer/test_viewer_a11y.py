"""The viewer's accessibility in headless Chromium: axe-core on every page, light and dark, and
keyboard focus where a person using a keyboard or a screen reader needs it."""

from __future__ import annotations

from typing import Any

import pytest

from generative_ai_toolkit.tracer.viewer._server import ViewerServer
from services.axe import script_path
from viewer.conftest import ARTIFACTS, Browsing, open_page

pytestmark = pytest.mark.integration

BLOCKING = ("serious", "critical")
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`),
  }));
}"""


def axe_page(chromium: Any, *, dark: bool) -> Any:
    """A page in its own context that may add axe-core's script (the viewer's CSP would
    refuse it: only the viewer's own scripts run there)."""
    if not script_path().exists():
        pytest.fail(f"{script_path()} is missing: run scripts/test (it installs axe-core)")
    context = chromium.new_context(
        viewport={"width": 1280, "height": 800},
        color_scheme="dark" if dark else "light",
        timezone_id="UTC",
        bypass_csp=True,
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def blocking_violations(page: Any, where: str) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(script_path()))
    found = page.evaluate(RUN_AXE)
    return [
        f"{where}: {v['id']} ({v['impact']}) at {node}"
        for v in found
        if v["impact"] in BLOCKING
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_issue_on_any_page(
    chromium: Any, demo_viewer: ViewerServer, scheme: str
) -> None:
    """The list, a conversation with a failed span, and the span panel with a traceback pass
    axe-core with no serious or critical violation, in light and in dark."""
    page = axe_page(chromium, dark=scheme == "dark")
    try:
        page.goto(demo_viewer.url)
        page.wait_for_selector("body[data-ready=list] table.conversations tbody tr")
        page.wait_for_selector("#live[data-state=on]")
        found = blocking_violations(page, "list")
        page.click("text=orders-demo")
        page.wait_for_selector("body[data-ready=conversation] .row")
        found += blocking_violations(page, "conversation")
        page.click(".row.status-ERROR")
        page.wait_for_selector("#panel pre.traceback")
        page.locator("section.turn").nth(1).locator(".row").nth(0).click()
        page.locator("section.turn").nth(1).locator(".row.status-ERROR").click()
        page.wait_for_selector("#panel pre.traceback")
        found += blocking_violations(page, "span")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"axe-{scheme}.png"))
        assert [] == found, "\n".join(found)
    finally:
        page.context.close()


def focused(page: Any) -> str:
    """What has the keyboard focus: tag, id and role."""
    return page.evaluate(  # type: ignore[no-any-return]
        "() => { const e = document.activeElement; "
        "return `${e.tagName.toLowerCase()}#${e.id}[${e.getAttribute('role') || ''}]`; }"
    )


def test_focus_follows_navigation_and_the_tree_announces_its_selection(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """Opening a page puts the focus on its heading; the tree keeps the focus while its
    selected row is named by aria-activedescendant, row by row."""
    page = browse.page
    page.goto(demo_viewer.url)
    page.wait_for_selector("body[data-ready=list] table.conversations tbody tr")
    page.click("text=orders-demo")
    page.wait_for_selector("body[data-ready=conversation] .row")
    assert "orders-demo" == page.evaluate("document.activeElement.textContent")
    assert "h1" == page.evaluate("document.activeElement.tagName.toLowerCase()")
    tree = page.locator("section.turn").nth(1).locator("[role=tree]")
    rows = tree.locator("[role=treeitem]")
    rows.nth(0).click()
    assert focused(page).endswith("[tree]")
    assert rows.nth(0).get_attribute("id") == tree.get_attribute("aria-activedescendant")
    page.keyboard.press("ArrowDown")
    assert rows.nth(1).get_attribute("id") == tree.get_attribute("aria-activedescendant")
    assert "true" == rows.nth(1).get_attribute("aria-selected")
    assert [] == browse.errors


def test_on_a_phone_the_span_panel_takes_the_focus_and_gives_it_back(
    chromium: Any, demo_viewer: ViewerServer
) -> None:
    """Where the span panel covers the screen, opening it moves the focus into it, and Esc
    closes it with the focus back on the tree."""
    browsing = open_page(chromium, "a11y-phone", width=390, height=844)
    page = browsing.page
    try:
        page.goto(f"{demo_viewer.url}#/c/orders-demo")
        page.wait_for_selector("body[data-ready=conversation] .row")
        page.click(".row.status-ERROR")
        page.wait_for_selector("#span-attributes")
        assert page.evaluate("document.getElementById('panel').contains(document.activeElement)")
        assert "tool-invocation" == page.evaluate("document.activeElement.textContent")
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('panel').contains(document.activeElement)")
        page.keyboard.press("Escape")
        assert page.locator("#panel").is_hidden()
        assert focused(page).endswith("[tree]")
        assert [] == browsing.errors
    finally:
        page.context.close()


def test_scrolling_value_boxes_are_reachable_by_keyboard(
    browse: Browsing, demo_viewer: ViewerServer
) -> None:
    """A traceback (and every value box that may scroll) is a labelled region in the tab order."""
    page = browse.page
    page.goto(f"{demo_viewer.url}#/c/orders-demo")
    page.wait_for_selector("body[data-ready=conversation] .row")
    page.click(".row.status-ERROR")
    traceback = page.locator("#panel pre.traceback")
    traceback.wait_for()
    assert ("0", "region", "Traceback") == (
        traceback.get_attribute("tabindex"),
        traceback.get_attribute("role"),
        traceback.get_attribute("aria-label"),
    )
    boxes = page.locator("#panel pre.value")
    assert boxes.count() == page.locator("#panel pre.value[tabindex='0'][aria-label]").count()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_issue_in_find_zoom_trees_sorting_and_compare(
    chromium: Any, demo_viewer: ViewerServer, scheme: str
) -> None:
    """A filtered and zoomed turn, a span panel with its breadcrumb, JSON trees and copy
    buttons, a sorted list (at phone width too) and the compare view pass axe-core, light and
    dark."""
    page = axe_page(chromium, dark=scheme == "dark")
    try:
        page.goto(f"{demo_viewer.url}#/?offset=0")
        page.wait_for_selector("body[data-ready=list] table.conversations tbody tr")
        page.click("th button.sort >> text=Spans")
        found = blocking_violations(page, "sorted list")
        page.set_viewport_size({"width": 375, "height": 800})  # cards, the Sort by box
        found += blocking_violations(page, "sorted list at phone width")
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{demo_viewer.url}#/c/research-demo")
        page.wait_for_selector("body[data-ready=conversation] .row")
        first = page.locator("section.turn").first
        first.locator(".find").fill("llm")
        first.locator(".row").nth(1).click()
        page.keyboard.press("+")
        page.wait_for_selector("#panel .span-path")
        page.wait_for_selector("#panel .json-tree")
        found += blocking_violations(page, "find, zoom, breadcrumb, trees")
        page.goto(f"{demo_viewer.url}#/compare?a=orders-demo&b=research-demo")
        page.wait_for_selector("#compare-turns")
        found += blocking_violations(page, "compare")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"axe-compare-{scheme}.png"))
        assert [] == found, "\n".join(found)
    finally:
        page.context.close()
