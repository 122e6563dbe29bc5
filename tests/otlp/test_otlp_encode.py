"""The OTLP encoder: spans in, ``ExportTraceServiceRequest`` bytes out (no network)."""

# Specifications read `assert expected == actual`, which ruff's SIM300 calls a Yoda condition.

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from generative_ai_toolkit.tracer import InMemoryTracer, Scope
from generative_ai_toolkit.tracer.otlp._encode import (
    OtlpEncoder,
    SpanTooLargeError,
    partial_success,
)
from generative_ai_toolkit.tracer.otlp._values import fill_span
from otlp.wire import MARKER, T0, attributes_of, ended_span, spans_of, value_of


def encode(*spans: Any, **options: Any) -> list[Span]:
    requests = OtlpEncoder(**options).encode(list(spans))
    assert 1 == len(requests)
    return spans_of(requests[0].body)


def test_ids_kind_times_and_parent_are_exact() -> None:
    """Ids are raw bytes, kinds OTLP enums, times integer nanoseconds (no float rounding)."""
    span = ended_span(
        "child", kind="CLIENT", span_id="b7ad6b7169203331", parent_span_id="00f067aa0ba902b7"
    )
    (message,) = encode(span)
    assert "0af7651916cd43dd8448eb211c80319c" == message.trace_id.hex()
    assert "b7ad6b7169203331" == message.span_id.hex()
    assert "00f067aa0ba902b7" == message.parent_span_id.hex()
    assert "child" == message.name
    assert Span.SPAN_KIND_CLIENT == message.kind
    assert T0 == message.start_time_unix_nano
    assert T0 + 1_234_567 == message.end_time_unix_nano


def test_root_span_has_no_parent_id() -> None:
    """A root span's parent_span_id is empty."""
    (message,) = encode(ended_span())
    assert b"" == message.parent_span_id


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("INTERNAL", Span.SPAN_KIND_INTERNAL),
        ("SERVER", Span.SPAN_KIND_SERVER),
        ("CLIENT", Span.SPAN_KIND_CLIENT),
        ("PRODUCER", Span.SPAN_KIND_PRODUCER),
        ("CONSUMER", Span.SPAN_KIND_CONSUMER),
    ],
)
def test_span_kinds_map_to_otlp_kinds(kind: str, expected: int) -> None:
    """Each of our span kinds has its OTLP counterpart."""
    (message,) = encode(ended_span(kind=kind))
    assert expected == message.kind


def test_spans_are_grouped_by_resource_and_scope() -> None:
    """One ResourceSpans per resource, one ScopeSpans per scope within it."""
    tracer_a = InMemoryTracer(scope=Scope("agent-a", "1.0"))
    tracer_a.set_context(resource_attributes={"service.name": "A"})
    tracer_b = InMemoryTracer(scope=Scope("agent-b", "2.0"))
    tracer_b.set_context(resource_attributes={"service.name": "B"})
    for name in ("a1", "a2"):
        with tracer_a.trace(name):
            pass
    with tracer_b.trace("b1"):
        pass
    with tracer_a.trace("a3"):
        pass
    spans = [*tracer_a.get_traces(), *tracer_b.get_traces()]
    (request,) = OtlpEncoder().encode(spans)
    decoded = ExportTraceServiceRequest.FromString(request.body)
    groups = {
        (
            attributes_of(rs.resource)["service.name"],
            ss.scope.name,
            ss.scope.version,
        ): sorted(s.name for s in ss.spans)
        for rs in decoded.resource_spans
        for ss in rs.scope_spans
    }
    assert {("A", "agent-a", "1.0"): ["a1", "a2", "a3"], ("B", "agent-b", "2.0"): ["b1"]} == groups
    assert 2 == len(decoded.resource_spans)


def test_default_scope_is_the_toolkit() -> None:
    """Spans of a default tracer carry scope generative-ai-toolkit@current."""
    (request,) = OtlpEncoder().encode([ended_span()])
    scope = ExportTraceServiceRequest.FromString(request.body).resource_spans[0].scope_spans[0]
    assert ("generative-ai-toolkit", "current") == (scope.scope.name, scope.scope.version)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("text", "string_value", "text"),
        (True, "bool_value", True),
        (42, "int_value", 42),
        (-(2**63), "int_value", -(2**63)),
        (2**63 - 1, "int_value", 2**63 - 1),
        (2**63, "string_value", "9223372036854775808"),
        (-(2**63) - 1, "string_value", "-9223372036854775809"),
        (10**30, "string_value", str(10**30)),
        (0.25, "double_value", 0.25),
        (["a", "b"], "array_value", ["a", "b"]),
        ((1, 2, 3), "array_value", [1, 2, 3]),
        ([True, False], "array_value", [True, False]),
        ([0.5, 1.5], "array_value", [0.5, 1.5]),
        ([], "array_value", []),
        ([1, "a"], "string_value", '[1,"a"]'),
        ([1, True], "string_value", "[1,true]"),
        ([1, 2**70], "string_value", f"[1,{2**70}]"),
        ([[1], [2]], "string_value", "[[1],[2]]"),
        ({"a": 1, "b": [1, 2]}, "string_value", '{"a":1,"b":[1,2]}'),
        (date(2025, 4, 15), "string_value", "2025-04-15"),
        (b"\x00\x01", "string_value", "b'\\x00\\x01'"),
    ],
)
def test_attribute_values_are_typed(value: Any, kind: str, expected: Any) -> None:
    """Native OTLP values for str/bool/int/float and homogeneous lists; text for the rest."""
    (message,) = encode(ended_span(attributes={"key": value}))
    (attribute,) = [kv for kv in message.attributes if kv.key != MARKER]
    assert kind == attribute.value.WhichOneof("value")
    assert expected == value_of(attribute.value)


