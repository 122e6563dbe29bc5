"""The span model: ids, kinds, times, attributes, inheritance, errors and snapshots."""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime

import pytest

from generative_ai_toolkit.tracer import InMemoryTracer, NoCurrentTraceError, Scope, Trace
from generative_ai_toolkit.tracer.testing import SequentialIds, StepClock


@pytest.fixture
def tracer() -> InMemoryTracer:
    """An in-memory tracer with a deterministic clock and ids."""
    return InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())


def test_ids_are_lowercase_hex_of_fixed_width_and_children_share_the_trace() -> None:
    """trace_id is 32 hex digits, span_id 16; a child shares the trace and points to its parent."""
    tracer = InMemoryTracer()
    with tracer.trace("parent") as parent, tracer.trace("child") as child:
        pass
    assert re.fullmatch(r"[0-9a-f]{32}", parent.trace_id)
    assert re.fullmatch(r"[0-9a-f]{16}", parent.span_id)
    assert parent.trace_id != "0" * 32
    assert parent.span_id != "0" * 16
    assert (child.trace_id, child.parent_span_id) == (parent.trace_id, parent.span_id)
    assert parent.parent_span_id is None


def test_unknown_span_kind_is_a_value_error_when_the_span_is_opened(tracer: InMemoryTracer) -> None:
    """Only the five OpenTelemetry kinds are accepted."""
    for kind in ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"):
        with tracer.trace("ok", span_kind=kind) as span:
            pass
        assert kind == span.span_kind
    with pytest.raises(ValueError, match="span_kind must be one of"):
        tracer.trace("bad", span_kind="server")


def test_times_are_aware_utc_datetimes_with_microseconds(tracer: InMemoryTracer) -> None:
    """started_at/ended_at come from the clock, in UTC, to the microsecond."""
    with tracer.trace("span") as span:
        assert span.ended_at is None
    assert datetime(2025, 4, 15, 20, 24, 45, 208275, tzinfo=UTC) == span.started_at
    assert datetime(2025, 4, 15, 20, 24, 45, 209275, tzinfo=UTC) == span.ended_at
    assert 1_000_000 == span.duration_ns


def test_a_clock_stepping_backwards_never_yields_a_negative_duration() -> None:
    """Durations are never negative, even if an injected clock goes back in time."""
    clock = StepClock()
    tracer = InMemoryTracer(clock=clock)
    with tracer.trace("span") as span:
        clock.advance(-10_000_000_000)
    assert span.duration_ns is not None
    assert span.duration_ns > 0


def test_default_clock_is_monotonic_so_durations_are_never_negative() -> None:
    """With the default clock, every span ends at or after it started."""
    tracer = InMemoryTracer()
    for _ in range(1000):
        with tracer.trace("s"):
            pass
    assert all(t.ended_at and t.ended_at >= t.started_at for t in tracer.get_traces())


def test_scope_prints_as_name_at_version() -> None:
    """The default scope is generative-ai-toolkit@current; it can be replaced per tracer."""
    with InMemoryTracer().trace("s") as span:
        pass
    assert "generative-ai-toolkit@current" == repr(span.scope)
    assert ("generative-ai-toolkit", "current") == (span.scope.name, span.scope.version)
    with InMemoryTracer(scope=Scope("my-agent", "1.2")).trace("s") as other:
        pass
    assert "my-agent@1.2" == repr(other.scope)


def test_attribute_values_are_frozen_at_the_call(tracer: InMemoryTracer) -> None:
    """Mutating a list or dict after add_attribute does not change the span."""
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    with tracer.trace("span") as span:
        span.add_attribute("messages", messages)
        messages[0]["role"] = "changed"
        messages.append({"role": "assistant"})
    assert {"messages": [{"role": "user", "content": [{"text": "hi"}]}]} == span.attributes


def test_attributes_handed_out_are_copies(tracer: InMemoryTracer) -> None:
    """Changing what `attributes` returned never changes the stored span."""
    with tracer.trace("span") as span:
        span.add_attribute("list", [1, 2])
    span.attributes["list"].append(3)
    span.attributes["new"] = 1
    assert {"list": [1, 2]} == tracer.get_traces()[0].attributes


