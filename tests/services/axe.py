"""axe-core, the accessibility checker the viewer's browser tests run in the page.

Installed once with npm into a cache directory outside the checkout,
``${GAT_SERVICES_DIR:-$HOME/.cache/gat-tracing}/axe``, and reused between runs (``scripts/test``
runs ``python tests/services/axe.py install``; nothing happens when it is already there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

PACKAGE: Final = "axe-core@4"


def cache_dir() -> Path:
    """Where axe-core is installed (read from the environment on each call)."""
    base = os.environ.get("GAT_SERVICES_DIR") or str(Path.home() / ".cache" / "gat-tracing")
    return Path(base).expanduser() / "axe"


def script_path() -> Path:
    """``axe.min.js`` inside the cache directory (it may not be installed yet)."""
    return cache_dir() / "node_modules" / "axe-core" / "axe.min.js"


def install() -> Path:
    """Install axe-core with npm unless it is already there; its script's path."""
    script = script_path()
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is missing: install Node.js (apt-get install npm)")
    subprocess.run(
        [npm, "install", "--prefix", str(cache_dir()), "--no-audit", "--no-fund", PACKAGE],
        check=True,
    )
    return script


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print("usage: axe.py install", file=sys.stderr)
        return 2
    print(f"axe-core ready: {install()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
