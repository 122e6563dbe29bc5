"""Fixtures for the SQLite store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import SqliteTracer


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh database path in a temporary directory."""
    return tmp_path / "traces.sqlite3"


@pytest.fixture
def tracer(db_path: Path) -> Iterator[SqliteTracer]:
    """A SqliteTracer on a fresh file, shut down afterwards."""
    t = SqliteTracer(db_path, schedule_delay=0.01)
    yield t
    t.shutdown()
