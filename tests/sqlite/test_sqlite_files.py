"""SqliteTracer and SqliteQuery and the file at the path: relative paths, a file deleted or
replaced while written, reading without writing, errors that name the file, and failures that
say nothing about the spans."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import SqliteTracer, Trace
from generative_ai_toolkit.tracer.sqlite import SqliteQuery, TraceDatabaseError
from generative_ai_toolkit.tracer.sqlite._schema import MIGRATIONS

from .faults import damage_pages, read_only_directory
from .samples import make_version_2_file, sample_spans, span

LOGGER = "generative_ai_toolkit.tracer"


def _spans(count: int, *, first: int = 1) -> list[Trace]:
    return [span("s", trace=n, span_id=n) for n in range(first, first + count)]


def _stored(path: Path) -> int:
    query = SqliteQuery(path, create=False)
    try:
        return query.span_count()
    finally:
        query.close()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


# -- a relative path is resolved once ----------------------------------------------------------


@pytest.mark.parametrize("how", ["argument", "environment", "default"])
def test_a_relative_path_is_resolved_once_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """After os.chdir() the spans and the reads still go to the file named at construction."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    monkeypatch.delenv("GAT_TRACES_DB", raising=False)
    if how == "environment":
        monkeypatch.setenv("GAT_TRACES_DB", "env.sqlite3")
    name = {"argument": "mine.sqlite3", "environment": "env.sqlite3", "default": "traces.sqlite3"}
    tracer = SqliteTracer("mine.sqlite3" if how == "argument" else None)
    try:
        monkeypatch.chdir(tmp_path / "second")
        for s in sample_spans():
            tracer._emit(s)
        assert len(sample_spans()) == len(tracer.get_traces())
        assert tmp_path / "first" / name[how] == tracer.db_path
    finally:
        tracer.shutdown()
    assert len(sample_spans()) == _stored(tmp_path / "first" / name[how])
    assert [] == list((tmp_path / "second").iterdir())


# -- the file deleted or replaced while written --------------------------------------------------


