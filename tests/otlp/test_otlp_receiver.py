"""OtlpReceiver: OpenTelemetry-instrumented agents' spans, received over OTLP/HTTP and stored."""

from __future__ import annotations

import gzip
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from generative_ai_toolkit.tracer import InMemoryTracer, TeeTracer, Trace
from generative_ai_toolkit.tracer.otlp import OtlpReceiver, OtlpTracer
from generative_ai_toolkit.tracer.otlp._encode import OtlpEncoder
from otlp.wire import spans_of


@pytest.fixture
def store() -> InMemoryTracer:
    """Where the receiver puts what it receives."""
    return InMemoryTracer(memory_size=100_000)


@pytest.fixture
def receiver(store: InMemoryTracer) -> Iterator[OtlpReceiver]:
    """A receiver on a free loopback port."""
    server = OtlpReceiver(store, port=0).start()
    yield server
    server.close()


@pytest.fixture
def sdk(receiver: OtlpReceiver) -> Iterator[TracerProvider]:
    """The OpenTelemetry SDK exporting each span to the receiver as it ends."""
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.url)))
    yield provider
    provider.shutdown()


def post(
    receiver: OtlpReceiver, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """One raw POST to the receiver: (status, headers, body)."""
    host, port = receiver.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    try:
        connection.request("POST", "/v1/traces", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


PROTOBUF = {"Content-Type": "application/x-protobuf"}


def by_name(store: InMemoryTracer) -> dict[str, Trace]:
    return {span.span_name: span for span in store.get_traces()}


def test_genai_convention_spans_show_as_conversations_llm_calls_and_tools(
    sdk: TracerProvider, store: InMemoryTracer
) -> None:
    """GenAI semantic-convention spans get our conversation, type, model, usage and tool keys."""
    tracer = sdk.get_tracer("strands.telemetry")
    with tracer.start_as_current_span("invoke_agent weather") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "weather")
        agent.set_attribute("gen_ai.conversation.id", "conv-1")
        with tracer.start_as_current_span("chat claude") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.request.model", "anthropic.claude-3-haiku")
            llm.set_attribute("gen_ai.usage.input_tokens", 12)
            llm.set_attribute("gen_ai.usage.output_tokens", 6)
            llm.set_attribute(
                "gen_ai.input.messages",
                json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Paris?"}]}]),
            )
            llm.set_attribute("gen_ai.response.finish_reasons", ["tool_use"])
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "get_weather")
            tool.set_attribute("gen_ai.tool.call.arguments", '{"city": "Paris"}')
            tool.set_attribute("gen_ai.tool.call.result", "sunny")
    spans = by_name(store)
    llm_span = spans["chat claude"]
    assert "llm-invocation" == llm_span.attributes["ai.trace.type"]
    assert "anthropic.claude-3-haiku" == llm_span.attributes["ai.llm.request.model.id"]
    assert {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18} == llm_span.attributes[
        "ai.llm.response.usage"
    ]
    assert [{"role": "user", "content": [{"text": "Paris?"}]}] == llm_span.attributes[
        "ai.llm.request.messages"
    ]
    assert "tool_use" == llm_span.attributes["ai.llm.response.stop.reason"]
    assert 12 == llm_span.attributes["gen_ai.usage.input_tokens"]  # originals are kept
    tool_span = spans["execute_tool get_weather"]
    assert "tool-invocation" == tool_span.attributes["ai.trace.type"]
    assert {"city": "Paris"} == tool_span.attributes["ai.tool.input"]
    assert "sunny" == tool_span.attributes["ai.tool.output"]
    assert "converse" == spans["invoke_agent weather"].attributes["ai.trace.type"]
    assert "sdk-agent" == tool_span.resource_attributes["service.name"]
    assert "strands.telemetry" == tool_span.scope.name
    # Every span of the trace belongs to the conversation, marked as inherited.
    assert {"conv-1"} == {s.attributes["ai.conversation.id"] for s in spans.values()}
    assert "ai.conversation.id" in tool_span.inherited_attribute_keys
    assert ["conv-1"] == [c.conversation_id for c in store.list_conversations()]


