"""One snapshot contract, every store: open spans are kept as one record per span, replaced by
a newer snapshot or by the end, never the other way round, and read only on request.

Each factory gives a tracer and a ``read(include_open)`` over what its store holds. Snapshots
are written with ``Trace.emit_snapshot()`` or handed to the tracer as another process (or a
later batch of the queue) would hand them: late, with no live span behind them.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import (
    BaseTracer,
    InMemoryTracer,
    SpanListQuery,
    SqliteTracer,
    StructuredLogsTracer,
    Trace,
)
from generative_ai_toolkit.tracer._snapshot import SpanSnapshot, take_snapshot
from generative_ai_toolkit.tracer.cli._jsonl import parse_span
from generative_ai_toolkit.tracer.testing import StepClock

Read = Callable[[bool], Sequence[Trace]]


@dataclass
class Store:
    tracer: BaseTracer
    read: Read


def memory(tmp_path: Path) -> Store:
    tracer = InMemoryTracer(clock=StepClock())
    return Store(tracer, lambda include_open: tracer.get_traces(include_open=include_open))


def sqlite(tmp_path: Path) -> Store:
    tracer = SqliteTracer(tmp_path / "t.sqlite3", clock=StepClock(), schedule_delay=0.01)
    return Store(tracer, lambda include_open: tracer.get_traces(include_open=include_open))


def json_lines(tmp_path: Path) -> Store:
    stream = io.StringIO()
    tracer = StructuredLogsTracer(stream=stream, clock=StepClock())

    def read(include_open: bool) -> Sequence[Trace]:
        lines = stream.getvalue().splitlines()
        query = SpanListQuery(parse_span(line.encode()) for line in lines)
        return query.get_traces(include_open=include_open)

    return Store(tracer, read)


STORES = [memory, sqlite, json_lines]


@pytest.fixture(params=STORES, ids=lambda f: f.__name__)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = request.param(tmp_path)
    yield made
    made.tracer.shutdown()


def _late(span: Trace, clock_ns: int) -> SpanSnapshot:
    """A snapshot of ``span`` taken at ``clock_ns`` that arrives with no live span behind it
    (from another process, or in a later batch than the end)."""
    snap = take_snapshot(span, clock_ns)
    assert snap is not None
    snap._source = None
    return snap


def test_an_open_span_is_read_only_on_request_with_what_it_would_inherit_now(
    store: Store,
) -> None:
    tracer = store.tracer
    with tracer.trace("converse") as root:
        root.add_attribute("ai.conversation.id", "c-1", inheritable=True)
        with tracer.trace("llm") as llm:
            llm.add_attribute("ai.trace.type", "llm-invocation")
            llm.emit_snapshot()
            tracer.flush()
            assert [] == list(store.read(False))
            (seen,) = store.read(True)
            assert ("llm", False, None) == (seen.span_name, seen.is_ended, seen.ended_at)
            assert {"ai.trace.type": "llm-invocation", "ai.conversation.id": "c-1"} == (
                seen.attributes
            )
            assert llm.span_id == seen.span_id
            assert root.span_id == seen.parent_span_id


def test_a_newer_snapshot_replaces_the_older_one(store: Store) -> None:
    tracer = store.tracer
    with tracer.trace("llm") as llm:
        llm.emit_snapshot()
        llm.add_attribute("step", 2)
        llm.emit_snapshot()
        tracer.flush()
        (seen,) = store.read(True)
        assert {"step": 2} == seen.attributes


def test_the_end_replaces_the_snapshot(store: Store) -> None:
    tracer = store.tracer
    with tracer.trace("llm") as llm:
        llm.emit_snapshot()
        llm.add_attribute("done", True)
    tracer.flush()
    for include_open in (True, False):
        (seen,) = store.read(include_open)
        assert (True, {"done": True}) == (seen.is_ended, seen.attributes)


def test_a_late_snapshot_never_overwrites_the_end(store: Store) -> None:
    tracer = store.tracer
    with tracer.trace("llm") as llm:
        llm.add_attribute("draft", 1)
        late = _late(llm, tracer.now_ns())
        llm.add_attribute("final", 2)
    tracer.flush()
    tracer._write_snapshot(late)
    tracer.flush()
    (seen,) = store.read(True)
    assert (True, {"draft": 1, "final": 2}) == (seen.is_ended, seen.attributes)


def test_an_older_snapshot_arriving_late_never_replaces_a_newer_one(store: Store) -> None:
    tracer = store.tracer
    with tracer.trace("llm") as llm:
        older = _late(llm, tracer.now_ns())
        llm.add_attribute("step", 2)
        newer = _late(llm, tracer.now_ns())
        tracer._write_snapshot(newer)
        tracer.flush()
        tracer._write_snapshot(older)
        tracer.flush()
        (seen,) = store.read(True)
        assert {"step": 2} == seen.attributes


def test_emit_snapshot_after_the_end_or_on_a_snapshot_does_nothing(store: Store) -> None:
    tracer = store.tracer
    with tracer.trace("llm") as llm:
        pass
    llm.emit_snapshot()
    tracer.flush()
    (seen,) = store.read(True)
    seen.emit_snapshot()
    seen.add_attribute("x", 1)
    seen.end()
    assert seen.is_ended
    assert [True] == [s.is_ended for s in store.read(True)]


def test_a_span_open_past_the_sweep_is_snapshotted_automatically_and_a_short_one_never(
    tmp_path: Path,
) -> None:
    tracer = SqliteTracer(tmp_path / "t.sqlite3", snapshot_interval=0.3)
    try:
        for _ in range(200):
            with tracer.trace("short"):
                pass
        with tracer.trace("long") as long:
            deadline = time.monotonic() + 10
            while not tracer.get_traces(include_open=True) or tracer.stats["snapshots"] < 2:
                assert time.monotonic() < deadline, "no snapshot of the open span"
                time.sleep(0.05)
            (seen,) = [s for s in tracer.get_traces(include_open=True) if not s.is_ended]
            assert long.span_id == seen.span_id
        tracer.flush()
        assert {"short"} == {s.span_name for s in tracer.get_traces()} - {"long"}
        assert not [s for s in tracer.get_traces(include_open=True) if not s.is_ended]
        assert 200 + 1 == len(tracer.get_traces(include_open=True))
    finally:
        tracer.shutdown()


def test_snapshots_are_json_lines_with_a_null_end_and_when_they_were_taken() -> None:
    stream = io.StringIO()
    tracer = StructuredLogsTracer(stream=stream, clock=StepClock())
    with tracer.trace("llm") as llm:
        llm.emit_snapshot()
    first, second = (json.loads(line)["trace"] for line in stream.getvalue().splitlines())
    assert first["ended_at"] is None
    assert "snapshot_at" in first
    assert second["ended_at"] is not None
    assert "snapshot_at" not in second
