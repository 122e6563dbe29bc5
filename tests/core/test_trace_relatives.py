"""The notebook-era Trace API: duration_ms, parent_span and parents."""

from __future__ import annotations

import gc

from generative_ai_toolkit.tracer import InMemoryTracer, Trace
from generative_ai_toolkit.tracer.testing import SequentialIds, StepClock


def test_duration_ms_is_whole_milliseconds_and_none_while_open() -> None:
    """duration_ms is an int, rounded down; an open span has none."""
    tracer = InMemoryTracer(clock=StepClock(step_ns=2_600_000), id_generator=SequentialIds())
    with tracer.trace("work") as span:
        assert span.duration_ms is None
    assert 2 == span.duration_ms
    assert isinstance(span.duration_ms, int)


def test_parent_span_and_parents_walk_up_to_the_root() -> None:
    """parent_span is the parent Trace; parents lists the ancestors nearest first."""
    tracer = InMemoryTracer()
    with tracer.trace("root") as root, tracer.trace("child") as child:
        with tracer.trace("grandchild") as grandchild:
            assert child is grandchild.parent_span
        assert [child, root] == grandchild.parents
    assert root.parent_span is None
    assert [] == root.parents
    assert child is grandchild.parent_span  # still known once ended, in this process
    assert [child, root] == grandchild.parents


def test_spans_read_back_from_a_store_or_under_a_remote_parent_have_no_parent_span() -> None:
    """Only parent_span_id names a parent that is not a span of this process."""
    tracer = InMemoryTracer()
    remote = Trace.remote_parent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    with tracer.trace("handler", parent=remote) as span:
        pass
    assert span.parent_span is None
    assert "b7ad6b7169203331" == span.parent_span_id
    with tracer.trace("root"), tracer.trace("child") as child:
        pass
    restored = Trace.from_dict(child.as_dict())
    assert restored.parent_span is None
    assert child.parent_span_id == restored.parent_span_id


def test_an_ended_parent_does_not_hold_its_children() -> None:
    """References point upwards only: a parent never pins the spans under it."""
    tracer = InMemoryTracer()
    with tracer.trace("root") as root, tracer.trace("child") as child:
        pass
    assert root in gc.get_referents(child)
    assert child not in gc.get_referents(root)