def test_unhashable_and_odd_keys_are_stored_as_text(tracer: InMemoryTracer) -> None:
    """A non-text key is stored under its text rather than raising."""
    with tracer.trace("span") as span:
        span.add_attribute(42, "x")  # type: ignore[arg-type]
    assert {"42": "x"} == span.attributes


def test_inheritable_attributes_reach_every_descendant_own_keys_first(
    tracer: InMemoryTracer,
) -> None:
    """Own keys come first, then inherited ones; own values win; nearer ancestors win."""
    with tracer.trace("root") as root:
        root.add_attribute("a", "root", inheritable=True)
        root.add_attribute("b", "root", inheritable=True)
        root.add_attribute("private", 1)
        with tracer.trace("middle") as middle:
            middle.add_attribute("b", "middle", inheritable=True)
            with tracer.trace("leaf") as leaf:
                leaf.add_attribute("own", 1)
                leaf.add_attribute("a", "leaf")
    assert {"own": 1, "a": "leaf", "b": "middle"} == leaf.attributes
    assert ["own", "a", "b"] == list(leaf.attributes)
    assert ("b",) == leaf.inherited_attribute_keys
    assert {"b": "middle", "a": "root"} == middle.attributes
    assert {"a": "root", "b": "root", "private": 1} == root.attributes


def test_a_span_carries_what_its_ancestors_hold_when_it_ends(tracer: InMemoryTracer) -> None:
    """An inheritable attribute added to the parent before the child ends reaches the child;
    one added after the child ended does not."""
    with tracer.trace("parent") as parent:
        with tracer.trace("early") as early:
            parent.add_attribute("before", 1, inheritable=True)
        parent.add_attribute("after", 2, inheritable=True)
    assert {"before": 1} == early.attributes


def test_overwriting_an_inheritable_attribute_as_plain_stops_inheritance(
    tracer: InMemoryTracer,
) -> None:
    """The latest add_attribute call decides whether a key is inherited."""
    with tracer.trace("parent") as parent:
        parent.add_attribute("k", 1, inheritable=True)
        parent.add_attribute("k", 2)
        with tracer.trace("child") as child:
            pass
    assert {} == child.attributes


def test_add_attribute_after_end_warns_and_changes_nothing(
    tracer: InMemoryTracer, caplog: pytest.LogCaptureFixture
) -> None:
    """Late attributes are ignored with a warning, never raised."""
    with tracer.trace("span") as span:
        span.add_attribute("a", 1)
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        span.add_attribute("b", 2)
    assert {"a": 1} == tracer.get_traces()[0].attributes
    assert "after it ended" in caplog.text


def test_an_exception_marks_the_span_and_propagates_unchanged(tracer: InMemoryTracer) -> None:
    """ERROR status and exception.* attributes; the very same exception reaches the caller."""
    error = KeyError("missing")
    with pytest.raises(KeyError) as raised, tracer.trace("span"):
        raise error
    assert raised.value is error
    (span,) = tracer.get_traces()
    assert "ERROR" == span.span_status
    assert "KeyError" == span.attributes["exception.type"]
    assert "'missing'" == span.attributes["exception.message"]
    assert "KeyError: 'missing'" in span.attributes["exception.traceback"]


def test_an_exception_whose_str_fails_is_still_recorded(tracer: InMemoryTracer) -> None:
    """A broken __str__ in the user's exception does not replace it."""

    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    with pytest.raises(Weird), tracer.trace("span"):
        raise Weird
    assert "ERROR" == tracer.get_traces()[0].span_status


def test_set_status(tracer: InMemoryTracer) -> None:
    """OK and ERROR can be set explicitly."""
    with tracer.trace("span") as span:
        span.set_status("OK")
    assert "OK" == span.span_status


@pytest.mark.parametrize(
    ("given", "expected"), [("error", "ERROR"), ("Ok", "OK"), ("unset", "UNSET")]
)
def test_set_status_accepts_any_case(tracer: InMemoryTracer, given: str, expected: str) -> None:
    """set_status("error") is set_status("ERROR")."""
    with tracer.trace("span") as span:
        span.set_status("OK" if expected != "OK" else "ERROR")
        span.set_status(given)
    assert expected == span.span_status


