"""``on_queue_full``: "drop" (network tracers) or "block" (``SqliteTracer``): a caller waits
a bounded time for room, never on the worker's own thread or after shutdown."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from export.recording import RecordingWriter, ended_spans
from generative_ai_toolkit.tracer import SqliteTracer, Trace
from generative_ai_toolkit.tracer._export import BackgroundExporter
from generative_ai_toolkit.tracer._exporting import ExportingTracer
from generative_ai_toolkit.tracer.otlp import OtlpTracer


def test_a_tight_loop_into_sqlite_with_default_options_loses_nothing(tmp_path: Path) -> None:
    """The writer outrun by a tight loop: the default "block" makes the loop wait, 0 dropped."""
    db_path = tmp_path / "traces.sqlite3"
    tracer = SqliteTracer(db_path, max_queue_size=50, max_batch_size=20)
    for i in range(5000):
        with tracer.trace(f"span-{i}"):
            pass
    assert tracer.flush(60)
    stats = tracer.stats
    tracer.shutdown()
    assert (5000, 5000, 0) == (stats["queued"], stats["written"], stats["dropped"])
    with sqlite3.connect(db_path) as conn:
        assert (5000,) == conn.execute("SELECT count(*) FROM spans").fetchone()


def test_the_drop_policy_drops_when_full(make: Callable[..., BackgroundExporter]) -> None:
    """ "drop" never waits: with the writer hung, spans past the queue bound are dropped."""
    writer = RecordingWriter()
    writer.gate.clear()
    exporter = make(writer, max_queue_size=3, max_batch_size=1, on_queue_full="drop")
    spans = ended_spans(10)
    exporter.submit(spans[0])
    assert writer.entered.wait(10)
    for span in spans[1:]:
        exporter.submit(span)
    assert (4, 6) == (exporter.stats["queued"], exporter.stats["dropped"])


def test_a_blocked_caller_gives_up_after_block_timeout_and_then_stops_waiting(
    make: Callable[..., BackgroundExporter],
) -> None:
    """With the sink hung, the first caller to find the queue full waits block_timeout, then
    drops (counted); the next ones drop at once until a write succeeds; nothing is lost
    uncounted."""
    writer = RecordingWriter()
    writer.gate.clear()
    exporter = make(
        writer, max_queue_size=2, max_batch_size=1, on_queue_full="block", block_timeout=0.05
    )
    spans = ended_spans(6)
    exporter.submit(spans[0])
    assert writer.entered.wait(10)
    for span in spans[1:]:
        exporter.submit(span)
    assert (3, 3) == (exporter.stats["queued"], exporter.stats["dropped"])
    writer.gate.set()
    assert exporter.flush(10)
    assert (3, 3) == (exporter.stats["written"], exporter.stats["dropped"])


def test_a_span_ended_on_the_worker_thread_never_waits_for_itself(
    make: Callable[..., BackgroundExporter],
) -> None:
    """A span submitted from inside the writer (the worker's thread) with the queue full is
    dropped, not blocked on: blocking would wait for the very thread that is blocked."""
    later = ended_spans(3, prefix="inner")
    exporter: BackgroundExporter

    def submit_from_the_worker(call: int, batch: Sequence[Trace]) -> None:
        if call == 1:
            for span in later:
                exporter.submit(span)

    exporter = make(
        RecordingWriter(submit_from_the_worker),
        max_queue_size=1,
        on_queue_full="block",
        block_timeout=60,
    )
    exporter.submit(ended_spans(1)[0])
    assert exporter.flush(30)
    assert (2, 2) == (exporter.stats["written"], exporter.stats["dropped"])


def test_a_full_queue_after_shutdown_drops_without_waiting(
    make: Callable[..., BackgroundExporter],
) -> None:
    """After shutdown nobody makes room: a caller is never made to wait for it."""
    exporter = make(RecordingWriter(), max_queue_size=1, on_queue_full="block", block_timeout=60)
    exporter.shutdown()
    for span in ended_spans(3):
        exporter.submit(span)
    assert 3 == exporter.stats["dropped"]


BUILDERS: dict[str, Callable[[Path, Any], object]] = {
    "sqlite": lambda tmp, bad: SqliteTracer(tmp / "t.sqlite3", on_queue_full=bad),
    "otlp": lambda tmp, bad: OtlpTracer(endpoint="http://127.0.0.1:1/v1/traces", on_queue_full=bad),
    "exporting": lambda tmp, bad: ExportingTracer(RecordingWriter(), on_queue_full=bad),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_an_unknown_on_queue_full_fails_at_construction(kind: str, tmp_path: Path) -> None:
    """Anything but "drop" or "block" is a ValueError when the tracer is made."""
    build = BUILDERS[kind]
    with pytest.raises(ValueError, match="on_queue_full must be 'drop' or 'block'"):
        build(tmp_path, "wait")


def test_network_tracers_drop_and_sqlite_blocks_by_default(tmp_path: Path) -> None:
    """The defaults: an embedded store waits for room; a network exporter never does."""
    sqlite_tracer = SqliteTracer(tmp_path / "t.sqlite3")
    otlp_tracer = OtlpTracer(endpoint="http://127.0.0.1:1/v1/traces")
    try:
        assert (True, False) == (sqlite_tracer._exporter._block, otlp_tracer._exporter._block)
    finally:
        sqlite_tracer.shutdown()
        otlp_tracer.shutdown()
