"""A multi-turn tool-using agent on Bedrock's Converse API, traced with no hand-written LLM keys."""

from __future__ import annotations

from typing import Any

from generative_ai_toolkit.tracer import InMemoryTracer, Trace
from generative_ai_toolkit.tracer.demo import BedrockRequest, BedrockServer, ModelAnswer, ToolUse
from generative_ai_toolkit.tracer.instrument import agent_turn, traced_tool

from .conftest import llm_spans

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


class WeatherAgent:
    """A Converse tool loop; ``tracer`` is what ``@traced_tool`` methods read."""

    def __init__(self, client: Any, tracer: InMemoryTracer) -> None:
        self.client = client
        self.tracer = tracer
        self.history: list[Any] = []

    def converse(self, user_input: str) -> str:
        """One turn: model calls until an answer, running the tools the model asks for."""
        with agent_turn(
            self.tracer, user_input, conversation_id="c-1", agent_name="weather"
        ) as turn:
            self.history.append({"role": "user", "content": [{"text": user_input}]})
            while True:
                response = self.client.converse(
                    modelId="amazon.nova-lite-v1:0", messages=self.history, toolConfig=TOOL_CONFIG
                )
                message = response["output"]["message"]
                self.history.append(message)
                if response["stopReason"] != "tool_use":
                    answer: str = message["content"][0]["text"]
                    turn.set_response(answer)
                    return answer
                results = [
                    self.run_tool(block["toolUse"])
                    for block in message["content"]
                    if "toolUse" in block
                ]
                self.history.append({"role": "user", "content": results})

    def run_tool(self, tool_use: dict[str, Any]) -> dict[str, Any]:
        output = self.get_weather(**tool_use["input"])
        return {"toolResult": {"toolUseId": tool_use["toolUseId"], "content": [{"text": output}]}}

    @traced_tool
    def get_weather(self, city: str) -> str:
        return f"{city}: 21°C, sunny"


def test_a_tool_using_conversation_is_traced_turn_by_turn(
    bedrock: BedrockServer, tracer: InMemoryTracer, traced_client: Any
) -> None:
    """Each turn is a converse span holding its LLM calls and tool calls, in order, with usage."""
    bedrock.responder = weather_model
    agent = WeatherAgent(traced_client, tracer)
    assert "It is Lisbon: 21°C, sunny" == agent.converse("What is the weather in Lisbon?")
    assert "You're welcome." == agent.converse("Thanks!")

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
    (tool,) = [span for span in spans if span.span_name == "tool-invocation"]
    assert {"city": "Lisbon"} == tool.attributes["ai.tool.input"]
    assert "Lisbon: 21°C, sunny" == tool.attributes["ai.tool.output"]
    assert [
        ("What is the weather in Lisbon?", "It is Lisbon: 21°C, sunny"),
        ("Thanks!", "You're welcome."),
    ] == [
        (turn.attributes["ai.user.input"], turn.attributes["ai.agent.response"]) for turn in turns
    ]
    _assert_nested_in_time(calls, turns)


def _assert_nested_in_time(inner: list[Trace], outer: list[Trace]) -> None:
    by_id = {span.span_id: span for span in outer}
    for span in inner:
        parent = by_id[span.parent_span_id or ""]
        assert parent.start_time_ns <= span.start_time_ns
        assert (span.end_time_ns or 0) <= (parent.end_time_ns or 0)
