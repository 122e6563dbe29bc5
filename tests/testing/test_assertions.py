"""The assertions: silent when they hold, and a message with the spans as a tree when not."""

from __future__ import annotations

import re
from textwrap import dedent

import pytest

from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.testing import (
    SequentialIds,
    Spans,
    StepClock,
    assert_called_tool,
    assert_no_errors,
    assert_tool_order,
)
from testing.agent import Tool, converse


@pytest.fixture
def tracer() -> InMemoryTracer:
    """A deterministic in-memory tracer."""
    return InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())


@pytest.fixture
def spans(tracer: InMemoryTracer) -> Spans:
    """One turn: the weather in Paris, then a calculation."""
    converse(
        tracer,
        "Weather in Paris, and 2+2?",
        Tool("get_weather", {"city": "Paris"}),
        Tool("calculator", {"expression": "2+2"}),
    )
    return Spans(tracer.get_traces())


def test_assert_called_tool_holds_and_returns_the_matching_calls(spans: Spans) -> None:
    """At least once by default, exactly ``times`` when given, ``input`` compared exactly."""
    calls = assert_called_tool(spans, "get_weather")
    assert [{"city": "Paris"}] == calls.values("ai.tool.input")
    assert_called_tool(spans, "get_weather", input={"city": "Paris"}, times=1)
    assert_called_tool(spans, "lookup_order", times=0)
    assert_called_tool(spans, "get_weather", input={"city": "Oslo"}, times=0)


def test_assert_called_tool_with_other_input_shows_the_calls_in_a_tree(spans: Spans) -> None:
    """The message says what was expected and what happened, then the tree, calls marked."""
    with pytest.raises(AssertionError) as failure:
        assert_called_tool(spans, "get_weather", input={"city": "Oslo"})
    assert dedent(
        """\
            expected tool 'get_weather' to be called at least once with input {'city': 'Oslo'}, \
but it was called once, never with that input.
            The spans (> marks its calls):
                converse SERVER OK agent=assistant
                  llm-invocation CLIENT model=fake-model-1 tokens=10/5
              >   tool-invocation tool=get_weather input={"city": "Paris"}
                  llm-invocation CLIENT model=fake-model-1 tokens=10/5
                  tool-invocation tool=calculator input={"expression": "2+2"}
                  llm-invocation CLIENT model=fake-model-1 tokens=10/5"""
    ) == str(failure.value)


def test_assert_called_tool_counts_calls(tracer: InMemoryTracer) -> None:
    """``times`` is exact: twice is not once."""
    converse(tracer, "Paris?", Tool("get_weather", {"city": "Paris"}))
    converse(tracer, "Paris again?", Tool("get_weather", {"city": "Paris"}))
    spans = Spans(tracer.get_traces())
    assert 2 == len(assert_called_tool(spans, "get_weather", times=2))
    with pytest.raises(AssertionError, match="to be called once, but it was called twice"):
        assert_called_tool(spans, "get_weather", times=1)
    with pytest.raises(
        AssertionError,
        match=re.escape("to be called 3 times with input {'city': 'Paris'}, but it was called "),
    ):
        assert_called_tool(spans, "get_weather", input={"city": "Paris"}, times=3)


def test_assert_called_tool_never_called_marks_the_other_tools(spans: Spans) -> None:
    """A tool that was never called: the calls that were made are marked instead."""
    with pytest.raises(AssertionError) as failure:
        assert_called_tool(spans, "send_email")
    message = str(failure.value)
    assert message.startswith(
        "expected tool 'send_email' to be called at least once, but it was never called.\n"
        "The spans (> marks the tool calls):\n"
    )
    assert 2 == message.count("\n  >")


def test_assert_called_tool_times_zero_marks_the_unwanted_calls(spans: Spans) -> None:
    """``times=0`` fails on any call, showing those calls."""
    with pytest.raises(AssertionError) as failure:
        assert_called_tool(spans, "calculator", times=0)
    message = str(failure.value)
    assert message.startswith(
        "expected tool 'calculator' never to be called, but it was called once.\n"
        "The spans (> marks those calls):\n"
    )
    assert ['  >   tool-invocation tool=calculator input={"expression": "2+2"}'] == [
        line for line in message.splitlines() if line.startswith("  >")
    ]


def test_assert_no_errors_holds_without_errors(spans: Spans) -> None:
    """No span with status ERROR: nothing happens."""
    assert_no_errors(spans)
    assert_no_errors([])


def test_assert_no_errors_shows_the_failed_spans(tracer: InMemoryTracer) -> None:
    """The errors are marked in the tree, with their messages."""
    converse(
        tracer,
        "Where is order A-9?",
        Tool("lookup_order", {"order_id": "A-9"}, error="order A-9 does not exist"),
    )
    with pytest.raises(AssertionError) as failure:
        assert_no_errors(tracer.get_traces())
    assert dedent(
        """\
            expected no errors, but 1 span ended with status ERROR.
            The spans (> marks the errors):
                converse SERVER OK agent=assistant
                  llm-invocation CLIENT model=fake-model-1 tokens=10/5
              >   tool-invocation ERROR tool=lookup_order input={"order_id": "A-9"} \
error="LookupError: order A-9 does not exist"
                  llm-invocation CLIENT model=fake-model-1 tokens=10/5"""
    ) == str(failure.value)


def test_assert_tool_order_holds_within_a_turn_with_calls_between(
    tracer: InMemoryTracer,
) -> None:
    """The named tools in this order, other calls between them allowed, in any one turn."""
    converse(tracer, "First", Tool("search", {}))
    converse(
        tracer,
        "Second",
        Tool("get_weather", {}),
        Tool("search", {}),
        Tool("calculator", {}),
    )
    spans = Spans(tracer.get_traces())
    assert_tool_order(spans, "get_weather", "calculator")
    assert_tool_order(spans, "get_weather", "search", "calculator")
    assert_tool_order(spans, "search")


def test_assert_tool_order_fails_across_turns_and_in_reverse(tracer: InMemoryTracer) -> None:
    """Two tools in different turns are not in order within one; the message lists each
    turn's tools."""
    converse(tracer, "First", Tool("calculator", {}))
    converse(tracer, "Second", Tool("get_weather", {}))
    converse(tracer, "Third")
    spans = Spans(tracer.get_traces())
    with pytest.raises(AssertionError) as failure:
        assert_tool_order(spans, "calculator", "get_weather")
    assert str(failure.value).startswith(
        "expected tools 'calculator', then 'get_weather' within one turn, but the tools called "
        "by turn were: turn 1: 'calculator'; turn 2: 'get_weather'; turn 3: no tools.\n"
        "The spans (> marks the tool calls):\n"
    )
    with pytest.raises(AssertionError):
        assert_tool_order(spans.turns()[0], "calculator", "calculator")


def test_assert_tool_order_without_turns_takes_all_spans_as_one(tracer: InMemoryTracer) -> None:
    """Tool spans outside any ``converse`` span are ordered as one turn."""
    with tracer.trace("job"):
        for name in ("fetch", "parse", "store"):
            with tracer.trace("tool-invocation") as span:
                span.add_attribute("ai.trace.type", "tool-invocation")
                span.add_attribute("ai.tool.name", name)
    spans = tracer.get_traces()
    assert_tool_order(spans, "fetch", "store")
    with pytest.raises(AssertionError, match="turn 1: 'fetch', 'parse', 'store'"):
        assert_tool_order(spans, "store", "fetch")
    with pytest.raises(ValueError, match="at least one tool name"):
        assert_tool_order(spans)
