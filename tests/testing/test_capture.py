"""``capture_spans``: what existing tracers end inside a block, without changing what they do."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import (
    BaseTracer,
    InMemoryTracer,
    SqliteTracer,
    StructuredLogsTracer,
    TeeTracer,
    Trace,
)
from generative_ai_toolkit.tracer.testing import SequentialIds, StepClock, capture_spans
from generative_ai_toolkit.tracer.testing._capture import _hooks


def names(spans: Iterable[Trace]) -> list[str]:
    """The span names, in order."""
    return [span.span_name for span in spans]


def test_records_what_ends_inside_the_block_and_the_tracer_keeps_everything() -> None:
    """Spans ended before or after the block are not recorded; the tracer stores them all."""
    tracer = InMemoryTracer()
    with tracer.trace("before"):
        pass
    with capture_spans(tracer) as spans:
        with tracer.trace("parent"), tracer.trace("child"):
            pass
        assert ["parent", "child"] == names(spans)  # live while the block runs
    with tracer.trace("after"):
        pass
    assert ["parent", "child"] == names(spans)
    spans._add(tracer.get_traces()[-1])  # a thread's span ending as the block closed
    assert ["parent", "child"] == names(spans)
    assert ["before", "parent", "child", "after"] == names(tracer.get_traces())


def test_the_tracer_is_restored_afterwards() -> None:
    """The wrapper lives on the instance for the block only, and even when the block raises."""
    tracer = InMemoryTracer()

    def fail_inside() -> None:
        with capture_spans(tracer):
            assert "persist" in vars(tracer)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert "persist" not in vars(tracer)
    assert {} == _hooks


def test_a_persist_set_on_the_instance_is_restored() -> None:
    """A tracer whose instance already had its own persist gets that one back."""
    tracer = InMemoryTracer()
    kept: list[Trace] = []
    tracer.persist = kept.append  # type: ignore[method-assign,assignment]
    with capture_spans(tracer) as spans, tracer.trace("s"):
        pass
    assert kept.append == vars(tracer)["persist"]
    assert ["s"] == names(kept) == names(spans)


def test_a_failing_tracer_still_fails_as_before_and_the_span_is_recorded() -> None:
    """What persist raises is counted by the tracer as without the capture."""

    class Broken(BaseTracer):
        def persist(self, trace: Trace) -> None:
            raise OSError("disk full")

    tracer = Broken()
    with capture_spans(tracer) as spans, tracer.trace("s"):
        pass
    assert ["s"] == names(spans)
    assert {"persist_errors": 1} == tracer.stats


def test_output_is_unchanged_by_the_capture() -> None:
    """A JSON-lines tracer writes the same lines with and without a capture."""

    def run(capture: bool) -> str:
        stream = io.StringIO()
        tracer = StructuredLogsTracer(
            stream=stream, clock=StepClock(), id_generator=SequentialIds()
        )
        if capture:
            with capture_spans(tracer), tracer.trace("a"), tracer.trace("b"):
                pass
        else:
            with tracer.trace("a"), tracer.trace("b"):
                pass
        return stream.getvalue()

    assert run(capture=False) == run(capture=True)


def test_background_exporting_tracers_are_captured_and_still_write(tmp_path: Path) -> None:
    """SqliteTracer (the export engine's tracers) stores what the capture recorded."""
    tracer = SqliteTracer(tmp_path / "traces.sqlite3")
    try:
        with capture_spans(tracer) as spans, tracer.trace("turn"), tracer.trace("tool"):
            pass
        assert tracer.flush(10)
        assert ["turn", "tool"] == names(spans)
        assert ["turn", "tool"] == names(tracer.get_traces())
    finally:
        tracer.shutdown()


def test_a_tee_and_its_tracers_record_each_span_once() -> None:
    """Capturing a tee and one of its tracers together records each span once."""
    memory = InMemoryTracer()
    tee = TeeTracer(memory)
    with capture_spans(tee, memory) as spans, tee.trace("s"):
        pass
    assert ["s"] == names(spans)
    with capture_spans(memory) as only_memory, tee.trace("t"):
        pass
    assert ["t"] == names(only_memory)
    assert ["s", "t"] == names(memory.get_traces())


def test_captures_nest_and_each_records_its_own_block() -> None:
    """An inner capture sees its block; the outer one sees everything in its own."""
    tracer = InMemoryTracer()
    with capture_spans(tracer) as outer:
        with tracer.trace("a"):
            pass
        with capture_spans(tracer) as inner, tracer.trace("b"):
            pass
        with tracer.trace("c"):
            pass
    assert ["a", "b", "c"] == names(outer)
    assert ["b"] == names(inner)
    assert "persist" not in vars(tracer)


def test_overlapping_captures_that_are_equal_close_their_own_sink() -> None:
    """Closing the later of two captures (both still empty, so equal) leaves the earlier one
    recording."""
    tracer = InMemoryTracer()
    first = capture_spans(tracer)
    second = capture_spans(tracer)
    first_spans = first.__enter__()
    second_spans = second.__enter__()
    second.__exit__(None, None, None)
    with tracer.trace("s"):
        pass
    first.__exit__(None, None, None)
    assert ["s"] == names(first_spans)
    assert [] == names(second_spans)


def test_spans_from_threads_and_tasks_inside_the_block_count() -> None:
    """Threads (without context propagation) and asyncio tasks end spans into one capture."""
    tracer = InMemoryTracer(memory_size=10_000)
    start = threading.Barrier(4)

    def work(n: int) -> None:
        start.wait()
        for i in range(50):
            with tracer.trace(f"thread-{n}-{i}"):
                pass

    async def task(n: int) -> None:
        with tracer.trace(f"task-{n}"):
            await asyncio.sleep(0)
            with tracer.trace(f"task-{n}-child"):
                await asyncio.sleep(0)

    async def tasks() -> None:
        await asyncio.gather(*(task(n) for n in range(20)))

    with capture_spans(tracer) as spans:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        asyncio.run(tasks())
        for thread in threads:
            thread.join()
    assert 4 * 50 + 20 * 2 == len(spans)
    assert sorted(names(tracer.get_traces())) == sorted(names(spans))
    starts = [span.start_time_ns for span in spans]
    assert sorted(starts) == starts
    children = [s for s in spans if s.span_name.endswith("-child")]
    by_id = {s.span_id: s for s in spans}
    assert all(by_id[c.parent_span_id or ""].span_name + "-child" == c.span_name for c in children)


def test_captures_opened_and_closed_in_many_threads_at_once() -> None:
    """Each thread's capture records its own span; the tracer is left unwrapped at the end."""
    tracer = InMemoryTracer(memory_size=10_000)
    start = threading.Barrier(8)
    missing: list[str] = []

    def work(n: int) -> None:
        start.wait()
        for i in range(100):
            with capture_spans(tracer) as spans, tracer.trace(f"{n}-{i}"):
                pass
            if f"{n}-{i}" not in names(spans):
                missing.append(f"{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [] == missing
    assert 800 == len(tracer.get_traces())
    assert "persist" not in vars(tracer)
    assert {} == _hooks


def test_capture_needs_a_tracer_whose_persist_can_be_wrapped() -> None:
    """No tracer, or one without an instance dict, fails clearly."""
    with pytest.raises(ValueError, match="at least one tracer"), capture_spans():
        pass

    class Slotted:
        __slots__ = ()

        def persist(self, trace: Trace) -> None:
            """Keep nothing."""

    with pytest.raises(TypeError, match="cannot capture the spans of Slotted"):  # noqa: SIM117
        with capture_spans(Slotted()):  # type: ignore[arg-type]
            pass
    assert {} == _hooks