def test_a_bad_status_is_logged_never_raised(
    tracer: InMemoryTracer, caplog: pytest.LogCaptureFixture
) -> None:
    """An unknown status leaves the span as it was and logs a warning naming the value."""
    with tracer.trace("span") as span:
        span.set_status("OK")
        span.set_status("FINE")
        span.set_status(None)  # type: ignore[arg-type]
    assert "OK" == span.span_status
    assert 2 == sum("'FINE'" in r.message or "None" in r.message for r in caplog.records)


def test_set_context_applies_in_every_thread_and_can_be_undone(tracer: InMemoryTracer) -> None:
    """Resource attributes are tracer-wide; the returned callable restores the previous ones."""
    restore = tracer.set_context(resource_attributes={"service.name": "A"})
    seen: list[dict[str, object]] = []

    def work() -> None:
        with tracer.trace("in-thread") as span:
            pass
        seen.append(span.resource_attributes)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    restore()
    with tracer.trace("after") as after:
        pass
    assert [{"service.name": "A"}] == seen
    assert {} == after.resource_attributes


def test_current_trace_is_the_innermost_open_span(tracer: InMemoryTracer) -> None:
    """Inside nested spans current_trace is the inner one; back outside, the outer one."""
    with tracer.trace("outer") as outer:
        with tracer.trace("inner") as inner:
            assert inner is tracer.current_trace
        assert outer is tracer.current_trace


def test_current_trace_outside_any_span_names_the_problem(tracer: InMemoryTracer) -> None:
    """Reading current_trace outside a span raises a clear error."""
    with pytest.raises(NoCurrentTraceError, match="outside any span of this tracer"):
        _ = tracer.current_trace


def test_spans_of_different_tracers_do_not_adopt_each_other() -> None:
    """A tracer's span nested in another tracer's span is a root of its own tracer, and the
    other tracer's inner spans still find their parent across it."""
    a, b = InMemoryTracer(), InMemoryTracer()
    with a.trace("a-outer") as a_outer, b.trace("b") as b_span, a.trace("a-inner") as a_inner:
        assert b_span is b.current_trace
    assert b_span.parent_span_id is None
    assert a_outer.span_id == a_inner.parent_span_id


def test_repr_and_as_dict_show_the_same_fields(tracer: InMemoryTracer) -> None:
    """as_dict has the fields of repr, in the JSON log's order."""
    tracer.set_context(resource_attributes={"service.name": "S"})
    with tracer.trace("span", span_kind="CLIENT") as span:
        span.add_attribute("k", [1])
    data = span.as_dict()
    assert [
        "span_name",
        "span_kind",
        "trace_id",
        "span_id",
        "parent_span_id",
        "started_at",
        "ended_at",
        "attributes",
        "span_status",
        "resource_attributes",
        "scope",
    ] == list(data)
    assert {"name": "generative-ai-toolkit", "version": "current"} == data["scope"]
    assert repr(span).startswith("Trace(span_name='span', span_kind='CLIENT', trace_id='")
    assert "attributes={'k': [1]}" in repr(span)


def test_restore_and_from_dict_rebuild_an_equal_span(tracer: InMemoryTracer) -> None:
    """A stored span read back has the same repr as the original."""
    with tracer.trace("parent"), tracer.trace("child") as child:
        child.add_attribute("k", {"nested": [1, 2.5, None]})
    assert repr(child) == repr(Trace.from_dict(child.as_dict()))
    text_times = {
        **child.as_dict(),
        "started_at": str(child.started_at),
        "ended_at": str(child.ended_at),
    }
    assert repr(child) == repr(Trace.from_dict(text_times))


def test_remote_parent_continues_a_trace_from_another_process(tracer: InMemoryTracer) -> None:
    """A span opened with a remote parent joins that trace under that span id."""
    parent = Trace.remote_parent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    with tracer.trace("handler", parent=parent) as span, tracer.trace("inner") as inner:
        pass
    assert ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331") == (
        span.trace_id,
        span.parent_span_id,
    )
    assert span.span_id == inner.parent_span_id
    with pytest.raises(ValueError, match="all zeros"):
        Trace.remote_parent("0" * 32, "b7ad6b7169203331")


def test_ending_twice_is_harmless(tracer: InMemoryTracer) -> None:
    """end() is idempotent: the span is persisted once."""
    with tracer.trace("span") as span:
        pass
    span.end()
    assert 1 == len(tracer.get_traces())
