"""The background export engine: counters, flush, shutdown, retry with backoff, isolation of a
poison span, the queue bound, drop logging, fork and the flush at interpreter exit."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from export.recording import RecordingWriter, ended_spans
from generative_ai_toolkit.tracer import Trace
from generative_ai_toolkit.tracer._export import BackgroundExporter
from generative_ai_toolkit.tracer._writer import BatchRejectedError, RetryableError

LOGGER = "generative_ai_toolkit.tracer"


def test_counters_after_flush(make: Callable[..., BackgroundExporter]) -> None:
    """queued, written, retried, dropped and pending add up once flushed."""
    writer = RecordingWriter()
    exporter = make(writer)
    for span in ended_spans(7):
        exporter.submit(span)
    assert exporter.flush(10)
    assert {"queued": 7, "written": 7, "retried": 0, "dropped": 0, "pending": 0} == (exporter.stats)
    assert [f"s{i}" for i in range(7)] == writer.written


def test_flush_waits_for_spans_submitted_before(make: Callable[..., BackgroundExporter]) -> None:
    """flush() returns only after the spans submitted before it are written; a bounded flush
    says False while the writer is stuck, True once it is through."""
    writer = RecordingWriter()
    writer.gate.clear()
    exporter = make(writer)
    for span in ended_spans(3):
        exporter.submit(span)
    assert not exporter.flush(0.2)
    writer.gate.set()
    assert exporter.flush(10)
    assert 3 == len(writer.written)


def test_batches_respect_max_batch_size(make: Callable[..., BackgroundExporter]) -> None:
    """No batch handed to the writer is larger than max_batch_size."""
    sizes: list[int] = []

    def record(call: int, batch: Sequence[Trace]) -> None:
        sizes.append(len(batch))

    exporter = make(RecordingWriter(record), max_batch_size=4)
    for span in ended_spans(10):
        exporter.submit(span)
    assert exporter.flush(10)
    assert 10 == sum(sizes)
    assert max(sizes) <= 4


def test_retryable_errors_are_retried_until_written(
    make: Callable[..., BackgroundExporter],
) -> None:
    """A RetryableError is retried (counted) until the batch is written; nothing dropped."""

    def flaky(call: int, batch: Sequence[Trace]) -> None:
        if call <= 3:
            raise RetryableError("throttled")

    writer = RecordingWriter(flaky)
    exporter = make(writer)
    for span in ended_spans(5):
        exporter.submit(span)
    assert exporter.flush(10)
    assert (5, 3, 0) == tuple(exporter.stats[k] for k in ("written", "retried", "dropped"))


def test_partial_write_retries_only_the_remaining(
    make: Callable[..., BackgroundExporter],
) -> None:
    """RetryableError(remaining=...) retries just those spans; the rest count as written."""
    seen: list[list[str]] = []

    class Partial(RecordingWriter):
        def write(self, batch: Sequence[Trace]) -> None:
            seen.append([s.span_name for s in batch])
            if len(seen) == 1:
                raise RetryableError("UnprocessedItems", remaining=batch[-2:])
            super().write(batch)

    exporter = make(Partial())
    for span in ended_spans(5):
        exporter.submit(span)
    assert exporter.flush(10)
    assert [["s0", "s1", "s2", "s3", "s4"], ["s3", "s4"]] == seen
    assert (5, 1) == (exporter.stats["written"], exporter.stats["retried"])


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    """Delays double per attempt (jitter between half and all of it), capped by
    max_retry_delay; a server's retry_after is honoured (capped at 4x the maximum)."""
    exporter = BackgroundExporter(
        RecordingWriter(), name="delays", initial_retry_delay=0.1, max_retry_delay=1.0
    )
    for attempt, base in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (40, 1.0)]:
        delays = [exporter._delivery.retry_delay(attempt, None) for _ in range(50)]
        assert all(base * 0.5 <= d <= base for d in delays)
    assert 2.5 == exporter._delivery.retry_delay(0, 2.5)
    assert 4.0 == exporter._delivery.retry_delay(0, 60.0)
    exporter.shutdown()


