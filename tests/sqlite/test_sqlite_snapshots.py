"""Open spans in SQLite: one row per span across processes and batches, summaries counting a
span once (when it ends), and ``tail`` order."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

from generative_ai_toolkit.tracer import SqliteTracer, Trace
from generative_ai_toolkit.tracer._snapshot import SpanSnapshot, take_snapshot
from generative_ai_toolkit.tracer.sqlite import SqliteQuery
from generative_ai_toolkit.tracer.sqlite._writer import SqliteSpanWriter
from generative_ai_toolkit.tracer.testing import StepClock


def _rows(db_path: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT name, open FROM spans ORDER BY seq").fetchall()
    finally:
        conn.close()


def _late(span: Trace, now_ns: int) -> SpanSnapshot:
    snap = take_snapshot(span, now_ns)
    assert snap is not None
    snap._source = None  # as another process hands it over: no live span behind it
    return snap


def _write_in_child(db_path: Path, snap: SpanSnapshot) -> None:
    def child() -> None:
        tracer = SqliteTracer(db_path)
        tracer._write_snapshot(snap)
        tracer.shutdown()
        os._exit(0)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(30)
    assert 0 == process.exitcode


def test_snapshots_from_another_process_replace_older_ones_and_never_the_end(
    db_path: Path,
) -> None:
    tracer = SqliteTracer(db_path, clock=StepClock(), schedule_delay=0.01, snapshot_interval=None)
    try:
        with tracer.trace("llm") as llm:
            older = _late(llm, tracer.now_ns())
            llm.add_attribute("step", 2)
            _write_in_child(db_path, _late(llm, tracer.now_ns()))
            tracer._write_snapshot(older)
            tracer.flush()
            (seen,) = tracer.get_traces(include_open=True)
            assert {"step": 2} == seen.attributes
            late = _late(llm, tracer.now_ns())
        tracer.flush()
        _write_in_child(db_path, late)
        (seen,) = tracer.get_traces(include_open=True)
        assert seen.is_ended
        assert [("llm", 0)] == _rows(db_path)
    finally:
        tracer.shutdown()


def test_a_conversation_counts_a_span_once_when_it_ends_and_its_snapshots_as_activity(
    tracer: SqliteTracer,
) -> None:
    with tracer.trace("converse") as root:
        root.add_attribute("ai.conversation.id", "c-1", inheritable=True)
        root.emit_snapshot()
        tracer.flush()
        (summary,) = tracer.list_conversations()
        assert (0, 0) == (summary.span_count, summary.error_count)
        first_activity = summary.last_ended_at
        for _ in range(3):
            root.emit_snapshot()
        tracer.flush()
        (summary,) = tracer.list_conversations()
        assert 0 == summary.span_count
        assert summary.last_ended_at > first_activity
        root.set_status("ERROR")
    tracer.flush()
    (summary,) = tracer.list_conversations()
    assert (1, 1) == (summary.span_count, summary.error_count)
    assert 1 == len(tracer.conversation_spans("c-1"))


def test_tail_sees_the_snapshot_and_then_the_ended_span_as_new_rows(
    tracer: SqliteTracer, db_path: Path
) -> None:
    query = SqliteQuery(db_path, create=False)
    try:
        cursor = query.latest_cursor()
        with tracer.trace("llm") as llm:
            llm.emit_snapshot()
            tracer.flush()
            spans, cursor = query.spans_after(cursor)
            assert [("llm", False)] == [(s.span_name, s.is_ended) for s in spans]
        tracer.flush()
        spans, cursor = query.spans_after(cursor)
        assert [("llm", True)] == [(s.span_name, s.is_ended) for s in spans]
        assert 1 == query.span_count()
    finally:
        query.close()


def test_one_batch_holding_a_snapshot_and_the_end_stores_the_end(db_path: Path) -> None:
    tracer = SqliteTracer(db_path, snapshot_interval=None)
    tracer.shutdown()
    writer = SqliteSpanWriter(db_path)
    try:
        with tracer.trace("llm") as llm:
            snap = _late(llm, tracer.now_ns())
        writer.write([snap, llm])
        writer.write([llm, snap])
        assert [("llm", 0)] == _rows(db_path)
    finally:
        writer.close()
