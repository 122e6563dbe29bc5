"""A multi-turn tool-using agent on Bedrock's Converse API, traced with no hand-written LLM keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generative_ai_toolkit.tracer import InMemoryTracer, Trace
from generative_ai_toolkit.tracer.demo import BedrockRequest, BedrockServer, ModelAnswer, ToolUse

from .conftest import llm_spans

TOOLS: dict[str, Callable[[dict[str, Any]], str]] = {
    "get_weather": lambda arguments: f"{arguments['city']}: 21°C, sunny",
}
TOOL_CONFIG = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Weather by city",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {}}}},
            }
        }
    ]
}


def weather_model(request: BedrockRequest) -> ModelAnswer:
    """Asks for the weather tool when the last message is the user's, answers from its result."""
    last = request.body["messages"][-1]
    result = next((c["toolResult"] for c in last["content"] if "toolResult" in c), None)
    if result is not None:
        return ModelAnswer(text=f"It is {result['content'][0]['text']}")
    if "weather" in last["content"][0]["text"]:
        return ModelAnswer(
            tool_uses=[
                ToolUse(f"t-{len(request.body['messages'])}", "get_weather", {"city": "Lisbon"})
            ]
        )
    return ModelAnswer(text="You're welcome.")


def converse(client: Any, tracer: InMemoryTracer, user_input: str, history: list[Any]) -> str:
    """One agent turn: a converse span, model calls until an answer, a span per tool call."""
    with tracer.trace("converse", span_kind="SERVER") as turn:
        turn.add_attribute("ai.trace.type", "converse")
        turn.add_attribute("ai.conversation.id", "c-1", inheritable=True)
        turn.add_attribute("ai.user.input", user_input)
        history.append({"role": "user", "content": [{"text": user_input}]})
        while True:
            response = client.converse(
                modelId="amazon.nova-lite-v1:0", messages=history, toolConfig=TOOL_CONFIG
            )
            message = response["output"]["message"]
            history.append(message)
            if response["stopReason"] != "tool_use":
                answer: str = message["content"][0]["text"]
                turn.add_attribute("ai.agent.response", answer)
                return answer
            results = [
                run_tool(tracer, block["toolUse"])
                for block in message["content"]
                if "toolUse" in block
            ]
            history.append({"role": "user", "content": results})


def run_tool(tracer: InMemoryTracer, tool_use: dict[str, Any]) -> dict[str, Any]:
    with tracer.trace("tool-invocation") as span:
        span.add_attribute("ai.trace.type", "tool-invocation")
        span.add_attribute("ai.tool.name", tool_use["name"])
        output = TOOLS[tool_use["name"]](tool_use["input"])
        return {"toolResult": {"toolUseId": tool_use["toolUseId"], "content": [{"text": output}]}}


def test_a_tool_using_conversation_is_traced_turn_by_turn(
    bedrock: BedrockServer, tracer: InMemoryTracer, traced_client: Any
) -> None:
    """Each turn is a converse span holding its LLM calls and tool calls, in order, with usage."""
    bedrock.responder = weather_model
    history: list[Any] = []
    assert "It is Lisbon: 21°C, sunny" == converse(
        traced_client, tracer, "What is the weather in Lisbon?", history
    )
    assert "You're welcome." == converse(traced_client, tracer, "Thanks!", history)

    spans = tracer.get_traces()
    turns = [span for span in spans if span.span_name == "converse"]
    children = {
        turn.span_id: [s.span_name for s in spans if s.parent_span_id == turn.span_id]
        for turn in turns
    }
    assert [
        ["llm-invocation", "tool-invocation", "llm-invocation"],
        ["llm-invocation"],
    ] == [children[turn.span_id] for turn in turns]

    calls = llm_spans(tracer)
    assert ["tool_use", "end_turn", "end_turn"] == [
        span.attributes["ai.llm.response.stop.reason"] for span in calls
    ]
    assert [1, 3, 5] == [len(span.attributes["ai.llm.request.messages"]) for span in calls]
    assert all(span.attributes["ai.conversation.id"] == "c-1" for span in calls)  # inherited
    assert all(span.attributes["ai.llm.request.tool.config"] == TOOL_CONFIG for span in calls)
    usage = [span.attributes["ai.llm.response.usage"] for span in calls]
    assert all(u["totalTokens"] == u["inputTokens"] + u["outputTokens"] > 0 for u in usage)
    _assert_nested_in_time(calls, turns)


def _assert_nested_in_time(inner: list[Trace], outer: list[Trace]) -> None:
    by_id = {span.span_id: span for span in outer}
    for span in inner:
        parent = by_id[span.parent_span_id or ""]
        assert parent.start_time_ns <= span.start_time_ns
        assert (span.end_time_ns or 0) <= (parent.end_time_ns or 0)
