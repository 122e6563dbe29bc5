"""The receiver's hand-written protobuf reader agrees with the official OTLP classes."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from generative_ai_toolkit.tracer.otlp._reader import ReceivedSpan, WireError, read_request


def _array(items: list[AnyValue]) -> AnyValue:
    value = AnyValue()
    value.array_value.values.extend(items)
    return value


def _kvlist(pairs: list[tuple[str, AnyValue]]) -> AnyValue:
    value = AnyValue()
    value.kvlist_value.values.extend(KeyValue(key=key, value=item) for key, item in pairs)
    return value


_I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_U64 = st.integers(min_value=0, max_value=2**64 - 1)
_scalars = st.one_of(
    st.text(max_size=8).map(lambda text: AnyValue(string_value=text)),
    st.booleans().map(lambda flag: AnyValue(bool_value=flag)),
    _I64.map(lambda number: AnyValue(int_value=number)),
    st.floats(allow_nan=False).map(lambda number: AnyValue(double_value=number)),
    st.binary(max_size=4).map(lambda data: AnyValue(bytes_value=data)),
    st.just(AnyValue()),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(_array),
        st.lists(st.tuples(st.text(max_size=4), inner), max_size=3).map(_kvlist),
    ),
    max_leaves=8,
)
_attributes = st.lists(st.tuples(st.text(max_size=6), _values), max_size=4)


@st.composite
def _requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        resource_spans = request.resource_spans.add()
        _fill(resource_spans.resource.attributes, draw(_attributes))
        for _ in range(draw(st.integers(0, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(st.text(max_size=5))
            scope_spans.scope.version = draw(st.text(max_size=3))
            for _ in range(draw(st.integers(0, 3))):
                span = scope_spans.spans.add(
                    trace_id=draw(st.binary(max_size=16)),
                    span_id=draw(st.binary(max_size=8)),
                    parent_span_id=draw(st.binary(max_size=8)),
                    name=draw(st.text(max_size=8)),
                    kind=draw(st.integers(0, 5)),
                    start_time_unix_nano=draw(_U64),
                    end_time_unix_nano=draw(_U64),
                    flags=draw(st.integers(0, 2**32 - 1)),
                    trace_state=draw(st.text(max_size=4)),
                )
                _fill(span.attributes, draw(_attributes))
                for _ in range(draw(st.integers(0, 2))):
                    event = span.events.add(
                        time_unix_nano=draw(_U64), name=draw(st.text(max_size=5))
                    )
                    _fill(event.attributes, draw(_attributes))
                for _ in range(draw(st.integers(0, 2))):
                    link = span.links.add(
                        trace_id=draw(st.binary(max_size=16)), span_id=draw(st.binary(max_size=8))
                    )
                    _fill(link.attributes, draw(_attributes))
                span.status.code = draw(st.sampled_from(list(Status.StatusCode.values())))
                span.status.message = draw(st.text(max_size=5))
    return request


def _fill(target: Any, pairs: list[tuple[str, AnyValue]]) -> None:
    target.extend(KeyValue(key=key, value=value) for key, value in pairs)


def _official(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_official(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _official(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def _official_attrs(pairs: Any) -> dict[str, Any]:
    return {kv.key: _official(kv.value) for kv in pairs}


def _expected(request: ExportTraceServiceRequest) -> list[tuple[Any, ...]]:
    return [
        (
            _official_attrs(resource_spans.resource.attributes),
            (scope_spans.scope.name, scope_spans.scope.version),
            span.trace_id,
            span.span_id,
            span.parent_span_id,
            span.name,
            span.kind,
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            _official_attrs(span.attributes),
            [(e.time_unix_nano, e.name, _official_attrs(e.attributes)) for e in span.events],
            [(k.trace_id, k.span_id, _official_attrs(k.attributes)) for k in span.links],
            span.status.code,
            span.status.message,
        )
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def _read(spans: list[ReceivedSpan]) -> list[tuple[Any, ...]]:
    return [
        (
            span.resource,
            span.scope,
            span.trace_id,
            span.span_id,
            span.parent_span_id,
            span.name,
            span.kind,
            span.start,
            span.end,
            span.attrs,
            span.events,
            span.links,
            span.status_code,
            span.status_message,
        )
        for span in spans
    ]


@settings(max_examples=300, deadline=None)
@given(_requests())
def test_every_field_reads_as_the_official_classes_read_it(
    request: ExportTraceServiceRequest,
) -> None:
    """Ids, names, kinds, times, typed attributes, events, links, status, resource, scope."""
    body = request.SerializeToString()
    assert _expected(request) == _read(read_request(body))
    assert _expected(request) == _read(read_request(body))  # again, from remembered attributes


def test_unknown_fields_are_skipped_and_repeated_messages_merge() -> None:
    """A newer sender's extra fields do not matter; a status sent twice merges, as in protobuf."""
    span = Span(name="s", kind=Span.SPAN_KIND_SERVER, trace_id=b"\x01" * 16)
    span.status.code = Status.STATUS_CODE_ERROR
    status_again = b"\x7a\x04\x12\x02ok"  # field 15: a Status with only its message, "ok"
    # fields 111 (varint), 115 (fixed64), 116 (bytes), 117 (fixed32), unknown to OTLP
    unknown = b"\xf8\x06\x05\x99\x07\x01\x02\x03\x04\x05\x06\x07\x08\xa2\x07\x01x\xad\x07abcd"
    raw = span.SerializeToString() + status_again + unknown
    official = Span.FromString(raw)
    (read,) = read_request(span_bytes_request(raw))
    assert (official.name, official.kind, official.trace_id) == (
        read.name,
        read.kind,
        read.trace_id,
    )
    assert (2, "ok") == (official.status.code, official.status.message)
    assert (2, "ok") == (read.status_code, read.status_message)


def span_bytes_request(span: bytes) -> bytes:
    """An ``ExportTraceServiceRequest`` holding one span given as raw bytes."""
    scope_spans = b"\x12" + _varint(len(span)) + span
    resource_spans = b"\x12" + _varint(len(scope_spans)) + scope_spans
    return b"\x0a" + _varint(len(resource_spans)) + resource_spans


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def test_every_truncation_is_refused_exactly_when_protobuf_refuses_it() -> None:
    """A body cut anywhere is a ``WireError`` exactly when the official parser fails."""
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="tool", start_time_unix_nano=5)
    )
    span.attributes.add(key="k").value.array_value.values.add(double_value=1.5)
    span.events.add(name="e", time_unix_nano=7).attributes.add(key="a").value.int_value = -3
    span.status.message = "bad"
    body = request.SerializeToString()
    for cut in range(len(body)):
        try:
            ExportTraceServiceRequest.FromString(body[:cut])
        except DecodeError:
            with pytest.raises(WireError):
                read_request(body[:cut])
        else:
            read_request(body[:cut])


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe garbage", span_bytes_request(b"\x2a\x02\xc3\x28"), b"\x0b", b"\x0a\x80"],
    ids=["garbage", "invalid-utf8-name", "group", "unfinished-length"],
)
def test_malformed_bodies_are_wire_errors(body: bytes) -> None:
    """Never another exception: the receiver answers 400 for these."""
    with pytest.raises(WireError):
        read_request(body)
