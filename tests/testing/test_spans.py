"""``Spans``: ended spans in start order, and the queries agent tests ask of them."""

from __future__ import annotations

import pytest

from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.testing import (
    SequentialIds,
    Spans,
    StepClock,
    TokenUsage,
    ended_span,
)
from testing.agent import Tool, converse


@pytest.fixture
def spans() -> Spans:
    """Two turns: weather then a calculation, then an order lookup that fails."""
    tracer = InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())
    converse(
        tracer,
        "Weather in Paris, and 2+2?",
        Tool("get_weather", {"city": "Paris"}),
        Tool("calculator", {"expression": "2+2"}),
    )
    converse(
        tracer,
        "Where is order A-9?",
        Tool("lookup_order", {"order_id": "A-9"}, error="order A-9 does not exist"),
        model="fake-model-2",
        usage=(100, 20),
    )
    return Spans(tracer.get_traces())


def test_spans_are_a_sequence_in_start_order() -> None:
    """Given in any order, spans are held by start time; a slice is a Spans too."""
    late = ended_span("late", trace_id=1, span_id=1, start_ns=3_000)
    early = ended_span("early", trace_id=1, span_id=2, start_ns=1_000)
    middle = ended_span("middle", trace_id=1, span_id=3, start_ns=2_000)
    spans = Spans([late, early, middle])
    assert ["early", "middle", "late"] == [s.span_name for s in spans]
    assert 3 == len(spans)
    assert early is spans[0]
    assert isinstance(spans[1:], Spans)
    assert [middle, late] == list(spans[1:])
    assert "Spans(['early', 'middle', 'late'])" == repr(spans)


def test_spans_compare_with_lists_and_each_other() -> None:
    """Equal when they hold the same spans in the same order; unhashable, like a list."""
    first = ended_span("first", trace_id=1, span_id=1, start_ns=1)
    second = ended_span("second", trace_id=1, span_id=2, start_ns=2)
    spans = Spans([second, first])
    assert [first, second] == spans
    assert spans == (first, second)
    assert Spans([first, second]) == spans
    assert [] == Spans()
    assert [second, first] != spans
    assert spans != "first, second"
    with pytest.raises(TypeError):
        hash(spans)


def test_tool_calls_are_the_tool_invocations_by_name(spans: Spans) -> None:
    """``tool_calls()`` all of them, ``tool_calls(name)`` one tool's."""
    assert ["get_weather", "calculator", "lookup_order"] == spans.tool_calls().values(
        "ai.tool.name"
    )
    assert [{"city": "Paris"}] == spans.tool_calls("get_weather").values("ai.tool.input")
    assert [] == list(spans.tool_calls("send_email"))


def test_llm_calls_are_the_llm_invocations_by_model(spans: Spans) -> None:
    """``llm_calls()`` all of them, ``llm_calls(model)`` one model's."""
    assert 5 == len(spans.llm_calls())
    assert 3 == len(spans.llm_calls("fake-model-1"))
    assert 2 == len(spans.llm_calls(model="fake-model-2"))


def test_errors_are_the_spans_with_status_error(spans: Spans) -> None:
    """The failing tool's span is the one error."""
    (error,) = spans.errors()
    assert "lookup_order" == error.attributes["ai.tool.name"]
    assert "LookupError" == error.attributes["exception.type"]


def test_turns_are_converse_spans_with_their_descendants(spans: Spans) -> None:
    """One Spans per turn, the converse span first, then the rest of the turn by start."""
    first, second = spans.turns()
    assert ["converse", "llm-invocation", "tool-invocation"] == [s.span_name for s in first[:3]]
    assert 6 == len(first)
    assert ["lookup_order"] == second.tool_calls().values("ai.tool.name")
    assert "Where is order A-9?" == second[0].attributes["ai.user.input"]


def test_a_sub_agent_belongs_to_the_turn_that_called_it() -> None:
    """A converse span nested under a tool call is part of the enclosing turn."""
    tracer = InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())
    with tracer.trace("converse") as outer:
        outer.add_attribute("ai.trace.type", "converse")
        with tracer.trace("tool-invocation") as tool:
            tool.add_attribute("ai.trace.type", "tool-invocation")
            tool.add_attribute("ai.tool.name", "research")
            converse(tracer, "Find notes", Tool("search_notes", {"query": "x"}), agent="researcher")
    (turn,) = Spans(tracer.get_traces()).turns()
    assert ["research", "search_notes"] == turn.tool_calls().values("ai.tool.name")


def test_spans_without_converse_spans_have_no_turns() -> None:
    """Turns are ``converse`` spans only."""
    tracer = InMemoryTracer()
    with tracer.trace("handler"):
        pass
    assert [] == Spans(tracer.get_traces()).turns()


def test_within_is_a_span_and_its_descendants(spans: Spans) -> None:
    """The subtree of one span; empty for a span that is not among them."""
    first_turn = spans[0]
    assert spans.turns()[0][0] is first_turn
    assert list(spans.turns()[0]) == list(spans.within(first_turn))
    assert [spans[1]] == list(spans.within(spans[1]))
    assert [] == list(spans.within(ended_span("x", trace_id=9, span_id=9, start_ns=1)))


def test_filter_with_attributes_and_values(spans: Spans) -> None:
    """General queries: a predicate, exact attribute matches, one attribute's values."""
    assert 2 == len(spans.filter(lambda s: s.span_kind == "SERVER"))
    # Inherited attributes count, and matching is exact (same type, equal value).
    assert 10 == len(spans.with_attributes({"ai.conversation.id": "c-1"}))
    assert 0 == len(spans.with_attributes({"ai.conversation.id": 1}))
    assert ["Weather in Paris, and 2+2?", "Where is order A-9?"] == spans.values("ai.user.input")


def test_tokens_sum_the_usage_of_the_llm_calls(spans: Spans) -> None:
    """3 calls of 10/5 and 2 calls of 100/20; per turn too."""
    assert TokenUsage(input=230, output=55, total=285) == spans.tokens()
    assert TokenUsage(input=30, output=15, total=45) == spans.turns()[0].tokens()
    assert TokenUsage() == Spans().tokens()


def test_tokens_read_either_spelling_and_add_up_a_missing_total() -> None:
    """Snake-case counts count; without a reported total, input plus output is the total."""
    usages = [
        {"input_tokens": 7, "output_tokens": 3},
        {"inputTokens": 1, "outputTokens": 2, "totalTokens": 4},
        {"outputTokens": 5},
        "not a mapping",
    ]
    spans = Spans(
        ended_span(
            "llm", trace_id=1, span_id=n, start_ns=n, attributes={"ai.llm.response.usage": usage}
        )
        for n, usage in enumerate(usages, start=1)
    )
    assert TokenUsage(input=8, output=10, total=19) == spans.tokens()


def test_queries_work_on_spans_read_back_from_a_store() -> None:
    """Spans rebuilt from stored fields answer the same queries."""
    stored = [
        ended_span(
            "tool-invocation",
            trace_id=1,
            span_id=2,
            parent_id=1,
            start_ns=2,
            attributes={"ai.trace.type": "tool-invocation", "ai.tool.name": "get_weather"},
            status="ERROR",
        ),
        ended_span(
            "converse", trace_id=1, span_id=1, start_ns=1, attributes={"ai.trace.type": "converse"}
        ),
    ]
    spans = Spans(stored)
    assert 1 == len(spans.tool_calls("get_weather"))
    assert 1 == len(spans.errors())
    assert [2] == [len(turn) for turn in spans.turns()]
