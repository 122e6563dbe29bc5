"""docs/testing.md's Bedrock example: an agent loop against the local Bedrock-protocol server,
tested through its traces with the ``gat_tracer`` fixture and the assertion helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.demo import BedrockRequest, BedrockServer, ModelAnswer, ToolUse
from generative_ai_toolkit.tracer.instrument import (
    agent_turn,
    instrument_bedrock,
    traced_tool,
    uninstrument_bedrock,
)
from generative_ai_toolkit.tracer.testing import (
    assert_called_tool,
    assert_no_errors,
    assert_tool_order,
    capture_spans,
)


def model(request: BedrockRequest) -> ModelAnswer:
    """Looks the city up, then the weather there, then answers from the last tool result."""
    last = request.body["messages"][-1]["content"]
    results = [block["toolResult"] for block in last if "toolResult" in block]
    if not results:
        return ModelAnswer(tool_uses=[ToolUse("t1", "find_city", {"name": "Lisbon"})])
    if results[0]["toolUseId"] == "t1":
        return ModelAnswer(tool_uses=[ToolUse("t2", "get_weather", {"city": "Lisbon"})])
    return ModelAnswer(text=f"It is {results[0]['content'][0]['text']}.")


class Agent:
    """A Converse tool loop, as agent code would write it: no hand-written LLM attributes."""

    def __init__(self, client: Any, tracer: InMemoryTracer) -> None:
        self.client = client
        self.tracer = tracer

    def converse(self, text: str) -> str:
        with agent_turn(self.tracer, text, conversation_id="c-1") as turn:
            messages: list[Any] = [{"role": "user", "content": [{"text": text}]}]
            while True:
                response = self.client.converse(modelId="amazon.nova-lite-v1:0", messages=messages)
                message = response["output"]["message"]
                messages.append(message)
                if response["stopReason"] != "tool_use":
                    answer: str = message["content"][0]["text"]
                    turn.set_response(answer)
                    return answer
                messages.append(
                    {"role": "user", "content": [self.run(m) for m in message["content"]]}
                )

    def run(self, block: dict[str, Any]) -> dict[str, Any]:
        use = block["toolUse"]
        output = getattr(self, use["name"])(**use["input"])
        return {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": output}]}}

    @traced_tool
    def find_city(self, name: str) -> str:
        return name

    @traced_tool
    def get_weather(self, city: str) -> str:
        return "sunny"


@pytest.fixture
def client(gat_tracer: InMemoryTracer) -> Iterator[Any]:
    """A real boto3 client of a local Bedrock-protocol server, instrumented into ``gat_tracer``."""
    with BedrockServer(responder=model) as server:
        instrument_bedrock(gat_tracer)
        client = boto3.client(
            "bedrock-runtime",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1}),
        )
        yield client
        client.close()
        uninstrument_bedrock()


def test_the_agent_looks_up_the_city_before_the_weather(
    gat_tracer: InMemoryTracer, client: Any
) -> None:
    """Tools in order, with their inputs; tokens within budget; no span failed."""
    with capture_spans(gat_tracer) as spans:
        assert "It is sunny." == Agent(client, gat_tracer).converse("Weather in Lisbon?")
    assert_called_tool(spans, "get_weather", input={"city": "Lisbon"})
    assert_tool_order(spans, "find_city", "get_weather")
    assert_no_errors(spans)
    assert 3 == len(spans.llm_calls(model="amazon.nova-lite-v1:0"))
    assert 0 < spans.tokens().total < 2_000
