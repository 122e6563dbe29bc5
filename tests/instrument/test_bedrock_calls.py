"""instrument_bedrock: every bedrock-runtime call becomes an llm-invocation span."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from generative_ai_toolkit.tracer import InMemoryTracer, Trace, with_current_context
from generative_ai_toolkit.tracer.demo import (
    BedrockServer,
    ModelAnswer,
    ToolUse,
    throttling,
    validation,
)
from generative_ai_toolkit.tracer.instrument import instrument_bedrock, uninstrument_bedrock

from .conftest import ClientFactory, llm_spans, make_client

USER = [{"role": "user", "content": [{"text": "What is the weather in Oslo?"}]}]
SYSTEM = [{"text": "You are a weather bot."}]
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {}}}},
            }
        }
    ]
}
USAGE = {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19}
WEATHER = ToolUse("tool-1", "get_weather", {"city": "Oslo"})


def test_converse_becomes_an_llm_invocation_client_span(
    bedrock: BedrockServer, tracer: InMemoryTracer, traced_client: Any
) -> None:
    """A converse call records request, output, stop reason, usage, metrics and peer service."""
    bedrock.responder = lambda request: ModelAnswer(
        text="Let me check.", tool_uses=[WEATHER], usage=USAGE, latency_ms=42
    )
    response = traced_client.converse(
        modelId="amazon.nova-lite-v1:0",
        messages=USER,
        system=SYSTEM,
        inferenceConfig={"maxTokens": 200, "temperature": 0.5},
        toolConfig=TOOLS,
    )
    (span,) = llm_spans(tracer)
    assert "CLIENT" == span.span_kind
    assert {
        "ai.trace.type": "llm-invocation",
        "ai.llm.request.operation": "Converse",
        "ai.llm.request.model.id": "amazon.nova-lite-v1:0",
        "peer.service": "llm:amazon.nova-lite-v1:0",
        "ai.llm.request.messages": USER,
        "ai.llm.request.system": SYSTEM,
        "ai.llm.request.inference.config": {"maxTokens": 200, "temperature": 0.5},
        "ai.llm.request.tool.config": TOOLS,
        "ai.llm.response.output": response["output"],
        "ai.llm.response.stop.reason": "tool_use",
        "ai.llm.response.usage": USAGE,
        "ai.llm.response.metrics": {"latencyMs": 42},
    } == span.attributes
    assert "UNSET" == span.span_status


def test_llm_spans_nest_under_the_current_span(tracer: InMemoryTracer, traced_client: Any) -> None:
    """The span is a child of the caller's current span, in the same trace."""
    with tracer.trace("converse", span_kind="SERVER") as turn:
        traced_client.converse(modelId="m", messages=USER)
    (span,) = llm_spans(tracer)
    assert turn.span_id == span.parent_span_id
    assert turn.trace_id == span.trace_id


@pytest.mark.parametrize(
    ("model_id", "request_body", "messages", "config"),
    [
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": USER},
            USER,
            {"maxTokens": 100},
        ),
        (
            "us.amazon.nova-lite-v1:0",
            {"schemaVersion": "messages-v1", "messages": USER, "inferenceConfig": {"topP": 0.9}},
            USER,
            {"topP": 0.9},
        ),
        (
            "amazon.titan-text-express-v1",
            {"inputText": "Hi", "textGenerationConfig": {"maxTokenCount": 50}},
            [{"role": "user", "content": [{"text": "Hi"}]}],
            {"maxTokens": 50},
        ),
        (
            "meta.llama3-8b-instruct-v1:0",
            {"prompt": "Hi", "max_gen_len": 64, "temperature": 0.2},
            [{"role": "user", "content": [{"text": "Hi"}]}],
            {"maxTokens": 64, "temperature": 0.2},
        ),
    ],
)
def test_invoke_model_bodies_of_known_families_are_parsed(  # noqa: PLR0917 - fixtures
    bedrock: BedrockServer,
    tracer: InMemoryTracer,
    traced_client: Any,
    model_id: str,
    request_body: dict[str, Any],
    messages: Any,
    config: dict[str, Any],
) -> None:
    """Anthropic, Nova, Titan and Llama bodies yield messages, config, output and usage."""
    bedrock.responder = lambda request: ModelAnswer(
        text="Hello there", usage={"inputTokens": 5, "outputTokens": 2}
    )
    response = traced_client.invoke_model(modelId=model_id, body=json.dumps(request_body))
    raw = response["body"].read()
    assert json.loads(raw)  # the caller still reads the whole body
    attributes = llm_spans(tracer)[0].attributes
    assert messages == attributes["ai.llm.request.messages"]
    assert config == attributes["ai.llm.request.inference.config"]
    assert {"message": {"role": "assistant", "content": [{"text": "Hello there"}]}} == attributes[
        "ai.llm.response.output"
    ]
    assert {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7} == attributes[
        "ai.llm.response.usage"
    ]


