"""Fixtures for the gat-traces command-line tests: a database of known spans and a runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import SqliteTracer
from sqlite.samples import sample_spans

Run = Callable[..., subprocess.CompletedProcess[str]]


def gat_traces_command() -> list[str]:
    """The installed console script next to this Python, else the module form."""
    script = Path(sys.executable).with_name("gat-traces")
    return (
        [str(script)] if script.exists() else [sys.executable, "-m", "generative_ai_toolkit.tracer"]
    )


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """Run gat-traces in ``tmp_path`` as a subprocess (no colour, GAT_TRACES_DB or GAT_PRICING)."""

    def run_cli(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        environ = {
            k: v
            for k, v in os.environ.items()
            if k not in ("GAT_TRACES_DB", "NO_COLOR", "GAT_PRICING")
        }
        environ.update(env or {})
        return subprocess.run(
            [*gat_traces_command(), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environ,
            timeout=timeout,
            check=False,
        )

    return run_cli


@pytest.fixture
def sample_db(tmp_path: Path) -> Path:
    """A database holding ``sample_spans()``."""
    path = tmp_path / "sample.sqlite3"
    tracer = SqliteTracer(path)
    for span in sample_spans():
        tracer._emit(span)
    tracer.shutdown()
    return path
