"""Real file-system faults for the SQLite and CLI tests: a read-only directory, damaged pages."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

Wrap = Callable[[list[str]], list[str]]


@contextlib.contextmanager
def read_only_directory(directory: Path) -> Iterator[Wrap]:
    """Makes ``directory`` read-only for the commands run through the yielded wrapper.

    An ordinary user gets ``chmod 555``. Root ignores permissions, so the command then runs in
    a private mount namespace where the directory is bind-mounted read-only (skipped where
    that is not allowed).
    """
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield lambda argv: argv
        finally:
            directory.chmod(mode)
        return
    unshare = shutil.which("unshare")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'

    def wrap(argv: list[str]) -> list[str]:
        return [str(unshare), "-m", "sh", "-c", script, str(directory), *argv]

    probe = directory / ".probe"
    if unshare is None or subprocess.run(wrap(["touch", str(probe)]), check=False).returncode == 0:
        probe.unlink(missing_ok=True)
        pytest.skip("running as root without a way to make a directory read-only")
    yield wrap


def damage_pages(path: Path) -> None:
    """Overwrite every page of a database but the first (the schema) with garbage."""
    page = 4096
    size = path.stat().st_size
    with path.open("r+b") as stream:
        stream.seek(page)
        stream.write(b"\xa5" * (size - page))