def test_none_is_an_empty_value() -> None:
    """None becomes OTLP's empty AnyValue (its null)."""
    (message,) = encode(ended_span(attributes={"key": None}))
    assert {"key": None} == attributes_of(message)


def test_nan_and_infinity_stay_doubles() -> None:
    """Doubles carry NaN and infinities natively."""
    (message,) = encode(ended_span(attributes={"nan": math.nan, "inf": math.inf}))
    attrs = attributes_of(message)
    assert math.isnan(attrs["nan"])
    assert math.inf == attrs["inf"]


def test_invalid_unicode_is_repaired_not_fatal() -> None:
    """A lone surrogate in a name, key or value is replaced; the span is still sent."""
    (message,) = encode(ended_span("bad\ud800name", attributes={"k\udfff": "v\ud800", "ok": 1}))
    assert "bad?name" == message.name
    assert {"k?": "v?", "ok": 1} == attributes_of(message)


def test_error_status_carries_the_exception_message_and_event() -> None:
    """ERROR maps to STATUS_CODE_ERROR with the message; the exception is also a span event."""
    tracer = InMemoryTracer()
    with pytest.raises(ValueError, match="boom"), tracer.trace("failing"):
        raise ValueError("boom")
    (span,) = tracer.get_traces()
    (message,) = encode(span)
    assert Status.STATUS_CODE_ERROR == message.status.code
    assert "boom" == message.status.message
    (event,) = message.events
    assert "exception" == event.name
    assert span.end_time_ns == event.time_unix_nano
    attrs = attributes_of(event)
    assert "ValueError" == attrs["exception.type"]
    assert "boom" == attrs["exception.message"]
    assert "ValueError: boom" in attrs["exception.stacktrace"]
    assert "ValueError" == attributes_of(message)["exception.type"]  # our keys stay too


@pytest.mark.parametrize(
    ("status", "code"),
    [("UNSET", Status.STATUS_CODE_UNSET), ("OK", Status.STATUS_CODE_OK)],
)
def test_other_statuses(status: str, code: int) -> None:
    """UNSET and OK map to their OTLP codes, without events."""
    (message,) = encode(ended_span(status=status))
    assert code == message.status.code
    assert [] == list(message.events)


def test_genai_semantic_conventions_are_added_next_to_ours() -> None:
    """gen_ai.* keys mirror our ai.* keys; ours are kept."""
    attributes = {
        "ai.conversation.id": 488044,
        "ai.agent.name": "weather",
        "ai.trace.type": "tool-invocation",
        "ai.tool.name": "get_weather",
        "ai.tool.use.id": "tooluse_1",
        "ai.tool.input": {"city": "Paris"},
        "ai.tool.output": "sunny",
        "ai.llm.request.model.id": "anthropic.claude-3-haiku",
        "ai.llm.response.usage": {"inputTokens": 12, "outputTokens": 34, "totalTokens": 46},
    }
    (message,) = encode(ended_span(attributes=attributes))
    attrs = attributes_of(message)
    assert {
        "gen_ai.conversation.id": "488044",
        "gen_ai.agent.name": "weather",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "tooluse_1",
        "gen_ai.tool.call.arguments": '{"city":"Paris"}',
        "gen_ai.tool.call.result": "sunny",
        "gen_ai.request.model": "anthropic.claude-3-haiku",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
    } == {k: v for k, v in attrs.items() if k.startswith("gen_ai.")}
    assert 488044 == attrs["ai.conversation.id"]


@pytest.mark.parametrize(
    ("trace_type", "operation"),
    [("llm-invocation", "chat"), ("tool-invocation", "execute_tool"), ("converse", "invoke_agent")],
)
def test_trace_types_map_to_genai_operations(trace_type: str, operation: str) -> None:
    """ai.trace.type names the gen_ai.operation.name."""
    (message,) = encode(ended_span(attributes={"ai.trace.type": trace_type}))
    assert operation == attributes_of(message)["gen_ai.operation.name"]