def test_unknown_invoke_bodies_are_kept_as_text(
    bedrock: BedrockServer, tracer: InMemoryTracer, traced_client: Any
) -> None:
    """A body of unknown shape is recorded as its text, request and response alike."""
    bedrock.responder = lambda request: ModelAnswer(body=b"42 is the answer")
    response = traced_client.invoke_model(modelId="acme.model-v1", body=b"the question")
    assert b"42 is the answer" == response["body"].read()
    attributes = llm_spans(tracer)[0].attributes
    assert "the question" == attributes["ai.llm.request.body"]
    assert "42 is the answer" == attributes["ai.llm.response.output"]


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (throttling(), "ThrottlingException", 429),
        (validation("bad input"), "ValidationException", 400),
    ],
)
def test_errors_end_the_span_as_error_and_reach_the_caller_unchanged(  # noqa: PLR0917
    bedrock: BedrockServer,
    tracer: InMemoryTracer,
    traced_client: Any,
    error: Any,
    code: str,
    status: int,
) -> None:
    """Throttling and validation errors: an ERROR span with exception attributes; re-raised."""
    bedrock.responder = lambda request: ModelAnswer(error=error)
    with pytest.raises(ClientError) as raised:
        traced_client.converse(modelId="m", messages=USER)
    assert code == type(raised.value).__name__
    (span,) = llm_spans(tracer)
    assert "ERROR" == span.span_status
    assert code == span.attributes["exception.type"]
    assert str(raised.value) == span.attributes["exception.message"]
    assert status == span.attributes["http.response.status_code"]


def test_one_span_covers_botocores_retries(
    bedrock: BedrockServer, tracer: InMemoryTracer, clients: ClientFactory
) -> None:
    """A throttled call that botocore retries into success is one span, not in error."""
    answers = iter([ModelAnswer(error=throttling()), ModelAnswer(text="ok")])
    bedrock.responder = lambda request: next(answers)
    clients(retries=2).converse(modelId="m", messages=USER)
    (span,) = llm_spans(tracer)
    assert "UNSET" == span.span_status
    assert 2 == len(bedrock.requests)


def test_a_call_that_never_reaches_bedrock_ends_with_its_exception(
    tracer: InMemoryTracer,
) -> None:
    """A refused connection (after-call-error) ends the span as ERROR with that exception."""
    with BedrockServer() as server:
        url = server.endpoint_url  # a port that is closed once the server stops
    client = make_client(url)
    with pytest.raises(EndpointConnectionError):
        client.converse(modelId="m", messages=USER)
    client.close()
    (span,) = llm_spans(tracer)
    assert "ERROR" == span.span_status
    assert "EndpointConnectionError" == span.attributes["exception.type"]


def test_capture_content_false_records_sizes_not_text(
    bedrock: BedrockServer, clients: ClientFactory
) -> None:
    """Without content capture, no message text is recorded; counts, sizes and usage are."""
    tracer = InMemoryTracer()
    instrument_bedrock(tracer, capture_content=False)
    try:
        bedrock.responder = lambda request: ModelAnswer(text="Sunny.", usage=USAGE)
        clients().converse(
            modelId="m", messages=USER, system=SYSTEM, inferenceConfig={"maxTokens": 9}
        )
    finally:
        uninstrument_bedrock()
    attributes = llm_spans(tracer)[0].attributes
    assert {
        "ai.trace.type": "llm-invocation",
        "ai.llm.request.operation": "Converse",
        "ai.llm.request.model.id": "m",
        "peer.service": "llm:m",
        "ai.llm.request.inference.config": {"maxTokens": 9},
        "ai.llm.request.messages.count": 1,
        "ai.llm.request.content.chars": len("What is the weather in Oslo?")
        + len("user")
        + len("You are a weather bot."),
        "ai.llm.response.content.chars": len("assistant") + len("Sunny."),
        "ai.llm.response.stop.reason": "end_turn",
        "ai.llm.response.usage": USAGE,
        "ai.llm.response.metrics": {"latencyMs": 1},
    } == attributes