def test_openinference_spans_are_mapped(sdk: TracerProvider, store: InMemoryTracer) -> None:
    """OpenInference's span kinds, flattened messages, token counts, session and user map."""
    tracer = sdk.get_tracer("openinference.instrumentation.bedrock")
    with tracer.start_as_current_span("bedrock.converse") as span:
        span.set_attribute("openinference.span.kind", "LLM")
        span.set_attribute("llm.model_name", "amazon.nova-lite")
        span.set_attribute("session.id", "s-9")
        span.set_attribute("user.id", "bob")
        span.set_attribute("llm.input_messages.0.message.role", "system")
        span.set_attribute("llm.input_messages.0.message.content", "Be brief.")
        span.set_attribute("llm.input_messages.1.message.role", "user")
        span.set_attribute("llm.input_messages.1.message.content", "Hi")
        span.set_attribute("llm.output_messages.0.message.role", "assistant")
        span.set_attribute("llm.output_messages.0.message.content", "Hello!")
        span.set_attribute("llm.token_count.prompt", 5)
        span.set_attribute("llm.token_count.completion", 2)
        span.set_attribute("llm.token_count.total", 7)
    (stored,) = store.get_traces()
    attrs = stored.attributes
    assert "llm-invocation" == attrs["ai.trace.type"]
    assert "s-9" == attrs["ai.conversation.id"]
    assert "bob" == attrs["ai.auth.context"]
    assert [{"role": "user", "content": [{"text": "Hi"}]}] == attrs["ai.llm.request.messages"]
    assert [{"text": "Be brief."}] == attrs["ai.llm.request.system"]
    assert {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}} == attrs[
        "ai.llm.response.output"
    ]
    assert {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7} == attrs["ai.llm.response.usage"]
    assert "llm:amazon.nova-lite" == attrs["peer.service"]


def test_plain_spans_keep_kind_status_events_links_and_exceptions(
    sdk: TracerProvider, store: InMemoryTracer
) -> None:
    """A plain span keeps its kind, status, events and links; an exception event becomes
    the ``exception.*`` attributes."""
    tracer = sdk.get_tracer("by-hand", "2.0")
    with tracer.start_as_current_span("linked") as first:
        pass
    from opentelemetry.trace import Link, SpanKind  # noqa: PLC0415

    with tracer.start_as_current_span(
        "work", kind=SpanKind.CLIENT, links=[Link(first.get_span_context(), {"why": "retry"})]
    ) as span:
        span.add_event("checkpoint", {"step": 3})
        span.record_exception(ValueError("bad city"))
        span.set_status(Status(StatusCode.ERROR, "bad city"))
    work = by_name(store)["work"]
    assert ("CLIENT", "ERROR") == (work.span_kind, work.span_status)
    assert "ValueError" == work.attributes["exception.type"]
    assert "bad city" == work.attributes["exception.message"]
    events = work.attributes["otel.events"]
    assert [("checkpoint", 3)] == [(e["name"], e["step"]) for e in events]
    (link,) = work.attributes["otel.links"]
    assert (by_name(store)["linked"].span_id, "retry") == (link["span_id"], link["why"])
    assert ("by-hand", "2.0") == (work.scope.name, work.scope.version)


def test_json_bodies_are_accepted_with_hex_ids(
    receiver: OtlpReceiver, store: InMemoryTracer
) -> None:
    """OTLP/JSON (hex ids, camelCase keys, integer enums) is stored and answered in JSON."""
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "js-agent"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "converse",
                                "kind": 2,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": "c-json"}},
                                    {"key": "turn", "value": {"intValue": "3"}},
                                ],
                                "status": {"code": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    status, headers, answer = post(
        receiver, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    assert (200, "application/json") == (status, headers["Content-Type"])
    assert {} == json.loads(answer)
    (span,) = store.get_traces()
    assert "5b8efff798038103d269b633813fc60c" == span.trace_id
    assert ("SERVER", "OK", 3) == (span.span_kind, span.span_status, span.attributes["turn"])
    assert "c-json" == span.attributes["ai.conversation.id"]
    assert 1_000_000_000 == span.duration_ns


def sample_request(count: int = 1, *, name: str = "span") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for index in range(count):
        span = spans.add(name=name, start_time_unix_nano=1, end_time_unix_nano=2)
        span.trace_id = (index + 1).to_bytes(16, "big")
        span.span_id = (index + 1).to_bytes(8, "big")
    return request


def test_gzip_bodies_are_accepted(receiver: OtlpReceiver, store: InMemoryTracer) -> None:
    """``Content-Encoding: gzip`` bodies are decompressed."""
    body = gzip.compress(sample_request(3).SerializeToString())
    status, _, _ = post(receiver, body, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert 200 == status
    assert 3 == len(store.get_traces())


def test_spans_without_valid_ids_are_a_partial_success(
    receiver: OtlpReceiver, store: InMemoryTracer
) -> None:
    """Spans with missing ids are rejected and counted in ``partial_success``; others stored."""
    request = sample_request(2)
    request.resource_spans[0].scope_spans[0].spans[1].span_id = b""
    status, _, answer = post(receiver, request.SerializeToString(), PROTOBUF)
    response = ExportTraceServiceResponse.FromString(answer)
    assert (200, 1) == (status, response.partial_success.rejected_spans)
    assert "span id" in response.partial_success.error_message
    assert 1 == len(store.get_traces())


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b"\xff\xfe garbage", PROTOBUF, 400),
        (sample_request(1).SerializeToString()[:-3], PROTOBUF, 400),
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400),
        (b"x", {"Content-Type": "text/plain"}, 415),
        (b"x", {**PROTOBUF, "Content-Encoding": "br"}, 415),
        (b"not gzip", {**PROTOBUF, "Content-Encoding": "gzip"}, 400),
    ],
    ids=["garbage", "truncated", "bad-json", "json-array", "text", "brotli", "bad-gzip"],
)
def test_bad_requests_get_a_clear_error_and_the_server_keeps_serving(
    receiver: OtlpReceiver,
    store: InMemoryTracer,
    body: bytes,
    headers: dict[str, str],
    expected: int,
) -> None:
    """Undecodable bodies get 400, other content types 415; the next request still works."""
    status, _, _ = post(receiver, body, headers)
    assert expected == status
    assert 200 == post(receiver, sample_request(1).SerializeToString(), PROTOBUF)[0]
    assert 1 == len(store.get_traces())


