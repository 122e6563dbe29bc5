"""Regenerate the viewer's screenshots in ``docs/``: ``viewer.png``, ``viewer-explore.png`` and
``viewer-compare.png``.

Run it after ``scripts/test`` (which installs Debian's Chromium and the test extras):

    .venv/bin/python scripts/screenshots.py

It records the demo's three conversations (tag ``docs``) into a temporary SQLite file with the
demo's pricing table, serves them with the viewer on 127.0.0.1 (a free port), and drives
Chromium through Playwright at 1360 x 820, light scheme, times in UTC.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402 - after the path is set

from generative_ai_toolkit.tracer.demo import main as demo_main  # noqa: E402
from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery  # noqa: E402
from generative_ai_toolkit.tracer.viewer._server import ViewerServer  # noqa: E402
from services.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

DOCS = ROOT / "docs"
TAG = "docs"
#: Scrolls the span panel (only) so that ``heading`` is at its top.
SCROLL_PANEL_TO = """heading => {
  let box = heading.parentElement;
  while (box.scrollHeight <= box.clientHeight) box = box.parentElement;
  const above = heading.getBoundingClientRect().top - box.getBoundingClientRect().top;
  box.scrollTop += above - 8;
}"""


def shoot(page: Any, name: str) -> None:
    page.mouse.move(0, 0)  # no row left highlighted under the pointer
    page.screenshot(path=str(DOCS / name))


def conversation(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}#/c/{name}-{TAG}")
    page.wait_for_selector("body[data-ready=conversation] .row")


def overview(page: Any, url: str) -> None:
    """A conversation's turns as waterfalls, with its failed tool call open in the panel."""
    conversation(page, url, "orders")
    page.locator(".row.status-ERROR").first.click()
    page.wait_for_selector("#span-attributes")
    shoot(page, "viewer.png")


def explore(page: Any, url: str) -> None:
    """A turn found by "search_notes" and zoomed in; the span panel's chat and JSON trees."""
    conversation(page, url, "research")
    find = page.locator("section.turn input.find").first
    find.fill("search_notes")
    page.locator("section.turn button.zoom-in").first.click()
    page.locator("section.turn").first.locator(".row[data-kind=CLIENT]").last.click()
    page.wait_for_selector("#span-attributes")
    page.locator("#panel h3", has_text="Messages").first.evaluate(SCROLL_PANEL_TO)
    shoot(page, "viewer-explore.png")


def compare(page: Any, url: str) -> None:
    """Two of the demo's conversations side by side."""
    page.goto(f"{url}#/compare?a=orders-{TAG}&b=weather-{TAG}")
    page.wait_for_selector("#compare-totals")
    shoot(page, "viewer-compare.png")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "traces.sqlite3"
        with contextlib.redirect_stdout(io.StringIO()):
            demo_main(["--db", str(db), "--quiet", "--tag", TAG, "--latency", "0.002"])
        query = SqliteQuery(db, create=False)
        server = ViewerServer(
            query, port=0, title="traces.sqlite3", pricing=Path(tmp) / "demo-pricing.json"
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(
                    viewport={"width": 1360, "height": 820},
                    color_scheme="light",
                    locale="en-GB",
                    timezone_id="UTC",
                )
                for scene in (overview, explore, compare):
                    scene(page, server.url)
                browser.close()
        finally:
            server.shutdown()
            query.close()
    for name in ("viewer.png", "viewer-explore.png", "viewer-compare.png"):
        print(f"wrote {DOCS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