def test_poison_span_is_isolated_and_logged(
    make: Callable[..., BackgroundExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """A span that always fails is dropped alone (counted, logged); its batch-mates are written."""

    def poison(call: int, batch: Sequence[Trace]) -> None:
        if any(s.span_name == "s5" for s in batch):
            raise ValueError("cannot encode s5")

    writer = RecordingWriter(poison)
    exporter = make(writer)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for span in ended_spans(10):
            exporter.submit(span)
        assert exporter.flush(10)
    assert sorted(f"s{i}" for i in range(10) if i != 5) == sorted(writer.written)
    assert (9, 1) == (exporter.stats["written"], exporter.stats["dropped"])
    assert "failed for good: span 's5'" in caplog.text
    assert "cannot encode s5" in caplog.text


def test_queue_bound_drops_are_counted_and_logged(
    make: Callable[..., BackgroundExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """With the writer stuck, spans beyond max_queue_size are dropped, counted and logged."""
    writer = RecordingWriter()
    writer.gate.clear()
    exporter = make(writer, max_queue_size=5, max_batch_size=1)
    spans = ended_spans(20)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        exporter.submit(spans[0])
        assert writer.entered.wait(10)  # the worker holds span 0 in the stuck write
        for span in spans[1:]:
            exporter.submit(span)
        assert 14 == exporter.stats["dropped"]
        writer.gate.set()
        assert exporter.flush(10)
    assert (6, 14) == (exporter.stats["written"], exporter.stats["dropped"])
    assert "the export queue of 5 is full" in caplog.text
    assert "14 dropped so far" in caplog.text


def test_shutdown_flushes_closes_once_and_is_idempotent(
    make: Callable[..., BackgroundExporter],
) -> None:
    """shutdown() writes what is queued, closes the writer once, and may be called again."""
    writer = RecordingWriter()
    exporter = make(writer, schedule_delay=30)
    for span in ended_spans(4):
        exporter.submit(span)
    exporter.shutdown()
    exporter.shutdown()
    assert (4, 1) == (len(writer.written), writer.closed)


def test_spans_after_shutdown_are_dropped_and_logged(
    make: Callable[..., BackgroundExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """A span submitted after shutdown is not written: counted and logged, never raised."""
    exporter = make(RecordingWriter())
    exporter.shutdown()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        exporter.submit(ended_spans(1)[0])
    assert 1 == exporter.stats["dropped"]
    assert "submitted after shutdown" in caplog.text


def test_shutdown_gives_up_on_a_sink_that_stays_down(
    make: Callable[..., BackgroundExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """Shutdown waits at most its timeout for a failing sink, then counts the spans dropped."""

    def down(call: int, batch: Sequence[Trace]) -> None:
        raise RetryableError("connection refused")

    exporter = make(RecordingWriter(down), initial_retry_delay=0.05, max_retry_delay=0.1)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for span in ended_spans(3):
            exporter.submit(span)
        exporter.shutdown(timeout=0.5)
    assert (0, 3) == (exporter.stats["written"], exporter.stats["dropped"])
    assert "not written before shutdown" in caplog.text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_child_after_fork_gets_a_fresh_worker(make: Callable[..., BackgroundExporter]) -> None:
    """After fork the child starts with an empty queue and its own worker; the parent goes on."""
    writer = RecordingWriter()
    exporter = make(writer)
    exporter.submit(ended_spans(1, "parent")[0])
    assert exporter.flush(10)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        status = 1
        try:
            before = exporter.stats
            for span in ended_spans(3, "child"):
                exporter.submit(span)
            flushed = exporter.flush(10)
            os.write(
                write_end,
                json.dumps([before, exporter.stats, flushed, writer.written]).encode(),
            )
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        before, after, flushed, written = json.loads(pipe.read())
    _, status = os.waitpid(pid, 0)
    assert 0 == status
    assert 0 == before["queued"]
    assert (True, 3, 3) == (flushed, after["queued"], after["written"])
    assert ["parent0", "child0", "child1", "child2"] == written
    exporter.submit(ended_spans(1, "again")[0])
    assert exporter.flush(10)
    assert ["parent0", "again0"] == writer.written


def test_queued_spans_are_written_at_interpreter_exit(tmp_path: object) -> None:
    """A program that ends without flush() or shutdown() still writes every queued span."""
    script = textwrap.dedent(
        """
        import sys
        from generative_ai_toolkit.tracer import InMemoryTracer
        from generative_ai_toolkit.tracer._export import BackgroundExporter

        class LineWriter:
            def write(self, batch):
                for span in batch:
                    print(span.span_name, flush=True)
            def close(self):
                print("closed", flush=True)

        exporter = BackgroundExporter(LineWriter(), name="exit", schedule_delay=60)
        tracer = InMemoryTracer()
        for i in range(50):
            with tracer.trace(f"span-{i}") as span:
                pass
            exporter.submit(span)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert [f"span-{i}" for i in range(50)] + ["closed"] == result.stdout.split()
    assert "" == result.stderr


def test_a_sink_that_keeps_failing_is_reported_at_warning(
    make: Callable[..., BackgroundExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """The first retries log at INFO; the fourth attempt in a row says so at WARNING."""

    def down_for_a_while(call: int, batch: Sequence[Trace]) -> None:
        if call <= 5:
            raise RetryableError("connection refused")

    exporter = make(RecordingWriter(down_for_a_while))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        exporter.submit(ended_spans(1)[0])
        assert exporter.flush(10)
    levels = [r.levelname for r in caplog.records if "retrying" in r.getMessage()]
    assert ["INFO", "INFO", "INFO", "WARNING", "INFO"] == levels
    assert "(attempt 4): connection refused" in caplog.text


def test_a_rejected_batch_is_dropped_whole_without_splitting(
    make: Callable[..., BackgroundExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """BatchRejectedError (wrong endpoint, bad credentials): one attempt, one log line."""

    def refuse(call: int, batch: Sequence[Trace]) -> None:
        if call == 1:
            raise BatchRejectedError("401 Unauthorized")

    writer = RecordingWriter(fail=refuse)
    exporter = make(writer, max_batch_size=100)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for span in ended_spans(10):
            exporter.submit(span)
        assert exporter.flush(10)
        exporter.submit(ended_spans(1, prefix="later")[0])
        assert exporter.flush(10)
    assert (10, 1, 2) == (exporter.stats["dropped"], exporter.stats["written"], writer.calls)
    assert ["later0"] == writer.written
    assert 1 == caplog.text.count("401 Unauthorized")


def test_flush_requests_are_not_counted_as_spans(
    make: Callable[..., BackgroundExporter],
) -> None:
    """Flushes that time out during an outage leave markers queued; the counts ignore them
    and count the spans held by the hung writer as pending."""
    writer = RecordingWriter()
    writer.gate.clear()  # the sink hangs
    exporter = make(writer, max_batch_size=100)
    for span in ended_spans(3):
        exporter.submit(span)
    for _ in range(4):
        assert exporter.flush(0.01) is False
    # The three spans are in the hung writer's hands (pending); the four markers are not spans.
    assert (3, 3) == (exporter.stats["queued"], exporter.stats["pending"])
    writer.gate.set()
    assert exporter.flush(10)
    assert {"queued": 3, "written": 3, "retried": 0, "dropped": 0, "pending": 0} == exporter.stats


def test_an_idle_worker_retires_and_the_next_span_brings_one_back(
    make: Callable[..., BackgroundExporter],
) -> None:
    """After idle_timeout without spans the thread ends (closing the writer); spans still go."""
    writer = RecordingWriter()
    exporter = make(writer, idle_timeout=0.05)
    for span in ended_spans(2):
        exporter.submit(span)
    assert exporter.flush(10)
    deadline = time.monotonic() + 10
    while exporter._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert exporter._thread is None
    assert 1 == writer.closed
    assert not any(t.name == "span-export-test" for t in threading.enumerate())
    exporter.submit(ended_spans(1, prefix="later")[0])
    assert exporter.flush(10)
    assert ["s0", "s1", "later0"] == writer.written
    assert {"queued": 3, "written": 3, "retried": 0, "dropped": 0, "pending": 0} == exporter.stats


def test_a_crashed_worker_is_replaced_by_the_next_span(
    make: Callable[..., BackgroundExporter],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in the worker loop is logged; the next span starts a fresh worker."""
    writer = RecordingWriter()
    exporter = make(writer)
    original = exporter._drain
    calls: list[int] = []

    def drain_once_broken() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker bug")
        original()

    monkeypatch.setattr(exporter, "_drain", drain_once_broken)
    exporter.submit(ended_spans(1)[0])
    deadline = time.monotonic() + 10
    while exporter._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "worker bug" in caplog.text
    exporter.submit(ended_spans(1, prefix="next")[0])
    assert exporter.flush(10)
    assert ["s0", "next0"] == writer.written


def test_a_crashed_worker_counts_what_it_held_and_lets_flush_go(
    make: Callable[..., BackgroundExporter],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker bug while holding a batch: the batch is counted dropped (not left pending
    forever) and a flush waiting for it returns False instead of hanging."""
    writer = RecordingWriter()
    exporter = make(writer, max_batch_size=100, schedule_delay=60)  # woken by the flush only
    original = exporter._delivery.export
    calls: list[int] = []

    def export_once_broken(batch: Sequence[Trace]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker bug")
        original(batch)

    monkeypatch.setattr(exporter._delivery, "export", export_once_broken)
    for span in ended_spans(3):
        exporter.submit(span)
    flushed = exporter.flush(None)  # the marker travels with the batch the worker holds
    assert (False, 3, 0) == (flushed, exporter.stats["dropped"], exporter.stats["pending"])
    assert "worker bug" in caplog.text
    exporter.submit(ended_spans(1, prefix="next")[0])
    assert exporter.flush(10)
    assert ["next0"] == writer.written