def test_bodies_over_the_limit_get_413_also_when_compressed(store: InMemoryTracer) -> None:
    """A body above ``max_body_bytes``, or a gzip body that inflates above it, gets 413."""
    server = OtlpReceiver(store, port=0, max_body_bytes=64 * 1024).start()
    try:
        big = sample_request(1, name="x" * 100_000).SerializeToString()
        assert 413 == post(server, big, PROTOBUF)[0]
        bomb = gzip.compress(big)
        assert len(bomb) < 64 * 1024
        assert 413 == post(server, bomb, {**PROTOBUF, "Content-Encoding": "gzip"})[0]
        assert 200 == post(server, sample_request(1).SerializeToString(), PROTOBUF)[0]
    finally:
        server.close()


def test_ten_thousand_spans_in_one_request_are_stored(
    receiver: OtlpReceiver, store: InMemoryTracer
) -> None:
    """A large batch is stored whole."""
    status, _, _ = post(receiver, sample_request(10_000).SerializeToString(), PROTOBUF)
    assert (200, 10_000) == (status, len(store.get_traces()))


def test_invalid_utf8_and_huge_values_are_stored_safely(
    receiver: OtlpReceiver, store: InMemoryTracer
) -> None:
    """A string field with invalid UTF-8 is a 400 (protobuf refuses it); a 1 MB value is kept."""
    request = sample_request(1)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="big").value.string_value = "v" * 1_000_000
    assert 200 == post(receiver, request.SerializeToString(), PROTOBUF)[0]
    (stored,) = store.get_traces()
    assert 1_000_000 == len(stored.attributes["big"])
    raw = request.SerializeToString().replace(b"span", b"sp\xffn", 1)
    assert 400 == post(receiver, raw, PROTOBUF)[0]


class BusyStore(InMemoryTracer):
    """A store whose background queue reports many spans waiting (a fault on demand)."""

    pending = 0

    @property
    def stats(self) -> dict[str, int]:
        return {**super().stats, "pending": self.pending}


def test_a_busy_store_gets_429_with_retry_after_until_it_drains() -> None:
    """While the store's queue holds ``max_pending`` spans, requests get 429 + Retry-After."""
    store = BusyStore()
    server = OtlpReceiver(store, port=0, max_pending=100, retry_after=2).start()
    try:
        store.pending = 100
        status, headers, _ = post(server, sample_request(1).SerializeToString(), PROTOBUF)
        assert (429, "2") == (status, headers["Retry-After"])
        store.pending = 0
        assert 200 == post(server, sample_request(1).SerializeToString(), PROTOBUF)[0]
        assert {"requests": 1, "spans": 1, "throttled": 1} == {
            key: value for key, value in server.stats.items() if value
        }
    finally:
        server.close()


def test_requests_naming_another_host_are_refused(receiver: OtlpReceiver) -> None:
    """DNS rebinding: a ``Host`` that is not loopback gets 403, nothing stored."""
    headers = {**PROTOBUF, "Host": "attacker.example:4318"}
    assert 403 == post(receiver, sample_request(1).SerializeToString(), headers)[0]


