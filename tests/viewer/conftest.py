"""Fixtures for the viewer tests: the demo's data, servers on 127.0.0.1, headless Chromium."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from generative_ai_toolkit.tracer import SqliteTracer, Trace, TraceQuery
from generative_ai_toolkit.tracer.demo import main as demo_main
from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery
from generative_ai_toolkit.tracer.viewer._server import ViewerServer
from services.chromium import CHROMIUM, CHROMIUM_ARGS
from viewer.spans import BASE_NS, xss_turn

ARTIFACTS: Final = Path(__file__).resolve().parents[2] / "test-artifacts" / "viewer"
DEMO_TAG: Final = "demo"


def store(path: Path, spans: Iterable[Trace]) -> None:
    """Write ``spans`` into the SQLite file at ``path`` and wait until they are stored."""
    tracer = SqliteTracer(path)
    try:
        for span in spans:
            tracer.persist(span)
        tracer.flush()
    finally:
        tracer.shutdown()


def make_demo_db(path: Path) -> Path:
    """The demo's three conversations (tag ``demo``) plus one whose values are HTML."""
    with contextlib.redirect_stdout(io.StringIO()):
        assert 0 == demo_main(
            ["--db", str(path), "--quiet", "--tag", DEMO_TAG, "--latency", "0.002"]
        )
    store(path, xss_turn(trace=0xA11CE, start_ns=BASE_NS))
    return path


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_db(tmp_path_factory.mktemp("demo") / "traces.sqlite3")


@pytest.fixture
def demo_db(demo_db_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo database, for tests that write to it."""
    target = tmp_path / "traces.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(demo_db_template) + suffix)
        if source.exists():
            shutil.copy(source, str(target) + suffix)
    return target


@contextlib.contextmanager
def serving(query: TraceQuery, **options: Any) -> Iterator[ViewerServer]:
    """A viewer over ``query`` on 127.0.0.1 and a free port (or ``port=``), stopped afterwards."""
    options = {"port": 0, "poll_interval": 0.1, "title": "test", **options}
    server = ViewerServer(query, **options).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def demo_viewer(demo_db: Path) -> Iterator[ViewerServer]:
    query = SqliteQuery(demo_db, create=False)
    with serving(query) as server:
        yield server
    query.close()


# -- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never Playwright's own download).

    Package-scoped: Playwright's sync API keeps an event loop running on this thread while it
    is open, so tests outside tests/viewer that call ``asyncio.run`` must not run inside it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Browsing:
    """One page in a fresh browser context, with what it reported."""

    page: Any
    name: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, label: str, *, full_page: bool = False) -> Path:
        """Keep a screenshot in ``test-artifacts/viewer/``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def open_page(
    chromium: Any, name: str, *, width: int = 1280, height: int = 800, dark: bool = False
) -> Browsing:
    context = chromium.new_context(
        viewport={"width": width, "height": height},
        color_scheme="dark" if dark else "light",
        locale="en-GB",
        timezone_id="UTC",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    browsing = Browsing(page=page, name=name)

    def on_dialog(dialog: Any) -> None:
        browsing.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: browsing.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: browsing.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    return browsing


@pytest.fixture
def browse(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """A fresh page (1280x800, light); closed afterwards."""
    browsing = open_page(chromium, request.node.name)
    yield browsing
    browsing.page.context.close()


# -- pages ----------------------------------------------------------------------------------------


def list_ids(browsing: Browsing) -> list[str]:
    """The conversation ids in the list, top to bottom."""
    rows = browsing.page.locator("table.conversations tbody tr")
    return [rows.nth(i).get_attribute("data-conversation-id") or "" for i in range(rows.count())]


def wait_list(browsing: Browsing, count: int) -> None:
    """Wait until the list shows ``count`` rows."""
    browsing.page.wait_for_function(
        "n => document.body.dataset.ready === 'list' && "
        "document.querySelectorAll('table.conversations tbody tr').length === n",
        arg=count,
    )


def open_conversation(browsing: Browsing, server: ViewerServer, conversation_id: str) -> Any:
    """Open a conversation and wait for its first rows; the page."""
    page = browsing.page
    page.goto(f"{server.url}#/c/{conversation_id}")
    page.wait_for_selector("body[data-ready=conversation] .row")
    return page