def test_uninstrument_stops_tracing_and_is_idempotent(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """After uninstrument_bedrock (called twice), calls run untraced; instrumenting resumes."""
    uninstrument_bedrock()
    uninstrument_bedrock()
    traced_client.converse(modelId="m", messages=USER)
    assert [] == llm_spans(tracer)
    instrument_bedrock(tracer)
    instrument_bedrock(tracer)  # twice: still one span per call
    traced_client.converse(modelId="m", messages=USER)
    assert 1 == len(llm_spans(tracer))


def test_clients_made_before_instrumenting_are_traced_when_passed(
    bedrock: BedrockServer,
) -> None:
    """A client made before instrumenting is not traced, unless handed over in ``clients=``."""
    older, passed = (_session_client(bedrock), _session_client(bedrock))
    tracer = InMemoryTracer()
    instrument_bedrock(tracer, clients=[passed])
    try:
        older.converse(modelId="older", messages=USER)
        passed.converse(modelId="passed", messages=USER)
    finally:
        uninstrument_bedrock()
        older.close()
        passed.close()
    assert ["passed"] == [s.attributes["ai.llm.request.model.id"] for s in llm_spans(tracer)]


def _session_client(server: BedrockServer) -> Any:
    """A client of a new boto3 session (the default session may carry earlier registrations)."""
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x")
    return session.client(
        "bedrock-runtime", endpoint_url=server.endpoint_url, region_name="us-east-1"
    )


def test_clients_of_new_boto3_sessions_are_traced(
    bedrock: BedrockServer, tracer: InMemoryTracer
) -> None:
    """A client of a ``boto3.Session`` made after instrumenting is traced too."""
    client = _session_client(bedrock)
    client.converse(modelId="m", messages=USER)
    client.close()
    assert 1 == len(llm_spans(tracer))


def test_a_failing_tracer_never_breaks_the_call(
    bedrock: BedrockServer, clients: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """When the tracer raises, the call still returns its answer and the failure is logged."""

    class BrokenTracer(InMemoryTracer):
        def trace(
            self, span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None
        ) -> Trace:
            raise RuntimeError("tracer is broken")

    instrument_bedrock(BrokenTracer())
    try:
        with caplog.at_level(logging.ERROR, logger="generative_ai_toolkit.tracer"):
            response = clients().converse(modelId="m", messages=USER)
    finally:
        uninstrument_bedrock()
    assert "You said" in response["output"]["message"]["content"][0]["text"]
    assert "tracing a Bedrock Converse call failed" in caplog.text


def test_threads_each_nest_under_their_own_span(tracer: InMemoryTracer, traced_client: Any) -> None:
    """Calls from eight threads at once each land under the span of their thread."""

    def turn(index: int) -> None:
        with tracer.trace(f"turn-{index}"):
            traced_client.converse(modelId=f"m-{index}", messages=USER)

    threads = [threading.Thread(target=turn, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans = {span.span_id: span for span in tracer.get_traces()}
    pairs = {
        spans[span.parent_span_id or ""].span_name: span.attributes["ai.llm.request.model.id"]
        for span in llm_spans(tracer)
    }
    assert {f"turn-{i}": f"m-{i}" for i in range(8)} == pairs


def test_asyncio_to_thread_calls_nest_under_the_awaiting_task(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """``asyncio.to_thread`` carries the context: each call nests under its task's span."""

    async def turn(index: int) -> None:
        with tracer.trace(f"turn-{index}"):
            await asyncio.to_thread(traced_client.converse, modelId=f"m-{index}", messages=USER)

    async def main() -> None:
        await asyncio.gather(*(turn(i) for i in range(4)))

    asyncio.run(main())
    spans = {span.span_id: span for span in tracer.get_traces()}
    pairs = {
        spans[span.parent_span_id or ""].span_name: span.attributes["ai.llm.request.model.id"]
        for span in llm_spans(tracer)
    }
    assert {f"turn-{i}": f"m-{i}" for i in range(4)} == pairs


def test_with_current_context_carries_the_parent_into_a_thread(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """A call in a thread started with ``with_current_context`` nests under the submitter."""
    with tracer.trace("converse") as turn:

        def call() -> None:
            traced_client.converse(modelId="m", messages=USER)

        thread = threading.Thread(target=with_current_context(call))
        thread.start()
        thread.join()
    assert turn.span_id == llm_spans(tracer)[0].parent_span_id


def test_instrumenting_again_switches_the_tracer(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """A second instrument_bedrock sends the calls of existing clients to the new tracer."""
    other = InMemoryTracer()
    instrument_bedrock(other)
    traced_client.converse(modelId="m", messages=USER)
    assert ([], 1) == (llm_spans(tracer), len(llm_spans(other)))


class _BrokenRaw:
    """A response body whose connection drops as it is read."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def read(self, *_: Any, **__: Any) -> bytes:
        raise self.error

    def stream(self, *_: Any, **__: Any) -> Any:
        raise self.error


def test_an_invoke_body_that_fails_to_read_fails_the_callers_read_the_same_way(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """Reading the answer fails while it is recorded: ERROR span; the caller's read raises the
    very same error."""
    error = ConnectionResetError("connection dropped")

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = HTTPHeaders.from_pairs([("Content-Type", "application/json")])
        return AWSResponse(request.url, 200, headers, _BrokenRaw(error))

    traced_client.meta.events.register("before-send.bedrock-runtime.InvokeModel", answer)
    response = traced_client.invoke_model(modelId="m", body=b"{}")
    with pytest.raises(ConnectionResetError) as raised:
        response["body"].read()
    assert error is raised.value
    (span,) = llm_spans(tracer)
    assert ("ERROR", "ConnectionResetError") == (
        span.span_status,
        span.attributes["exception.type"],
    )


def test_a_call_botocore_rejects_before_sending_makes_no_span(
    tracer: InMemoryTracer, traced_client: Any
) -> None:
    """Parameter validation fails in botocore before any request: no span, the error as is."""
    with pytest.raises(ParamValidationError, match="modelId"):
        traced_client.converse(messages=USER)
    traced_client.converse(modelId="m", messages=USER)  # and the next call is traced as ever
    assert 1 == len(llm_spans(tracer))
