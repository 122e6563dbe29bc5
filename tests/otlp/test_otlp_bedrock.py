"""Instrumented Bedrock calls reach OTLP receivers with the GenAI semantic conventions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from generative_ai_toolkit.tracer.demo import BedrockServer, ModelAnswer
from generative_ai_toolkit.tracer.instrument import instrument_bedrock, uninstrument_bedrock
from generative_ai_toolkit.tracer.otlp import OtlpTracer
from otlp.capture import CaptureServer
from otlp.wire import attributes_of, ended_span

from .test_otlp_encode import encode


@pytest.fixture
def tracer(capture: CaptureServer) -> Iterator[OtlpTracer]:
    """An OtlpTracer to the capture server, with Bedrock instrumented into it."""
    tracer = OtlpTracer(endpoint=capture.endpoint, schedule_delay=0.05)
    instrument_bedrock(tracer)
    yield tracer
    uninstrument_bedrock()
    tracer.shutdown()


@pytest.fixture
def client(tracer: OtlpTracer) -> Iterator[Any]:
    """A real boto3 client of a local Bedrock-protocol server."""
    answer = ModelAnswer(
        text="Sunny.",
        usage={"inputTokens": 9, "outputTokens": 2, "totalTokens": 11, "cacheReadInputTokens": 4},
    )
    with BedrockServer(lambda request: answer) as server:
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


def test_an_instrumented_converse_call_is_an_llm_chat_span_on_the_wire(
    capture: CaptureServer, tracer: OtlpTracer, client: Any
) -> None:
    """Operation, provider, model, request options, finish reason and token counts arrive."""
    client.converse(
        modelId="amazon.nova-lite-v1:0",
        messages=[{"role": "user", "content": [{"text": "Weather?"}]}],
        inferenceConfig={"maxTokens": 300, "temperature": 0.7, "topP": 0.9},
    )
    assert tracer.flush(timeout=10)
    (span,) = capture.spans()
    assert 3 == span.kind  # SPAN_KIND_CLIENT
    assert {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": "amazon.nova-lite-v1:0",
        "gen_ai.request.max_tokens": 300,
        "gen_ai.request.temperature": 0.7,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.response.finish_reasons": ["end_turn"],
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 2,
        "gen_ai.usage.cache_read.input_tokens": 4,
    } == {k: v for k, v in attributes_of(span).items() if k.startswith("gen_ai.")}
    assert {  # what Arize Phoenix reads: an LLM span with its token counts
        "openinference.span.kind": "LLM",
        "llm.model_name": "amazon.nova-lite-v1:0",
        "llm.provider": "aws",
        "llm.token_count.prompt": 9,
        "llm.token_count.completion": 2,
        "llm.token_count.total": 11,
        "llm.invocation_parameters": '{"maxTokens": 300, "temperature": 0.7, "topP": 0.9}',
    } == {k: v for k, v in attributes_of(span).items() if k.startswith(("openinference.", "llm."))}


def test_spans_not_from_bedrock_get_no_provider() -> None:
    """Hand-written llm-invocation spans without a Bedrock operation name no provider."""
    attributes = {"ai.trace.type": "llm-invocation", "ai.llm.request.operation": "chat"}
    (message,) = encode(ended_span(attributes=attributes))
    assert "gen_ai.provider.name" not in attributes_of(message)
    assert "llm.provider" not in attributes_of(message)


def test_the_spans_own_gen_ai_keys_win_over_the_mapped_ones() -> None:
    """A gen_ai.request.* key the span already has is not replaced."""
    attributes = {
        "ai.llm.request.operation": "Converse",
        "ai.llm.request.inference.config": {"temperature": 0.1},
        "gen_ai.request.temperature": 0.5,
    }
    (message,) = encode(ended_span(attributes=attributes))
    assert 0.5 == attributes_of(message)["gen_ai.request.temperature"]
