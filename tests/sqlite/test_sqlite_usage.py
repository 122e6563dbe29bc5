"""The ``conversation_usage`` table (schema 4): kept right by writes, imports run twice and
retention, filled from the spans when a writer migrates a version-3 file, and absent (no usage
listed) while a reader reads a version-3 file as it is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from generative_ai_toolkit.tracer import SpanListQuery, SqliteTracer, Trace, Usage
from generative_ai_toolkit.tracer.sqlite import SqliteQuery

from .samples import span


def _calls(n: int, *, conversation: str = "c-1", start_ms: int = 0) -> list[Trace]:
    return [
        span(
            f"llm{i}",
            trace=1 + i,
            span_id=1 + i,
            start_ms=start_ms + i,
            attributes={
                "ai.conversation.id": conversation,
                "ai.llm.request.model.id": "m-a" if i % 2 else "m-b",
                "ai.llm.response.usage": {"inputTokens": 10, "outputTokens": i},
            },
        )
        for i in range(n)
    ]


def _store(path: Path, spans: list[Trace], **options: object) -> None:
    tracer = SqliteTracer(path, schedule_delay=0.01, **options)  # type: ignore[arg-type]
    try:
        for s in spans:
            tracer.persist(s)
        assert tracer.flush(30)
    finally:
        tracer.shutdown()


def test_spans_stored_twice_are_counted_once(db_path: Path) -> None:
    """An import run twice recounts the conversation from the spans table."""
    spans = _calls(6)
    _store(db_path, spans)
    _store(db_path, spans)
    query = SqliteQuery(db_path, create=False)
    assert SpanListQuery(spans).list_conversations() == query.list_conversations()
    assert Usage(60, 15, 75, 0, 0, 6) == query.list_conversations()[0].usage


def test_retention_recounts_the_usage_of_what_is_left(db_path: Path) -> None:
    """Deleting the oldest spans takes their tokens out of the conversation's usage."""
    tracer = SqliteTracer(db_path, max_spans=4, retention_interval=3600, schedule_delay=0.01)
    try:
        for s in _calls(10):
            tracer.persist(s)
        assert tracer.flush(30)
        tracer.apply_retention()
        kept = tracer.get_traces()
        assert 4 == len(kept)
        assert SpanListQuery(kept).list_conversations() == tracer.list_conversations()
        assert Usage(40, 6 + 7 + 8 + 9, 70, 0, 0, 4) == tracer.list_conversations()[0].usage
    finally:
        tracer.shutdown()


def _make_version_3(path: Path, spans: list[Trace]) -> None:
    # Version 3 is version 5 without the usage table (4) and the `open` column (5).
    _store(path, spans)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE conversation_usage")
    conn.execute("DROP INDEX spans_open")
    conn.execute("ALTER TABLE spans DROP COLUMN open")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()


def test_a_version_3_file_is_read_without_usage_and_left_alone(db_path: Path) -> None:
    """A reader lists a version-3 file's conversations with no usage and never migrates it."""
    _make_version_3(db_path, _calls(4))
    query = SqliteQuery(db_path, create=False)
    (summary,) = query.list_conversations()
    assert (4, Usage(), ()) == (summary.span_count, summary.usage, summary.usage_by_model)
    conn = sqlite3.connect(db_path)
    assert 3 == conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()


def test_a_writer_migrating_a_version_3_file_counts_the_usage_of_its_spans(db_path: Path) -> None:
    """The migration fills ``conversation_usage`` from the stored spans; new spans add to it."""
    old = _calls(4)
    _make_version_3(db_path, old)
    new = _calls(2, start_ms=100)
    _store(db_path, new)
    query = SqliteQuery(db_path, create=False)
    assert SpanListQuery([*old, *new]).list_conversations() == query.list_conversations()
    assert Usage(60, 7, 67, 0, 0, 6) == query.list_conversations()[0].usage
