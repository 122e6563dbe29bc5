"""The local Bedrock server speaks the bedrock-runtime wire protocol to real boto3 clients."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from generative_ai_toolkit.tracer.demo import (
    BedrockRequest,
    BedrockServer,
    ModelAnswer,
    ToolUse,
    throttling,
    validation,
)
from generative_ai_toolkit.tracer.demo._eventstream import event_frame

from .conftest import ClientFactory

USER = [{"role": "user", "content": [{"text": "What is the weather in Oslo?"}]}]
WEATHER = ToolUse("tool-1", "get_weather", {"city": "Oslo"})


def test_converse_answers_with_text_tool_use_usage_and_metrics(
    bedrock: BedrockServer, client: Any
) -> None:
    """Converse returns the scripted message, stop reason, usage and metrics as JSON."""
    bedrock.responder = lambda request: ModelAnswer(
        text="Let me look.",
        tool_uses=[WEATHER],
        usage={"inputTokens": 12, "outputTokens": 7, "totalTokens": 19},
        latency_ms=42,
    )
    response = client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    assert {
        "role": "assistant",
        "content": [
            {"text": "Let me look."},
            {"toolUse": {"toolUseId": "tool-1", "name": "get_weather", "input": {"city": "Oslo"}}},
        ],
    } == response["output"]["message"]
    assert "tool_use" == response["stopReason"]
    assert {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19} == response["usage"]
    assert {"latencyMs": 42} == response["metrics"]


def test_the_responder_sees_operation_model_id_and_body(
    bedrock: BedrockServer, client: Any
) -> None:
    """Each request reaches the responder with its operation, decoded model id and JSON body."""
    client.converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        messages=USER,
        inferenceConfig={"maxTokens": 100},
    )
    (request,) = bedrock.requests
    assert "Converse" == request.operation
    assert "anthropic.claude-3-haiku-20240307-v1:0" == request.model_id
    assert {"maxTokens": 100} == request.body["inferenceConfig"]
    assert USER == request.body["messages"]


def test_default_usage_counts_words(bedrock: BedrockServer, client: Any) -> None:
    """Without scripted usage, tokens are the words of the request and of the answer."""
    bedrock.responder = lambda request: ModelAnswer(text="It is snowing.")
    response = client.converse(modelId="m", messages=USER)
    # request: "user" + 6 words; answer: 3 words
    assert {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10} == response["usage"]


def test_converse_stream_sends_checksummed_events(bedrock: BedrockServer, client: Any) -> None:
    """ConverseStream delivers text deltas, tool-use input in pieces, stop and metadata."""
    bedrock.responder = lambda request: ModelAnswer(text="Checking now", tool_uses=[WEATHER])
    events = list(client.converse_stream(modelId="m", messages=USER)["stream"])
    assert [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ] == [next(iter(event)) for event in events]
    text = "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events[1:3])
    assert "Checking now" == text
    tool_input = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events[5:7])
    assert {"city": "Oslo"} == json.loads(tool_input)
    assert {"stopReason": "tool_use"} == events[8]["messageStop"]
    assert {"inputTokens", "outputTokens", "totalTokens"} == set(events[9]["metadata"]["usage"])


def test_event_frames_have_valid_prelude_and_message_crcs() -> None:
    """A frame's lengths and both CRC32s are what botocore's decoder checks."""
    message = event_frame("chunk", {"bytes": "aGk="})
    total, headers_length, prelude_crc = struct.unpack(">III", message[:12])
    assert len(message) == total
    assert zlib.crc32(message[:8]) == prelude_crc
    assert zlib.crc32(message[:-4]) == struct.unpack(">I", message[-4:])[0]
    buffer = EventStreamBuffer()
    buffer.add_data(message)
    decoded_events: list[Any] = list(buffer)
    (decoded,) = decoded_events
    assert "chunk" == decoded.headers[":event-type"]
    assert {"bytes": "aGk="} == json.loads(decoded.payload)
    assert headers_length == len(message) - 16 - len(decoded.payload)


@pytest.mark.parametrize(
    ("model_id", "answer_text"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", lambda body: body["content"][0]["text"]),
        ("amazon.nova-lite-v1:0", lambda body: body["output"]["message"]["content"][0]["text"]),
        ("amazon.titan-text-express-v1", lambda body: body["results"][0]["outputText"]),
        ("meta.llama3-8b-instruct-v1:0", lambda body: body["generation"]),
        ("mistral.mistral-7b-instruct-v0:2", lambda body: body["outputs"][0]["text"]),
    ],
)
def test_invoke_model_answers_in_the_model_familys_format(
    bedrock: BedrockServer, client: Any, model_id: str, answer_text: Any
) -> None:
    """InvokeModel's body is the native JSON of the model family the id names."""
    bedrock.responder = lambda request: ModelAnswer(text="Hello there")
    response = client.invoke_model(modelId=model_id, body=json.dumps({"prompt": "Hi"}))
    assert "Hello there" == answer_text(json.loads(response["body"].read()))


