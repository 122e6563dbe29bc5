"""Snapshots of open spans in the in-process tracers, and ``IterableTracer``."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import threading
import time

import pytest

from generative_ai_toolkit.tracer import (
    HumanReadableTracer,
    InMemoryTracer,
    IterableTracer,
    NoopTracer,
    TeeTracer,
    Trace,
)
from generative_ai_toolkit.tracer.sampling import TailSampler, TraceIdRatio
from generative_ai_toolkit.tracer.testing import StepClock


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_an_iterable_tracer_yields_snapshots_then_the_ended_span() -> None:
    tracer = IterableTracer(clock=StepClock())
    with tracer.trace("converse") as root:
        root.add_attribute("ai.conversation.id", "c-1", inheritable=True)
        with tracer.trace("llm") as llm:
            llm.emit_snapshot()
    records = list(tracer.records(timeout=0))
    assert [("llm", False), ("llm", True), ("converse", True)] == [
        (r.span_name, r.is_ended) for r in records
    ]
    assert {"ai.conversation.id": "c-1"} == records[0].attributes
    assert {"buffered": 0, "delivered": 3, "dropped": 0} == {
        k: tracer.stats[k] for k in ("buffered", "delivered", "dropped")
    }


def test_get_waits_at_most_its_timeout_and_close_ends_the_iteration() -> None:
    tracer = IterableTracer()
    assert tracer.get(timeout=0.01) is None
    threading.Timer(0.05, tracer.close).start()
    assert [] == list(tracer)  # blocks until closed
    with tracer.trace("after close"):
        pass
    assert tracer.get(timeout=0) is None


@pytest.mark.parametrize(
    ("on_full", "kept"), [("drop_oldest", ["2", "3"]), ("drop_newest", ["0", "1"])]
)
def test_a_full_buffer_drops_one_record_counted_and_logged_once(
    on_full: str, kept: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    tracer = IterableTracer(max_buffer=2, on_full=on_full, snapshot_interval=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, "generative_ai_toolkit.tracer"):
        for n in range(4):
            with tracer.trace(str(n)):
                pass
    assert kept == [r.span_name for r in tracer.records(timeout=0)]
    assert 2 == tracer.stats["dropped"]
    assert 1 == sum("buffer full" in r.getMessage() for r in caplog.records)


def test_an_iterable_tracer_is_an_async_iterator_that_never_blocks_the_loop() -> None:
    tracer = IterableTracer(snapshot_interval=None)

    async def consume() -> list[str]:
        names: list[str] = []
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())

        def agent() -> None:
            for n in range(3):
                time.sleep(0.05)
                with tracer.trace(f"span {n}"):
                    pass
            tracer.close()

        threading.Thread(target=agent).start()
        async for span in tracer:
            names.append(span.span_name)
        ticker.cancel()
        assert ticks > 3  # the loop kept running while the consumer waited
        return names

    assert ["span 0", "span 1", "span 2"] == asyncio.run(consume())


def test_in_memory_snapshots_are_off_by_default_and_automatic_when_asked() -> None:
    quiet = InMemoryTracer()
    with quiet.trace("long"):
        time.sleep(0.4)
    assert "snapshots" not in quiet.stats
    tracer = InMemoryTracer(snapshot_interval=60)
    with tracer.trace("long") as long:
        _wait_for(lambda: tracer.get_traces(include_open=True), "no automatic snapshot")
        (seen,) = tracer.get_traces(include_open=True)
        assert (long.span_id, False) == (seen.span_id, seen.is_ended)
        assert [] == tracer.get_traces()
    assert [True] == [s.is_ended for s in tracer.get_traces(include_open=True)]
    assert 1 == tracer.stats["snapshots"]


def test_the_console_marks_snapshots_open() -> None:
    stream = io.StringIO()
    tracer = HumanReadableTracer(stream=stream, clock=StepClock())
    with tracer.trace("llm") as llm:
        llm.emit_snapshot()
    first, second = stream.getvalue().split("\n\n")[:2]
    assert first.startswith("(open) [")
    assert second.startswith("[")


def test_a_tee_sends_snapshots_to_the_tracers_that_take_them() -> None:
    takes = InMemoryTracer(snapshot_interval=1)
    ignores = InMemoryTracer()
    tee = TeeTracer(takes, ignores)
    with tee.trace("llm") as llm:
        llm.emit_snapshot()
        assert [False] == [s.is_ended for s in takes.get_traces(include_open=True)]
        assert [] == ignores.get_traces(include_open=True)
        _wait_for(lambda: tee.stats.get("snapshots", 0) >= 1, "the tee took no snapshot")


def test_samplers_deciding_at_the_end_take_no_snapshots_and_unrecorded_spans_none() -> None:
    tail = InMemoryTracer(snapshot_interval=1, sampler=TailSampler())
    with tail.trace("llm") as llm:
        llm.emit_snapshot()
        assert [] == tail.get_traces(include_open=True)
    head = InMemoryTracer(snapshot_interval=1, sampler=TraceIdRatio(0.0))
    with head.trace("unrecorded") as span:
        span.emit_snapshot()
        time.sleep(0.4)
    assert [] == head.get_traces(include_open=True)
    with NoopTracer().trace("x") as noop:
        noop.emit_snapshot()


def test_a_snapshot_is_read_only() -> None:
    tracer = InMemoryTracer(clock=StepClock())
    with tracer.trace("llm") as llm:
        llm.emit_snapshot()
        (snap,) = tracer.get_traces(include_open=True)
    snap.add_attribute("x", 1)
    snap.set_status("ERROR")
    snap.end()
    assert ({}, "UNSET", False) == (snap.attributes, snap.span_status, snap.is_ended)
    assert isinstance(snap, Trace)


@pytest.mark.parametrize("bad", [0, -1, True, "5"])
def test_a_bad_snapshot_interval_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="snapshot_interval must be a positive number"):
        InMemoryTracer(snapshot_interval=bad)  # type: ignore[arg-type]


def test_a_forked_child_never_snapshots_the_spans_its_parent_runs() -> None:
    tracer = InMemoryTracer(snapshot_interval=0.3)
    with tracer.trace("parent's call") as parents:
        _wait_for(lambda: tracer.get_traces(include_open=True), "no snapshot in the parent")
        pid = os.fork()
        if pid == 0:  # the child: it snapshots its own spans only

            def seen() -> dict[str, int]:
                return {
                    s.span_name: s.snapshot_time_ns  # type: ignore[attr-defined]
                    for s in tracer.get_traces(include_open=True)
                }

            before = seen()[parents.span_name]
            with tracer.trace("child's call"):
                time.sleep(0.8)  # the parent's span would be due again twice over
                after = seen()
            os._exit(0 if after[parents.span_name] == before and "child's call" in after else 1)
        _, status = os.waitpid(pid, 0)
    assert 0 == os.waitstatus_to_exitcode(status)