def test_genai_keys_never_replace_the_spans_own() -> None:
    """A gen_ai key the span already has wins over the mirrored one."""
    attributes = {"ai.tool.name": "ours", "gen_ai.tool.name": "theirs"}
    (message,) = encode(ended_span(attributes=attributes))
    assert ["ai.tool.name", "gen_ai.tool.name", MARKER] == [kv.key for kv in message.attributes]
    assert "theirs" == attributes_of(message)["gen_ai.tool.name"]


def test_genai_semantic_conventions_can_be_turned_off() -> None:
    """With genai_semconv=False only our own keys are sent."""
    attributes = {"ai.conversation.id": "c", "ai.trace.type": "converse"}
    (message,) = encode(ended_span(attributes=attributes), genai_semconv=False)
    assert attributes == attributes_of(message)


# -- size limits --------------------------------------------------------------------------------


def test_a_batch_over_the_limit_is_split_into_requests_within_it() -> None:
    """Every span arrives once, and no request exceeds max_request_bytes."""
    spans = [
        ended_span(f"s{i}", span_id=f"{i + 1:016x}", attributes={"text": "x" * 1000})
        for i in range(50)
    ]
    requests = OtlpEncoder(max_request_bytes=8192).encode(spans)
    assert len(requests) > 1
    assert all(len(r.body) <= 8192 for r in requests)
    names = [s.name for r in requests for s in spans_of(r.body)]
    assert sorted(f"s{i}" for i in range(50)) == sorted(names)
    assert [[s.name for s in spans_of(r.body)] for r in requests] == [
        [s.span_name for s in r.spans] for r in requests
    ]


def test_an_oversize_span_is_cut_down_and_never_sinks_its_neighbours() -> None:
    """Its largest values are cut and listed; the spans around it arrive whole."""
    small = ended_span("small", span_id="0000000000000001", attributes={"a": "keep me"})
    huge = ended_span(
        "huge",
        span_id="0000000000000002",
        attributes={"ai.tool.output": "y" * 50_000, "tags": ["z" * 20_000], "note": "short"},
    )
    requests = OtlpEncoder(max_request_bytes=16_384, genai_semconv=False).encode([small, huge])
    assert all(len(r.body) <= 16_384 for r in requests)
    by_name = {s.name: attributes_of(s) for r in requests for s in spans_of(r.body)}
    assert {"a": "keep me"} == by_name["small"]
    cut = by_name["huge"]
    assert "short" == cut["note"]
    assert cut["ai.tool.output"].startswith("yyyy")
    assert cut["ai.tool.output"].endswith("chars]")
    assert "ai.tool.output" in cut["ai.storage.truncated_keys"]


def test_a_span_that_cannot_fit_raises() -> None:
    """Hundreds of small keys cannot be cut: the encoder says so (the engine drops it, counted)."""
    span = ended_span(attributes={f"key{i:04d}": i for i in range(2000)})
    with pytest.raises(SpanTooLargeError):
        OtlpEncoder(max_request_bytes=4096).encode([span])


def test_max_request_bytes_must_be_sane() -> None:
    """A limit too small to hold any span is a configuration error."""
    with pytest.raises(ValueError, match="max_request_bytes"):
        OtlpEncoder(max_request_bytes=10)


# -- responses -----------------------------------------------------------------------------------


def test_partial_success_is_read_from_the_response() -> None:
    """rejected_spans and error_message come back; empty or foreign bodies mean success."""
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = 3
    response.partial_success.error_message = "too old"
    assert (3, "too old") == partial_success(response.SerializeToString())
    assert (0, "") == partial_success(b"")
    assert (0, "") == partial_success(b"<html>\xff")


# -- property ------------------------------------------------------------------------------------

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary() | st.dates(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner) | st.tuples(inner, inner),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), _values, max_size=5))
def test_any_attributes_encode_and_decode(attributes: dict[str, Any]) -> None:
    """Whatever the attribute values, the span encodes into a request that decodes."""
    (message,) = encode(ended_span(attributes=attributes), genai_semconv=False)
    assert len(attributes) + 1 == len(message.attributes)  # and the round-trip marker


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), _values, max_size=5), st.sampled_from(["UNSET", "OK", "ERROR"]))
def test_fast_wire_path_equals_the_official_message_path(
    attributes: dict[str, Any], status: str
) -> None:
    """The hand-written fast path and the official classes produce the same Span."""
    attributes = {**attributes, "ai.trace.type": "converse", "ai.conversation.id": "c"}
    span = ended_span(attributes=attributes, status=status, parent_span_id="b7ad6b7169203331")
    (fast,) = encode(span)
    official = Span()
    fill_span(official, span, genai_semconv=True)
    assert official == fast