def test_other_paths_and_methods_are_refused(receiver: OtlpReceiver) -> None:
    """Only POST /v1/traces is served."""
    host, port = receiver.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    connection.request("GET", "/v1/traces")
    assert 405 == connection.getresponse().status
    connection.close()
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    connection.request("POST", "/v1/metrics", body=b"", headers=PROTOBUF)
    assert 404 == connection.getresponse().status
    connection.close()


def test_the_receiver_listens_on_loopback_unless_asked(store: InMemoryTracer) -> None:
    """A non-loopback address needs ``allow_remote=True``."""
    with pytest.raises(ValueError, match="not a loopback address"):
        OtlpReceiver(store, host="0.0.0.0", port=0)


def json_of(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """OTLP/JSON of a request: protobuf's JSON mapping with ids as hex."""
    data = json_format.MessageToDict(request)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        import base64  # noqa: PLC0415

                        span[key] = base64.b64decode(span[key]).hex()
    return data


def test_json_and_protobuf_bodies_store_the_same_spans(store: InMemoryTracer) -> None:
    """The same request sent as JSON and as protobuf gives equal spans."""
    request = sample_request(2)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="list").value.array_value.values.add().int_value = 7
    kv = span.attributes.add(key="map").value.kvlist_value.values.add(key="a")
    kv.value.bool_value = True
    results = []
    for body, headers in (
        (request.SerializeToString(), PROTOBUF),
        (json.dumps(json_of(request)).encode(), {"Content-Type": "application/json"}),
    ):
        target = InMemoryTracer()
        server = OtlpReceiver(target, port=0).start()
        try:
            assert 200 == post(server, body, headers)[0]
        finally:
            server.close()
        results.append([s.as_dict() for s in target.get_traces()])
    assert results[0] == results[1]
    assert {"a": True} == results[0][0]["attributes"]["map"]


def test_spans_of_our_own_otlp_tracer_come_back_exactly(
    receiver: OtlpReceiver, store: InMemoryTracer
) -> None:
    """OtlpTracer -> receiver -> store gives spans equal to the originals: ids, times, kinds,
    status, attributes with their types, resource, scope and inherited keys."""
    sent = InMemoryTracer()
    exporter = OtlpTracer(endpoint=receiver.url, schedule_delay=0.05)
    tracer = TeeTracer().add_tracer(sent).add_tracer(exporter)
    tracer.set_context(resource_attributes={"service.name": "round-trip", "replicas": 3})
    with tracer.trace("converse", span_kind="SERVER") as root:
        root.add_attribute("ai.conversation.id", "c-rt", inheritable=True)
        root.add_attribute("ai.trace.type", "converse")
        with tracer.trace("llm", span_kind="CLIENT") as llm:
            llm.add_attribute("ai.trace.type", "llm-invocation")
            llm.add_attribute(
                "ai.llm.request.messages", [{"role": "user", "content": [{"text": "hi"}]}]
            )
            llm.add_attribute("ai.llm.response.usage", {"inputTokens": 3, "outputTokens": 1})
            llm.add_attribute("mixed", [1, "a", None])
            llm.add_attribute("floats", [0.5, 1.5])
            llm.add_attribute("nothing", None)
            llm.add_attribute("flag", True)
        try:
            with tracer.trace("tool") as tool:
                tool.add_attribute("ai.tool.input", {"city": "Paris"})
                raise ValueError("no such city")
        except ValueError:
            pass
    assert exporter.flush(10)
    exporter.shutdown()
    received = {span.span_id: span for span in store.get_traces()}
    originals = {span.span_id: span for span in sent.get_traces()}
    assert {k: v.as_dict() for k, v in originals.items()} == {
        k: v.as_dict() for k, v in received.items()
    }
    assert {k: v.inherited_attribute_keys for k, v in originals.items()} == {
        k: v.inherited_attribute_keys for k, v in received.items()
    }


def test_our_exporter_marks_what_it_changed_on_the_wire() -> None:
    """``ai.storage.otlp`` names the keys sent as JSON text, the ``gen_ai.*`` keys added and
    the inherited count, so the receiver can undo exactly that."""
    tracer = InMemoryTracer()
    with tracer.trace("root") as root:
        root.add_attribute("ai.conversation.id", "c", inheritable=True)
        with tracer.trace("tool") as tool:
            tool.add_attribute("ai.tool.name", "get_weather")
            tool.add_attribute("ai.tool.input", {"city": "Paris"})
    span = next(s for s in tracer.get_traces() if s.span_name == "tool")
    message = Span.FromString(
        next(iter(spans_of(OtlpEncoder().encode_one([span])))).SerializeToString()
    )
    marker = {kv.key: kv.value.string_value for kv in message.attributes}["ai.storage.otlp"]
    assert {
        "json": ["ai.tool.input"],
        "added": ["gen_ai.conversation.id", "gen_ai.tool.name", "gen_ai.tool.call.arguments"],
        "inherited": 1,
    } == json.loads(marker)


