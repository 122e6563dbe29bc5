"""Streams: the llm-invocation span stays open while the caller iterates, and ends with it."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from botocore.exceptions import EventStreamError

from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.demo import BedrockServer, ModelAnswer, ToolUse
from generative_ai_toolkit.tracer.instrument import instrument_bedrock, uninstrument_bedrock

from .conftest import llm_spans

USER = [{"role": "user", "content": [{"text": "Tell me about Oslo"}]}]
TEXT = "Oslo is the capital of Norway."
USAGE = {"inputTokens": 5, "outputTokens": 6, "totalTokens": 11}


@pytest.fixture(autouse=True)
def _answers(bedrock: BedrockServer) -> None:
    bedrock.responder = lambda request: ModelAnswer(text=TEXT, usage=USAGE, latency_ms=7)


def test_a_fully_consumed_stream_ends_its_span_with_the_assembled_answer(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """The span ends after the last event, with output, usage, metrics and time to first token."""
    response = traced_client.converse_stream(modelId="m", messages=USER)
    assert [] == llm_spans(tracer)  # open while the caller has not read the stream
    events = list(response["stream"])
    assert 10 == len(events)  # the caller sees every event unchanged
    (span,) = llm_spans(tracer)
    attributes = span.attributes
    assert {"message": {"role": "assistant", "content": [{"text": TEXT}]}} == attributes[
        "ai.llm.response.output"
    ]
    assert "end_turn" == attributes["ai.llm.response.stop.reason"]
    assert USAGE == attributes["ai.llm.response.usage"]
    assert {"latencyMs": 7} == attributes["ai.llm.response.metrics"]
    assert attributes["ai.llm.response.stream.complete"] is True
    ttft = attributes["ai.llm.response.time_to_first_token_ms"]
    assert 0 <= ttft <= (span.duration_ns or 0) / 1e6
    assert "ConverseStream" == attributes["ai.llm.request.operation"]


def test_the_span_nests_where_the_call_was_made_and_is_never_current(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """The stream's span is a child of the caller's span; spans opened while iterating are not
    its children."""
    with tracer.trace("converse") as turn:
        response = traced_client.converse_stream(modelId="m", messages=USER)
        for _ in response["stream"]:
            with tracer.trace("render"):
                pass
    llm = llm_spans(tracer)[0]
    renders = [span for span in tracer.get_traces() if span.span_name == "render"]
    assert turn.span_id == llm.parent_span_id
    assert {turn.span_id} == {span.parent_span_id for span in renders}


def test_tool_use_in_a_stream_is_assembled_with_its_input(
    bedrock: BedrockServer, tracer: InMemoryTracer, traced_client: Any
) -> None:
    """Tool-use input streamed in pieces is recorded as the parsed input."""
    tool = ToolUse("tool-9", "get_weather", {"city": "Oslo"})
    bedrock.responder = lambda request: ModelAnswer(text="Checking.", tool_uses=[tool])
    list(traced_client.converse_stream(modelId="m", messages=USER)["stream"])
    attributes = llm_spans(tracer)[0].attributes
    assert [
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "tool-9", "name": "get_weather", "input": {"city": "Oslo"}}},
    ] == attributes["ai.llm.response.output"]["message"]["content"]
    assert "tool_use" == attributes["ai.llm.response.stop.reason"]


def test_closing_a_partly_read_stream_ends_the_span_with_what_was_read(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """close() after three events ends the span, marked incomplete, with the text so far."""
    stream = traced_client.converse_stream(modelId="m", messages=USER)["stream"]
    iterator = iter(stream)
    for _ in range(3):
        next(iterator)
    stream.close()
    attributes = llm_spans(tracer)[0].attributes
    assert attributes["ai.llm.response.stream.complete"] is False
    assert [{"text": "Oslo is "}] == attributes["ai.llm.response.output"]["message"]["content"]
    assert "ai.llm.response.usage" not in attributes


def test_a_stream_left_and_resumed_is_one_span(tracer: InMemoryTracer, traced_client: Any) -> None:
    """Breaking out of the loop does not end the span; reading on to the end does."""
    stream = traced_client.converse_stream(modelId="m", messages=USER)["stream"]
    for _ in stream:
        break
    assert [] == llm_spans(tracer)
    rest = list(stream)
    assert 9 == len(rest)
    (span,) = llm_spans(tracer)
    assert span.attributes["ai.llm.response.stream.complete"] is True
    assert TEXT == span.attributes["ai.llm.response.output"]["message"]["content"][0]["text"]


def test_an_abandoned_stream_ends_its_span_when_collected(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """A stream dropped unfinished ends its span (incomplete) when garbage-collected, and its
    connection is released."""
    response = traced_client.converse_stream(modelId="m", messages=USER)
    next(iter(response["stream"]))
    del response
    gc.collect()
    (span,) = llm_spans(tracer)
    assert span.attributes["ai.llm.response.stream.complete"] is False
    assert "UNSET" == span.span_status


def test_an_error_inside_the_stream_ends_the_span_as_error_and_reaches_the_caller(
    bedrock: BedrockServer, tracer: InMemoryTracer, traced_client: Any
) -> None:
    """A modelStreamErrorException mid-stream: ERROR span, the same exception raised."""
    bedrock.responder = lambda request: ModelAnswer(text=TEXT, stream_error="model overloaded")
    stream = traced_client.converse_stream(modelId="m", messages=USER)["stream"]
    received: list[Any] = []
    with pytest.raises(EventStreamError, match="model overloaded") as raised:
        received.extend(stream)
    stream.close()
    (span,) = llm_spans(tracer)
    assert "ERROR" == span.span_status
    assert "EventStreamError" == span.attributes["exception.type"]
    assert str(raised.value) == span.attributes["exception.message"]
    assert len(received) > 0


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",
        "amazon.nova-lite-v1:0",
        "amazon.titan-text-express-v1",
        "meta.llama3-8b-instruct-v1:0",
    ],
)
def test_invoke_streams_of_known_families_are_assembled(
    tracer: InMemoryTracer, traced_client: Any, model_id: str
) -> None:
    """Streamed Anthropic, Nova, Titan and Llama chunks yield the text, usage and stop reason."""
    response = traced_client.invoke_model_with_response_stream(
        modelId=model_id, body=json.dumps({"prompt": "Oslo?"})
    )
    chunks = [event["chunk"]["bytes"] for event in response["body"]]
    assert chunks  # the caller reads the chunks unchanged
    attributes = llm_spans(tracer)[0].attributes
    assert [{"text": TEXT}] == attributes["ai.llm.response.output"]["message"]["content"]
    assert USAGE == attributes["ai.llm.response.usage"]
    assert attributes["ai.llm.response.stop.reason"]
    assert attributes["ai.llm.response.time_to_first_token_ms"] >= 0


def test_unknown_invoke_streams_are_kept_as_text(
    bedrock: BedrockServer, tracer: InMemoryTracer, traced_client: Any
) -> None:
    """Chunks of unknown shape are recorded as their text, joined."""
    bedrock.responder = lambda request: ModelAnswer(chunks=[b"Hello ", b"world"])
    list(traced_client.invoke_model_with_response_stream(modelId="acme.x", body=b"hi")["body"])
    assert "Hello world" == llm_spans(tracer)[0].attributes["ai.llm.response.output"]


def test_streams_without_content_capture_record_sizes(bedrock: BedrockServer, clients: Any) -> None:
    """capture_content=False: no streamed text is recorded, its size and the usage are."""
    tracer = InMemoryTracer()
    instrument_bedrock(tracer, capture_content=False)
    try:
        client = clients()
        list(client.converse_stream(modelId="m", messages=USER)["stream"])
        list(client.invoke_model_with_response_stream(modelId="acme.x", body=b"secret")["body"])
    finally:
        uninstrument_bedrock()
    converse, invoke = (span.attributes for span in llm_spans(tracer))
    assert "ai.llm.response.output" not in converse
    assert "ai.llm.request.messages" not in converse
    assert len("assistant") + len(TEXT) == converse["ai.llm.response.content.chars"]
    assert USAGE == converse["ai.llm.response.usage"]
    assert "ai.llm.request.body" not in invoke
    assert "ai.llm.response.output" not in invoke


def test_a_stream_open_when_uninstrumenting_still_ends_its_span(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """uninstrument_bedrock leaves streams already in flight to finish their spans."""
    stream = traced_client.converse_stream(modelId="m", messages=USER)["stream"]
    uninstrument_bedrock()
    list(stream)
    assert 1 == len(llm_spans(tracer))