def test_a_file_deleted_while_written_is_created_again(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Spans written after the file (and its -wal/-shm) was deleted are at the path, and the
    deletion is logged once."""
    tracer = SqliteTracer(db_path, schedule_delay=0.01)
    try:
        for s in _spans(100):
            tracer._emit(s)
        assert tracer.flush(timeout=10)
        for p in db_path.parent.glob(db_path.name + "*"):
            p.unlink()
        with caplog.at_level(logging.WARNING, LOGGER):
            for s in _spans(4000, first=1000):
                tracer._emit(s)
            assert tracer.flush(timeout=30)
            assert 4000 == len(tracer.get_traces())
    finally:
        tracer.shutdown()
    assert 4000 == _stored(db_path)
    assert 1 == caplog.text.count("was deleted or replaced")


def test_a_file_replaced_while_written_gets_the_spans_written_after(db_path: Path) -> None:
    """Another trace database moved over the path receives the spans from then on."""
    other = db_path.with_name("other.sqlite3")
    SqliteTracer(other).shutdown()
    tracer = SqliteTracer(db_path, schedule_delay=0.01)
    try:
        for s in _spans(10):
            tracer._emit(s)
        assert tracer.flush(timeout=10)
        os.replace(other, db_path)
        for s in _spans(20, first=100):
            tracer._emit(s)
        assert tracer.flush(timeout=10)
        assert 20 == len(tracer.get_traces())
    finally:
        tracer.shutdown()
    assert 20 == _stored(db_path)


# -- readers never write --------------------------------------------------------------------------


def test_reading_an_empty_file_is_an_error_that_leaves_it_empty(tmp_path: Path) -> None:
    """A 0-byte file is not turned into a database (no schema, no -wal, no -shm)."""
    path = tmp_path / "empty.sqlite3"
    path.touch()
    with pytest.raises(TraceDatabaseError, match=f"{path} is an empty file"):
        SqliteQuery(path, create=False)
    assert 0 == path.stat().st_size
    assert ["empty.sqlite3"] == _siblings(path)


def test_reading_a_file_that_is_not_sqlite_names_it(tmp_path: Path) -> None:
    """A text file given as a database is refused, untouched, with a hint."""
    path = tmp_path / "spans.jsonl"
    path.write_text('{"trace": {}}\n')
    with pytest.raises(TraceDatabaseError, match=f"{path} is not a SQLite database: pass"):
        SqliteQuery(path, create=False)
    assert ["spans.jsonl"] == _siblings(path)


def test_a_reader_does_not_migrate_an_old_file(db_path: Path) -> None:
    """A version-1 file is left as it is, with a message saying how to migrate it."""
    conn = sqlite3.connect(db_path)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(TraceDatabaseError, match="open it once with SqliteTracer"):
        SqliteQuery(db_path, create=False)
    conn = sqlite3.connect(db_path)
    assert 1 == conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()


READ = textwrap.dedent(
    """
    import sys
    from generative_ai_toolkit.tracer.sqlite import SqliteQuery
    query = SqliteQuery(sys.argv[1], create=False)
    print(len(query.get_traces()), len(query.list_conversations()))
    """
)


def test_a_file_in_a_read_only_directory_is_read(db_path: Path) -> None:
    """With no -wal and no way to create one, the file is read as it is."""
    tracer = SqliteTracer(db_path)
    for s in sample_spans():
        tracer._emit(s)
    tracer.shutdown()
    assert ["traces.sqlite3"] == _siblings(db_path)
    with read_only_directory(db_path.parent) as wrap:
        result = subprocess.run(
            wrap([sys.executable, "-c", READ, str(db_path)]),
            capture_output=True,
            text=True,
            check=False,
        )
    assert (0, f"{len(sample_spans())} 3\n") == (result.returncode, result.stdout), result.stderr
    assert ["traces.sqlite3"] == _siblings(db_path)


# -- errors name the file and say what to do -----------------------------------------------------


def test_a_directory_as_the_database_is_the_librarys_own_error(tmp_path: Path) -> None:
    """SqliteTracer and SqliteQuery name the directory and suggest a file in it."""
    hint = f"{tmp_path} is a directory, not a trace database: pass a file path"
    with pytest.raises(TraceDatabaseError, match=hint):
        SqliteTracer(tmp_path)
    with pytest.raises(TraceDatabaseError, match=hint):
        SqliteQuery(tmp_path, create=False)


def test_a_path_whose_directory_cannot_be_created_is_the_librarys_own_error(
    tmp_path: Path,
) -> None:
    """A file where the directory should be: named, with what to do."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(TraceDatabaseError, match=r"cannot create the directory of .*file"):
        SqliteTracer(tmp_path / "file" / "traces.sqlite3")


def test_a_damaged_page_is_an_error_naming_the_file(db_path: Path) -> None:
    """'database disk image is malformed' comes with the file and what to do."""
    tracer = SqliteTracer(db_path)
    for s in sample_spans():
        tracer._emit(s)
    tracer.shutdown()
    damage_pages(db_path)
    query = SqliteQuery(db_path, create=False)
    with pytest.raises(TraceDatabaseError, match=f"{db_path} is not a readable trace database"):
        query.get_traces()
    query.close()


# -- failures that say nothing about the spans: one line per batch, no traceback ---------------


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
def test_a_file_that_takes_no_spans_drops_each_batch_in_one_line(
    db_path: Path, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    """A full disk (max_page_count) or a read-only database (query_only) drops whole batches,
    counted, in one log line for the cause (the engine sums later drops of the same cause into
    a summary line per interval), without a traceback; spans are written again once fixed."""
    tracer = SqliteTracer(db_path, schedule_delay=0.01, max_batch_size=500)
    try:
        for s in _spans(10):
            tracer._emit(s)
        assert tracer.flush(timeout=10)
        conn = tracer._writer._connection()
        if fault == "disk full":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        else:
            conn.execute("PRAGMA query_only = ON")
        with caplog.at_level(logging.INFO, LOGGER):
            for s in _spans(1000, first=100):
                tracer._emit(s)
            assert tracer.flush(timeout=30)
        assert (1000, 10) == (tracer.stats["dropped"], tracer.stats["written"])
        assert all(r.exc_info is None for r in caplog.records)
        assert 1 == len(caplog.records)  # one line for the cause
        assert str(db_path) in caplog.records[0].getMessage()
        conn.execute(
            "PRAGMA max_page_count = 1000000" if fault == "disk full" else "PRAGMA query_only = OFF"
        )
        for s in _spans(5, first=5000):
            tracer._emit(s)
        assert tracer.flush(timeout=10)
        assert 15 == len(tracer.get_traces())
    finally:
        tracer.shutdown()


def test_a_file_replaced_by_something_else_drops_batches_in_one_line(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file that is not a database moved over the path: one line per batch, no traceback."""
    tracer = SqliteTracer(db_path, schedule_delay=0.01, max_batch_size=100)
    try:
        for s in _spans(10):
            tracer._emit(s)
        assert tracer.flush(timeout=10)
        garbage = db_path.with_name("garbage")
        garbage.write_bytes(b"not a database" * 1000)
        os.replace(garbage, db_path)
        with caplog.at_level(logging.ERROR, LOGGER):
            for s in _spans(300, first=100):
                tracer._emit(s)
            assert tracer.flush(timeout=30)
        assert 300 == tracer.stats["dropped"]
        assert [] == [r for r in caplog.records if r.exc_info is not None]
    finally:
        tracer.shutdown()


def test_a_file_locked_while_it_needs_migrating_is_the_librarys_own_error(db_path: Path) -> None:
    """Another process holding the lock past busy_timeout: TraceDatabaseError naming the file."""
    make_version_2_file(db_path, sample_spans())
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TraceDatabaseError, match=f"{db_path} is locked by another process"):
            SqliteTracer(db_path, busy_timeout=0.05)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
