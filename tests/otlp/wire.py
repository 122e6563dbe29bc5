"""Reading OTLP protobuf back into plain Python values, for assertions."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from generative_ai_toolkit.tracer import Trace

T0 = 1_744_748_685_972_976_123  # 2025-04-15 20:24:45.972976123 UTC, nanosecond precision


def value_of(value: AnyValue) -> Any:
    """The Python value an ``AnyValue`` carries (``None`` when empty)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


#: The exporter's round-trip marker, asserted on in test_otlp_receiver.py; left out elsewhere.
MARKER = "ai.storage.otlp"


def attributes_of(message: Any) -> dict[str, Any]:
    """A span's, event's or resource's attributes as a dict (without the round-trip marker)."""
    return {kv.key: value_of(kv.value) for kv in message.attributes if kv.key != MARKER}


def spans_of(body: bytes) -> list[Span]:
    """Every span of a request body."""
    request = ExportTraceServiceRequest.FromString(body)
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def ended_span(
    name: str = "span",
    *,
    attributes: dict[str, Any] | None = None,
    span_id: str = "00f067aa0ba902b7",
    parent_span_id: str | None = None,
    status: str = "UNSET",
    kind: str = "INTERNAL",
    resource: dict[str, Any] | None = None,
) -> Trace:
    """An ended span with fixed ids and times."""
    return Trace.restore(
        span_name=name,
        span_kind=kind,
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id=span_id,
        parent_span_id=parent_span_id,
        started_at=T0,
        ended_at=T0 + 1_234_567,
        attributes=attributes or {},
        span_status=status,
        resource_attributes=resource or {},
    )
