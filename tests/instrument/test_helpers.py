"""Typed helpers give hand-instrumented agents the standard keys."""

from __future__ import annotations

import asyncio
import logging

import pytest

from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.instrument import agent_turn, record_llm_call, traced_tool

tracer = InMemoryTracer()


@pytest.fixture(autouse=True)
def _fresh() -> None:
    tracer.clear()


@traced_tool(tracer=tracer)
def get_weather(city: str, unit: str = "C") -> str:
    """Weather by city."""
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"{city}: 21°{unit}"


def test_traced_tool_records_name_input_and_output() -> None:
    """A tool call is a tool-invocation span with its arguments by name and its result."""
    assert "Oslo: 21°F" == get_weather("Oslo", unit="F")
    (span,) = tracer.get_traces()
    assert "tool-invocation" == span.span_name
    assert {
        "ai.trace.type": "tool-invocation",
        "ai.tool.name": "get_weather",
        "ai.tool.input": {"city": "Oslo", "unit": "F"},
        "ai.tool.output": "Oslo: 21°F",
    } == span.attributes


def test_traced_tool_records_errors_and_reraises_them() -> None:
    """A failing tool: ai.tool.error, ERROR status, exception attributes; raised unchanged."""
    with pytest.raises(LookupError, match="no such city"):
        get_weather("Atlantis")
    (span,) = tracer.get_traces()
    assert "ERROR" == span.span_status
    assert "LookupError: no such city" == span.attributes["ai.tool.error"]
    assert "LookupError" == span.attributes["exception.type"]
    assert "ai.tool.output" not in span.attributes


def test_traced_tool_on_methods_uses_self_tracer_and_leaves_self_out() -> None:
    """On a method, ``self.tracer`` is the tracer, the name may be given, ``self`` is no input."""

    class Agent:
        def __init__(self) -> None:
            self.tracer = tracer

        @traced_tool("calculator", capture_content=False)
        def calculate(self, expression: str) -> int:
            return 42

    assert 42 == Agent().calculate("6 * 7")
    (span,) = tracer.get_traces()
    assert {"ai.trace.type": "tool-invocation", "ai.tool.name": "calculator"} == span.attributes


def test_traced_tool_on_coroutines() -> None:
    """``async def`` tools are traced over the awaited call."""

    @traced_tool(tracer=tracer)
    async def lookup(order_id: str) -> str:
        await asyncio.sleep(0)
        return f"{order_id}: shipped"

    assert "A-1: shipped" == asyncio.run(lookup("A-1"))
    (span,) = tracer.get_traces()
    assert {"order_id": "A-1"} == span.attributes["ai.tool.input"]
    assert "A-1: shipped" == span.attributes["ai.tool.output"]


def test_traced_tool_without_a_tracer_runs_untraced() -> None:
    """No tracer to be found: the tool runs and returns as it would untraced."""

    @traced_tool
    def add(a: int, b: int) -> int:
        return a + b

    assert 3 == add(1, 2)
    assert [] == list(tracer.get_traces())


def test_agent_turn_records_input_response_and_inheritable_ids() -> None:
    """A turn is a converse SERVER span; conversation id and auth context reach its children."""
    with agent_turn(
        tracer, "Weather in Oslo?", conversation_id="c-7", auth_context="alice", agent_name="bot"
    ) as turn:
        get_weather("Oslo")
        turn.set_response("Oslo: 21°C")
    tool, converse = tracer.get_traces()[1], tracer.get_traces()[0]
    assert ("converse", "SERVER", "OK") == (
        converse.span_name,
        converse.span_kind,
        converse.span_status,
    )
    assert {
        "ai.trace.type": "converse",
        "ai.conversation.id": "c-7",
        "ai.auth.context": "alice",
        "ai.agent.name": "bot",
        "ai.user.input": "Weather in Oslo?",
        "ai.agent.response": "Oslo: 21°C",
    } == converse.attributes
    assert ("c-7", "alice") == (
        tool.attributes["ai.conversation.id"],
        tool.attributes["ai.auth.context"],
    )


def test_a_failing_turn_is_an_error() -> None:
    """An exception inside the turn marks it ERROR and propagates."""
    with pytest.raises(ValueError, match="boom"), agent_turn(tracer, "hi"):
        raise ValueError("boom")
    assert "ERROR" == tracer.get_traces()[0].span_status


REQUEST = {
    "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
    "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
    "system": [{"text": "Be brief."}],
    "inferenceConfig": {"maxTokens": 50},
}
RESPONSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 4, "outputTokens": 2, "totalTokens": 6},
    "metrics": {"latencyMs": 120},
}


def test_record_llm_call_writes_the_instrumentations_keys() -> None:
    """A Converse-shaped request and response become the llm-invocation attributes."""
    with tracer.trace("llm-invocation", span_kind="CLIENT") as span:
        record_llm_call(span, REQUEST, RESPONSE)
    assert {
        "ai.trace.type": "llm-invocation",
        "ai.llm.request.operation": "Converse",
        "ai.llm.request.model.id": "anthropic.claude-3-haiku-20240307-v1:0",
        "peer.service": "llm:anthropic.claude-3-haiku-20240307-v1:0",
        "ai.llm.request.messages": REQUEST["messages"],
        "ai.llm.request.system": REQUEST["system"],
        "ai.llm.request.inference.config": {"maxTokens": 50},
        "ai.llm.response.output": RESPONSE["output"],
        "ai.llm.response.stop.reason": "end_turn",
        "ai.llm.response.usage": RESPONSE["usage"],
        "ai.llm.response.metrics": {"latencyMs": 120},
    } == tracer.get_traces()[0].attributes


def test_record_llm_call_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    """A malformed response is logged, not raised."""
    with (
        caplog.at_level(logging.ERROR, logger="generative_ai_toolkit.tracer"),
        tracer.trace("llm-invocation") as span,
    ):
        record_llm_call(span, REQUEST, "not a dict")  # type: ignore[arg-type]
    assert "recording an LLM call" in caplog.text