def test_strands_agents_spans_map_messages_tools_and_answers_from_their_events(
    sdk: TracerProvider, store: InMemoryTracer
) -> None:
    """Strands Agents' shape (its default conventions): messages in ``gen_ai.*.message`` and
    ``gen_ai.choice`` events holding Bedrock content blocks, usage on the chat span."""
    tracer = sdk.get_tracer("strands.telemetry.tracer")
    user = json.dumps([{"text": "Weather in Paris?"}])
    with tracer.start_as_current_span("invoke_agent weather_agent") as agent:
        agent.set_attributes(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.system": "strands-agents",
                "gen_ai.agent.name": "weather_agent",
                "gen_ai.request.model": "us.amazon.nova-pro-v1:0",
                "session.id": "strands-session",
            }
        )
        agent.add_event("gen_ai.user.message", {"content": user})
        with tracer.start_as_current_span("execute_event_loop_cycle") as cycle:
            cycle.set_attribute("event_loop.cycle_id", "c1")
            with tracer.start_as_current_span("chat") as chat:
                chat.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "us.amazon.nova-pro-v1:0",
                        "gen_ai.usage.prompt_tokens": 30,
                        "gen_ai.usage.input_tokens": 30,
                        "gen_ai.usage.completion_tokens": 10,
                        "gen_ai.usage.output_tokens": 10,
                        "gen_ai.usage.total_tokens": 40,
                    }
                )
                chat.add_event("gen_ai.user.message", {"content": user})
                tool_use = {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"c": "P"}}}
                chat.add_event(
                    "gen_ai.choice",
                    {"finish_reason": "tool_use", "message": json.dumps([tool_use])},
                )
            with tracer.start_as_current_span("execute_tool weather") as tool:
                tool.set_attributes(
                    {
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": "weather",
                        "gen_ai.tool.call.id": "t1",
                        "gen_ai.tool.status": "success",
                    }
                )
                tool.add_event(
                    "gen_ai.tool.message",
                    {"role": "tool", "content": json.dumps({"c": "P"}), "id": "t1"},
                )
                tool.add_event(
                    "gen_ai.choice", {"message": json.dumps([{"text": "sunny"}]), "id": "t1"}
                )
        agent.add_event("gen_ai.choice", {"message": "It is sunny.", "finish_reason": "end_turn"})
    spans = by_name(store)
    chat_attrs = spans["chat"].attributes
    assert [{"role": "user", "content": [{"text": "Weather in Paris?"}]}] == chat_attrs[
        "ai.llm.request.messages"
    ]
    assert {"message": {"role": "assistant", "content": [tool_use]}} == chat_attrs[
        "ai.llm.response.output"
    ]
    assert ("tool_use", 40) == (
        chat_attrs["ai.llm.response.stop.reason"],
        chat_attrs["ai.llm.response.usage"]["totalTokens"],
    )
    tool_attrs = spans["execute_tool weather"].attributes
    assert ({"c": "P"}, [{"text": "sunny"}], "t1") == (
        tool_attrs["ai.tool.input"],
        tool_attrs["ai.tool.output"],
        tool_attrs["ai.tool.use.id"],
    )
    agent_attrs = spans["invoke_agent weather_agent"].attributes
    assert ("Weather in Paris?", "It is sunny.") == (
        agent_attrs["ai.user.input"],
        agent_attrs["ai.agent.response"],
    )
    assert "ai.llm.request.messages" not in spans["execute_event_loop_cycle"].attributes
    assert {"strands-session"} == {s.attributes["ai.conversation.id"] for s in spans.values()}


def test_a_100_mb_body_is_refused_before_it_is_read(receiver: OtlpReceiver) -> None:
    """A request announcing 100 MB gets 413 at once; the receiver keeps serving."""
    host, port = receiver.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    connection.putrequest("POST", "/v1/traces")
    connection.putheader("Content-Type", "application/x-protobuf")
    connection.putheader("Content-Length", str(100 * 1024 * 1024))
    connection.endheaders(b"\x0a" * 1024)
    assert 413 == connection.getresponse().status
    connection.close()
    assert 200 == post(receiver, sample_request(1).SerializeToString(), PROTOBUF)[0]
