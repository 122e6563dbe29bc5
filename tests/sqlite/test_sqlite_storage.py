"""SqliteTracer's file: migrations, bad files, retention, locking and several writer processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import SpanListQuery, SqliteTracer
from generative_ai_toolkit.tracer._writer import RetryableError
from generative_ai_toolkit.tracer.sqlite._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    TraceDatabaseError,
    run_script,
)
from generative_ai_toolkit.tracer.sqlite._writer import SqliteSpanWriter

from .samples import BASE_NS, sample_spans, span


def test_a_version_1_database_is_migrated_and_its_conversations_backfilled(
    db_path: Path,
) -> None:
    """Opening an old file applies the missing migrations and keeps its spans."""
    conn = sqlite3.connect(db_path)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO spans (trace_id, span_id, name, kind, status, start_ns, end_ns, "
        "conversation_id, auth_context, attributes, scope_name, scope_version) VALUES "
        "(?, ?, 'old', 'INTERNAL', 'ERROR', 1000, 2000, 'c-old', 'u', ?, 'g', 'v')",
        [f"{1:032x}", f"{1:016x}", '{"ai.conversation.id":"c-old","ai.auth.context":"u"}'],
    )
    conn.commit()
    conn.close()
    tracer = SqliteTracer(db_path)
    try:
        [summary] = tracer.list_conversations()
        assert (
            summary.conversation_id,
            summary.auth_context,
            summary.span_count,
            summary.error_count,
        ) == ("c-old", "u", 1, 1)
        assert [t.span_name for t in tracer.get_traces()] == ["old"]
    finally:
        tracer.shutdown()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    """A file written by a newer version is not touched."""
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(TraceDatabaseError, match="upgrade"):
        SqliteTracer(db_path)


def test_a_foreign_sqlite_database_is_refused(db_path: Path) -> None:
    """Another application's database is not taken over."""
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    with pytest.raises(TraceDatabaseError, match="not a trace database"):
        SqliteTracer(db_path)


def test_a_corrupt_file_is_refused(db_path: Path) -> None:
    """A file that is not SQLite at all gives a clear error."""
    db_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TraceDatabaseError, match="not a readable trace database"):
        SqliteTracer(db_path)


def _file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_retention_by_span_count_deletes_the_oldest_and_shrinks_the_file(db_path: Path) -> None:
    """max_spans keeps the newest spans, summaries stay right, and the file gets smaller."""
    tracer = SqliteTracer(
        db_path, max_spans=50, retention_interval=3600, schedule_delay=0.01, max_batch_size=500
    )
    try:
        spans = [
            span(
                f"s{i}",
                trace=1 + i // 10,
                span_id=1 + i,
                start_ms=i,
                attributes={"ai.conversation.id": f"c-{i // 500}", "pad": "p" * 2000},
            )
            for i in range(2000)
        ]
        for s in spans:
            tracer._emit(s)
        tracer.flush()
        before = _file_size(db_path)
        # The writer also sweeps (after its first batch, then hourly here).
        assert tracer.apply_retention() + tracer.stats["deleted_by_retention"] == 1950
        kept = tracer.get_traces()
        assert [f"s{i}" for i in range(1950, 2000)] == [t.span_name for t in kept]
        assert SpanListQuery(kept).list_conversations() == tracer.list_conversations()
        assert _file_size(db_path) < before / 4
    finally:
        tracer.shutdown()


def test_retention_by_age_uses_the_tracer_clock(db_path: Path) -> None:
    """Spans that started longer than max_age ago are deleted while writing."""
    now = [BASE_NS + 3_600_000_000_000]
    tracer = SqliteTracer(
        db_path,
        max_age=timedelta(minutes=30),
        retention_interval=0,
        schedule_delay=0.01,
        clock=lambda: now[0],
    )
    try:
        old = span("old", trace=1, span_id=1, start_ms=0, attributes={"ai.conversation.id": "c"})
        tracer._emit(old)
        tracer.flush()
        with tracer.trace("new") as new:
            new.add_attribute("ai.conversation.id", "c")
        assert [t.span_name for t in tracer.get_traces()] == ["new"]
        [summary] = tracer.list_conversations()
        assert summary.span_count == 1
        assert tracer.stats["deleted_by_retention"] == 1
    finally:
        tracer.shutdown()


def test_a_locked_file_is_a_retryable_error(db_path: Path) -> None:
    """While another connection holds the write lock, write raises RetryableError."""
    SqliteTracer(db_path).shutdown()
    writer = SqliteSpanWriter(db_path, busy_timeout_ms=50)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(RetryableError, match="locked"):
            writer.write(sample_spans())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    writer.write(sample_spans())
    writer.close()


def test_spans_written_while_the_file_is_locked_arrive_once_it_is_free(db_path: Path) -> None:
    """The export engine retries a locked write: nothing is lost."""
    tracer = SqliteTracer(db_path, busy_timeout=0.05, max_retry_delay=0.1, schedule_delay=0.01)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        for s in sample_spans():
            tracer._emit(s)
        assert not tracer.flush(timeout=0.3)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert tracer.flush(timeout=10)
        assert len(sample_spans()) == len(tracer.get_traces())
        assert tracer.stats["retried"] >= 1
        assert tracer.stats["dropped"] == 0
    finally:
        tracer.shutdown()


WRITER = textwrap.dedent(
    """
    import sys
    from generative_ai_toolkit.tracer import SqliteTracer
    tracer = SqliteTracer(sys.argv[1], max_batch_size=50, schedule_delay=0.001)
    for i in range(int(sys.argv[3])):
        with tracer.trace("s") as span:
            span.add_attribute("ai.conversation.id", f"{sys.argv[2]}-{i % 7}", inheritable=True)
            span.add_attribute("i", i)
    tracer.shutdown()
    assert tracer.stats["dropped"] == 0, tracer.stats
    """
)


def test_several_processes_writing_one_file_lose_nothing(db_path: Path) -> None:
    """Three processes writing at once: every span is stored, summaries add up."""
    SqliteTracer(db_path).shutdown()
    per_process = 1500
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), f"p{n}", str(per_process)])
        for n in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    tracer = SqliteTracer(db_path)
    try:
        assert 3 * per_process == len(tracer.get_traces())
        summaries = tracer.list_conversations(limit=100)
        assert len(summaries) == 21
        assert 3 * per_process == sum(s.span_count for s in summaries)
        conn = sqlite3.connect(db_path)
        run_script(conn, "SELECT 1")  # the helper runs statement by statement
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    finally:
        tracer.shutdown()
