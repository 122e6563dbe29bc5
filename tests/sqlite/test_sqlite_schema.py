"""Schema version 3 (integer and BLOB ids) and the migration from version 2 files: old files
keep working, read as they are by readers and migrated by the first writer."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from generative_ai_toolkit.tracer import SpanListQuery, SqliteTracer, Trace
from generative_ai_toolkit.tracer.sqlite import SqliteQuery
from generative_ai_toolkit.tracer.sqlite._schema import SCHEMA_VERSION

from .samples import make_version_2_file, sample_spans, span

BIG = 2**64 - 1  # ids past 2**63 are stored as negative INTEGERs and must come back unsigned


def _spans() -> list[Trace]:
    return [
        *sample_spans(),
        span("big-root", trace=2**128 - 1, span_id=BIG, start_ms=500),
        span("big-child", trace=2**128 - 1, span_id=2**63, parent=BIG, start_ms=501),
    ]


def _fields(spans: Any) -> list[tuple[Any, ...]]:
    return [
        (s.span_name, s.trace_id, s.span_id, s.parent_span_id, s.started_at, s.attributes)
        for s in spans
    ]


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_version_3_stores_ids_as_blobs_and_integers(db_path: Path) -> None:
    """Trace ids are 16-byte BLOBs, span ids INTEGERs (since version 3; version 4 adds the
    ``open`` column); all of them come back as they were."""
    tracer = SqliteTracer(db_path)
    try:
        for s in _spans():
            tracer._emit(s)
        assert _fields(SpanListQuery(_spans()).get_traces()) == _fields(tracer.get_traces())
        assert _fields(_spans()[-2:]) == _fields(tracer.get_traces(trace_id="f" * 32))
    finally:
        tracer.shutdown()
    conn = sqlite3.connect(db_path)
    types = conn.execute(
        "SELECT DISTINCT typeof(trace_id), length(trace_id), typeof(span_id) FROM spans"
    ).fetchall()
    conn.close()
    assert [("blob", 16, "integer")] == types
    assert SCHEMA_VERSION == _version(db_path)


def test_a_version_2_file_is_read_as_it_is(db_path: Path) -> None:
    """A reader reads a version-2 file correctly and leaves it at version 2."""
    spans = _spans()
    make_version_2_file(db_path, spans)
    reference = SpanListQuery(spans)
    query = SqliteQuery(db_path, create=False)
    try:
        assert _fields(reference.get_traces()) == _fields(query.get_traces())
        assert _fields(spans[-2:]) == _fields(query.get_traces(trace_id="f" * 32))
        assert reference.list_conversations() == query.list_conversations()
        assert _fields(reference.conversation_spans("c-1")) == _fields(
            query.conversation_spans("c-1")
        )
    finally:
        query.close()
    assert 2 == _version(db_path)


def test_a_version_2_file_is_migrated_by_a_writer_keeping_every_span(db_path: Path) -> None:
    """SqliteTracer migrates a version-2 file: same spans, summaries and cursor; a span stored
    again is still kept once."""
    spans = _spans()
    make_version_2_file(db_path, spans)
    cursor = SqliteQuery(db_path, create=False).latest_cursor()
    tracer = SqliteTracer(db_path, schedule_delay=0.01)
    try:
        assert SCHEMA_VERSION == _version(db_path)
        reference = SpanListQuery(spans)
        assert _fields(reference.get_traces()) == _fields(tracer.get_traces())
        assert reference.list_conversations() == tracer.list_conversations()
        assert _fields(spans[-2:]) == _fields(tracer.get_traces(trace_id="f" * 32))
        for s in spans:
            tracer._emit(s)
        assert len(spans) == len(tracer.get_traces())
        assert reference.list_conversations() == tracer.list_conversations()
        new = span("after", trace=77, span_id=77, start_ms=900)
        tracer._emit(new)
        assert tracer.flush(timeout=10)
        query = SqliteQuery(db_path, create=False)
        assert ["after"] == [s.span_name for s in query.spans_after(cursor)[0]]
        query.close()
    finally:
        tracer.shutdown()


def test_a_reader_opened_before_the_migration_keeps_reading(db_path: Path) -> None:
    """A reader that opened a version-2 file finds traces by id after a writer migrated it."""
    make_version_2_file(db_path, _spans())
    query = SqliteQuery(db_path, create=False)
    try:
        assert 2 == len(query.get_traces(trace_id="f" * 32))
        SqliteTracer(db_path).shutdown()
        assert SCHEMA_VERSION == _version(db_path)
        assert _fields(_spans()[-2:]) == _fields(query.get_traces(trace_id="f" * 32))
    finally:
        query.close()