def test_invoke_model_with_response_stream_wraps_chunks_as_bytes(
    bedrock: BedrockServer, client: Any
) -> None:
    """Each chunk arrives as decoded bytes; the last carries Bedrock's invocation metrics."""
    bedrock.responder = lambda request: ModelAnswer(text="one two three")
    response = client.invoke_model_with_response_stream(
        modelId="meta.llama3-8b-instruct-v1:0", body=json.dumps({"prompt": "count"})
    )
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert "one two three" == "".join(chunk["generation"] for chunk in chunks)
    assert {"inputTokenCount", "outputTokenCount", "invocationLatency", "firstByteLatency"} == set(
        chunks[-1]["amazon-bedrock-invocationMetrics"]
    )


def test_raw_bodies_and_chunks_are_sent_verbatim(bedrock: BedrockServer, client: Any) -> None:
    """``body`` and ``chunks`` replace the generated payloads."""
    bedrock.responder = lambda request: ModelAnswer(body=b"plain text", chunks=[b"a", b"b"])
    assert b"plain text" == client.invoke_model(modelId="m", body=b"{}")["body"].read()
    stream = client.invoke_model_with_response_stream(modelId="m", body=b"{}")["body"]
    assert [b"a", b"b"] == [event["chunk"]["bytes"] for event in stream]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [(throttling(), 429, "ThrottlingException"), (validation("bad"), 400, "ValidationException")],
)
def test_errors_are_real_bedrock_errors(
    bedrock: BedrockServer, client: Any, error: Any, status: int, code: str
) -> None:
    """Errors come back as botocore's modelled exceptions, with status and message."""
    bedrock.responder = lambda request: ModelAnswer(error=error)
    with pytest.raises(ClientError) as raised:
        client.converse(modelId="m", messages=USER)
    assert code == type(raised.value).__name__
    assert status == raised.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert error.message == raised.value.response["Error"]["Message"]


def test_botocore_retries_throttling(bedrock: BedrockServer, clients: ClientFactory) -> None:
    """A throttled request is retried by botocore and the retry succeeds."""
    answers = iter([ModelAnswer(error=throttling()), ModelAnswer(text="finally")])
    bedrock.responder = lambda request: next(answers)
    client = clients(retries=2)
    response = client.converse(modelId="m", messages=USER)
    assert "finally" == response["output"]["message"]["content"][0]["text"]
    assert 1 == response["ResponseMetadata"]["RetryAttempts"]


def test_a_stream_error_breaks_the_stream_off(bedrock: BedrockServer, client: Any) -> None:
    """``stream_error`` sends a modelStreamErrorException frame half-way through."""
    bedrock.responder = lambda request: ModelAnswer(text="a b c d e f", stream_error="overloaded")
    received: list[dict[str, Any]] = []
    stream = client.converse_stream(modelId="m", messages=USER)["stream"]
    with pytest.raises(EventStreamError, match="overloaded"):
        received.extend(stream)
    stream.close()
    assert 5 == len(received)


def test_a_failing_responder_answers_500(bedrock: BedrockServer, client: Any) -> None:
    """A responder that raises yields an InternalServerException, not a hung client."""

    def broken(request: BedrockRequest) -> ModelAnswer:
        raise RuntimeError("script error")

    bedrock.responder = broken
    with pytest.raises(ClientError, match="script error"):
        client.converse(modelId="m", messages=USER)
