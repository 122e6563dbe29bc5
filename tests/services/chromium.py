"""Debian's headless Chromium, as the viewer's browser tests and benchmark launch it.

Installed by ``scripts/test`` (``apt-get install chromium``); driven by Playwright with
``executable_path`` (a test tool's own browser download does not work here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

CHROMIUM: Final = Path("/usr/bin/chromium")
#: Without the background-networking flags Chromium keeps dialling out of a machine with no
#: network; Playwright adds --headless and a fresh --user-data-dir itself.
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
