"""InMemoryTracer's bounded, indexed store and TeeTracer's fan-out."""

from __future__ import annotations

import io
import logging

import pytest

from generative_ai_toolkit.tracer import (
    BaseTracer,
    InMemoryTracer,
    StructuredLogsTracer,
    TeeTracer,
    Trace,
)


def record(tracer: BaseTracer, name: str, **attributes: object) -> Trace:
    """One root span with the given attributes."""
    with tracer.trace(name) as span:
        for key, value in attributes.items():
            span.add_attribute(key.replace("_", "."), value)
    return span


def test_memory_size_keeps_the_newest_spans_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only memory_size spans are kept; evictions are counted and logged once."""
    tracer = InMemoryTracer(memory_size=3)
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        for n in range(5):
            record(tracer, f"s{n}", ai_conversation_id=n % 2)
    assert ["s2", "s3", "s4"] == [t.span_name for t in tracer.get_traces()]
    assert {"persist_errors": 0, "stored": 3, "evicted": 2} == tracer.stats
    assert 1 == caplog.text.count("is full")
    # The indexes forgot the evicted spans too.
    assert ["s2", "s4"] == [
        t.span_name for t in tracer.get_traces(attribute_filter={"ai.conversation.id": 0})
    ]


def test_memory_size_must_be_positive() -> None:
    """A nonsensical size fails at construction."""
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="memory_size"):
            InMemoryTracer(memory_size=bad)  # type: ignore[arg-type]


def test_get_traces_by_trace_id_returns_that_trace_sorted_by_start() -> None:
    """Lookup by trace id returns the whole trace, parent first."""
    tracer = InMemoryTracer()
    with tracer.trace("parent") as parent, tracer.trace("child"):
        pass
    record(tracer, "other")
    assert ["parent", "child"] == [t.span_name for t in tracer.get_traces(trace_id=parent.trace_id)]
    assert [] == tracer.get_traces(trace_id="f" * 32)
    with pytest.raises(ValueError, match="32 hex digits"):
        tracer.get_traces(trace_id="not-hex")


def test_attribute_filter_matches_exactly_and_includes_inherited_attributes() -> None:
    """Every key must match with the same type: True does not match 1, "1" does not match 1."""
    tracer = InMemoryTracer()
    record(tracer, "int", ai_conversation_id=1, x_flag=True)
    record(tracer, "bool", ai_conversation_id=True)
    record(tracer, "text", ai_conversation_id="1")
    with tracer.trace("parent") as parent:
        parent.add_attribute("ai.conversation.id", 1, inheritable=True)
        with tracer.trace("inheriting"):
            pass

    def names(**filters: object) -> list[str]:
        return [
            t.span_name
            for t in tracer.get_traces(
                attribute_filter={k.replace("_", "."): v for k, v in filters.items()}
            )
        ]

    assert ["int", "parent", "inheriting"] == names(ai_conversation_id=1)
    assert ["bool"] == names(ai_conversation_id=True)
    assert ["text"] == names(ai_conversation_id="1")
    assert ["int"] == names(ai_conversation_id=1, x_flag=True)
    assert [] == names(missing=1)
    assert ["int"] == names(x_flag=True)


def test_unhashable_filter_values_fall_back_to_a_scan() -> None:
    """A list-valued conversation id still filters correctly."""
    tracer = InMemoryTracer()
    record(tracer, "listy", ai_conversation_id=[1, 2])
    assert ["listy"] == [
        t.span_name for t in tracer.get_traces(attribute_filter={"ai.conversation.id": [1, 2]})
    ]


def test_conversation_queries_summarise_and_build_trees() -> None:
    """The read interface over memory: conversations, their spans, and trace trees."""
    tracer = InMemoryTracer()
    for turn in range(2):
        with tracer.trace("turn") as span:
            span.add_attribute("ai.conversation.id", 7, inheritable=True)
            span.add_attribute("ai.auth.context", "alice", inheritable=True)
            with tracer.trace("tool") as tool:
                if turn:
                    tool.set_status("ERROR")
    (summary,) = tracer.list_conversations()
    assert ("7", "alice", 4, 1, 2) == (
        summary.conversation_id,
        summary.auth_context,
        summary.span_count,
        summary.error_count,
        summary.trace_count,
    )
    assert 4 == len(tracer.conversation_spans("7"))
    assert [] == tracer.conversation_spans("7", auth_context="mallory")
    (root,) = tracer.trace_tree(span.trace_id)
    assert ["turn", "tool"] == [node.span.span_name for node in root.walk()]


def test_tee_sends_every_span_to_every_tracer_and_reads_from_the_first() -> None:
    """add_tracer chains; get_traces is answered by the first tracer added."""
    first, second, logs = InMemoryTracer(), InMemoryTracer(), io.StringIO()
    tee = TeeTracer().add_tracer(first).add_tracer(second)
    tee.add_tracer(StructuredLogsTracer(stream=logs))
    record(tee, "span")
    assert ["span"] == [t.span_name for t in first.get_traces()]
    assert ["span"] == [t.span_name for t in second.get_traces()]
    assert 1 == len(logs.getvalue().splitlines())
    assert first.get_traces() == tee.get_traces()


def test_one_failing_tracer_never_stops_the_others(caplog: pytest.LogCaptureFixture) -> None:
    """A broken tracer in the middle: the ones after it still get every span."""

    class Broken(BaseTracer):
        def persist(self, trace: Trace) -> None:
            raise ConnectionError("down")

    broken, after = Broken(), InMemoryTracer()
    tee = TeeTracer(InMemoryTracer(), broken, after)
    record(tee, "a")
    record(tee, "b")
    assert ["a", "b"] == [t.span_name for t in after.get_traces()]
    assert 2 == broken.stats["persist_errors"]
    assert "down" in caplog.text


def test_an_empty_tee_explains_get_traces() -> None:
    """With no tracers yet, get_traces says what to add."""
    with pytest.raises(NotImplementedError, match="add one that keeps spans"):
        TeeTracer().get_traces()
