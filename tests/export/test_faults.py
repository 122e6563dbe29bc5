"""The export engine's promises under faults: every span accepted ends up written or dropped
(never both, never neither), no call hangs after shutdown gave up, ``pending`` counts what is
being written, and a sink that refuses everything costs a few writes and one log line."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from export.recording import RecordingWriter, ended_spans
from generative_ai_toolkit.tracer import SqliteTracer, Trace
from generative_ai_toolkit.tracer._export import BackgroundExporter
from generative_ai_toolkit.tracer._writer import RetryableError
from generative_ai_toolkit.tracer.otlp import OtlpTracer
from otlp.capture import CaptureServer

LOGGER = "generative_ai_toolkit.tracer"


def _outcome(exporter: BackgroundExporter) -> tuple[int, int, int, int]:
    stats = exporter.stats
    return stats["queued"], stats["written"], stats["dropped"], stats["pending"]


def test_shutdown_that_gives_up_counts_the_batch_being_written(
    make: Callable[..., BackgroundExporter],
) -> None:
    """A worker stuck writing at shutdown: its batch and the queue are all counted dropped."""
    writer = RecordingWriter()
    writer.gate.clear()  # the sink hangs
    exporter = make(writer, max_batch_size=500)
    for span in ended_spans(1000):
        exporter.submit(span)
    assert writer.entered.wait(10)
    exporter.shutdown(timeout=0.2)
    assert (1000, 0, 1000, 0) == _outcome(exporter)
    writer.gate.set()  # the stuck write finally goes through: already counted, not again
    exporter.flush()
    assert (1000, 0, 1000, 0) == _outcome(exporter)


@pytest.fixture
def locked_db(tmp_path: Path) -> Iterator[Path]:
    """A trace database whose write lock another process holds until the test ends."""
    db_path = tmp_path / "traces.sqlite3"
    SqliteTracer(db_path).shutdown()  # creates the schema
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"conn = sqlite3.connect({str(db_path)!r}, isolation_level=None)\n"
            "conn.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert "locked\n" == holder.stdout.readline()
    yield db_path
    holder.stdin.close()
    holder.stdout.close()
    holder.wait(30)


def test_sqlite_locked_by_another_process_at_exit_counts_every_span(locked_db: Path) -> None:
    """SQLite locked by another process through shutdown: 1,000 ended, 1,000 dropped, 0 stored."""
    tracer = SqliteTracer(locked_db, busy_timeout=2.0, shutdown_timeout=0.3)
    for i in range(1000):
        with tracer.trace(f"span-{i}"):
            pass
    tracer.shutdown()
    stats = tracer.stats
    assert (1000, 0, 1000, 0) == (
        stats["queued"],
        stats["written"],
        stats["dropped"],
        stats["pending"],
    )


def test_flush_after_shutdown_gave_up_returns_at_once(
    make: Callable[..., BackgroundExporter],
) -> None:
    """After shutdown gave up on a stuck worker, flush() without a timeout returns False (it
    does not wait forever), a flush already waiting is let go, and pending is 0, not -1."""
    writer = RecordingWriter()
    writer.gate.clear()
    exporter = make(writer, max_batch_size=2)
    for span in ended_spans(5):
        exporter.submit(span)
    assert writer.entered.wait(10)
    results: list[bool] = []
    waiting = threading.Thread(target=lambda: results.append(exporter.flush()), daemon=True)
    waiting.start()
    exporter.shutdown(timeout=0.1)
    waiting.join(10)
    after = threading.Thread(target=lambda: results.append(exporter.flush()), daemon=True)
    after.start()
    after.join(10)
    assert [False, False] == results
    assert (5, 0, 5, 0) == _outcome(exporter)


def test_pending_counts_a_span_being_retried(make: Callable[..., BackgroundExporter]) -> None:
    """A span the worker is still retrying is pending, not gone."""
    sink_up = threading.Event()

    def down_until_up(call: int, batch: Sequence[Trace]) -> None:
        if not sink_up.is_set():
            raise RetryableError("connection refused")

    exporter = make(RecordingWriter(down_until_up))
    exporter.submit(ended_spans(1)[0])
    while exporter.stats["retried"] < 2:
        threading.Event().wait(0.005)
    assert (1, 0, 0, 1) == _outcome(exporter)
    sink_up.set()
    assert exporter.flush(10)
    assert (1, 1, 0, 0) == _outcome(exporter)


def test_a_sink_refusing_every_span_costs_few_writes_and_one_line(
    make: Callable[..., BackgroundExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only database refuses every batch: no span-by-span split, no traceback per span;
    the first batch is dropped after a few probes, the next at once, in one line (and one
    summary line at shutdown)."""

    def read_only(call: int, batch: Sequence[Trace]) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    writer = RecordingWriter(read_only)
    writer.gate.clear()  # so the batches are exactly 500 and 500
    exporter = make(writer, max_batch_size=500, schedule_delay=60)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for span in ended_spans(1000):
            exporter.submit(span)
        writer.gate.set()
        assert exporter.flush(10)
        assert (1000, 0, 1000, 0) == _outcome(exporter)
        assert 7 + 1 == writer.calls
        before_shutdown = [r.getMessage() for r in caplog.records]
        exporter.shutdown()
    assert [
        "BackgroundExporter(test) dropped 500 span(s) (refused by the sink: attempt to write a"
        " readonly database); 500 dropped so far"
    ] == before_shutdown
    summary = [r.getMessage() for r in caplog.records][1:]
    assert 1 == len(summary)
    assert "dropped 500 more span(s)" in summary[0]


def test_a_poison_span_still_costs_only_its_own_drop(
    make: Callable[..., BackgroundExporter],
) -> None:
    """The refusal probe never mistakes one bad span for a refusing sink, wherever it is."""
    for poison in (0, 1, 250, 499):

        def reject(call: int, batch: Sequence[Trace], poison: int = poison) -> None:
            if any(s.span_name == f"s{poison}" for s in batch):
                raise ValueError(f"cannot encode s{poison}")

        exporter = make(RecordingWriter(reject), max_batch_size=500)
        for span in ended_spans(500):
            exporter.submit(span)
        assert exporter.flush(10)
        assert (500, 499, 1, 0) == _outcome(exporter)


@pytest.mark.parametrize(("status", "requests"), [(400, 1), (422, 7)])
def test_an_otlp_receiver_refusing_everything_is_not_stormed(
    caplog: pytest.LogCaptureFixture, status: int, requests: int
) -> None:
    """A real receiver that refuses every request: 1,000 spans cost one log line and a few
    requests (one for 400, which says nothing about the spans; the halving search's 7 for a
    status that might), not two requests and a traceback per span."""
    with CaptureServer() as capture:
        capture.fail_next(status, times=1_000_000, body=b"bad request")
        # One batch of 1,000, written when the last span is queued.
        tracer = OtlpTracer(endpoint=capture.endpoint, max_batch_size=1000, schedule_delay=60)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            for i in range(1000):
                with tracer.trace(f"span-{i}"):
                    pass
            assert tracer.flush(30)
            lines = len(caplog.records)
            tracer.shutdown()
        assert (1000, 0, 1000) == tuple(tracer.stats[k] for k in ("queued", "written", "dropped"))
        assert requests == len(capture.received)
        assert 1 == lines
