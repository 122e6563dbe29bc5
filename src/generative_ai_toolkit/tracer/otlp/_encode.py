"""Encoding ended spans as OTLP ``ExportTraceServiceRequest`` protobuf bytes (pure: no I/O).

Spans are written by ``_otlp_wire`` (fast path) or ``_otlp_values`` (official messages), then
framed here: one ``ResourceSpans`` per distinct resource, one ``ScopeSpans`` per scope.

A request is never larger than ``max_request_bytes``: a batch that does not fit is split, and a
span too large on its own has its largest attribute values cut down (listed in the
``ai.storage.truncated_keys`` attribute) rather than being dropped with its neighbours.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .._codec import TRUNCATED_KEYS_ATTRIBUTE
from .._genai_semconv import genai_attributes
from .._span import Scope
from .._trace import Trace
from ._config import DEFAULT_MAX_REQUEST_BYTES
from ._values import (
    ROUND_TRIP_ATTRIBUTE,
    fill_attributes,
    fill_outcome,
    fill_span,
    round_trip_marker,
    set_value,
    valid_text,
)
from ._wire import SpanWireEncoder, any_value_bytes, field, span_fields_bytes, varint

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: Room kept free for the tags and length prefixes that wrap a span in a request.
_WRAP_BYTES: Final = 32
#: A cut value keeps this much room for its "...[truncated N chars]" marker.
_MARKER_ROOM: Final = 64

# -- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncodedRequest:
    """One request body and the spans it carries (to know what is left when it fails)."""

    body: bytes
    spans: Sequence[Trace]


class SpanTooLargeError(ValueError):
    """A span does not fit in a request even with every attribute value cut down."""


class OtlpEncoder:
    """Encodes batches of ended spans as OTLP/HTTP protobuf request bodies.

    One ``ResourceSpans`` per distinct resource, one ``ScopeSpans`` per scope within it. Used
    from one worker thread: its caches are not locked.
    """

    def __init__(
        self, *, genai_semconv: bool = True, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    ) -> None:
        if max_request_bytes < 1024:
            raise ValueError(f"max_request_bytes must be at least 1024, not {max_request_bytes}")
        self.genai_semconv = genai_semconv
        self.max_request_bytes = max_request_bytes
        self._wire = SpanWireEncoder(extras=self._extras, slow_value=any_value_bytes(set_value))
        # id(resource mapping) -> (the mapping, kept alive so the id stays its own; its bytes)
        self._resources: dict[int, tuple[Mapping[str, Any], bytes]] = {}
        self._scopes: dict[Scope, bytes] = {}

    def encode(self, spans: Sequence[Trace]) -> list[EncodedRequest]:
        """Request bodies that together carry every span of ``spans``, each within the limit.

        Raises ``SpanTooLargeError`` when a span cannot be cut down to fit (the export engine
        then halves the batch until that span is alone, so its neighbours still go out).
        """
        groups = [
            (resource, scope, [(span, self._span_bytes(span)) for span in members])
            for (resource, scope), members in self._group(spans).items()
        ]
        body = self._request(groups)
        if len(body) <= self.max_request_bytes:
            return [EncodedRequest(body, spans)]
        return self._encode_split(groups)

    def encode_one(self, spans: Sequence[Trace]) -> bytes:
        """All of ``spans`` in one request body, whatever its size (for tests and tools)."""
        return self._request(
            [
                (resource, scope, [(span, self._span_bytes(span)) for span in members])
                for (resource, scope), members in self._group(spans).items()
            ]
        )

    # -- spans

    def _span_bytes(self, span: Trace) -> bytes:
        try:
            return self._wire.span(span)
        except Exception:  # noqa: BLE001 - e.g. a lone surrogate: redo this span, repaired
            message = Span()
            fill_span(message, span, genai_semconv=self.genai_semconv, safe=True)
            return message.SerializeToString()

    def _extras(self, span: Trace) -> bytes:
        attrs = span._attrs
        attribute = self._wire.attribute
        added = genai_attributes(attrs) if self.genai_semconv else {}
        extra = b"".join([attribute(key, value) for key, value in added.items()])
        extra += attribute(ROUND_TRIP_ATTRIBUTE, round_trip_marker(span, list(added)))
        if span._status != "UNSET" or "exception.type" in attrs or "exception.message" in attrs:
            extra += span_fields_bytes(lambda message: fill_outcome(message, span))
        return extra

    # -- grouping and framing

    def _group(self, spans: Sequence[Trace]) -> dict[tuple[bytes, Scope], list[Trace]]:
        groups: dict[tuple[bytes, Scope], list[Trace]] = {}
        last_resource: object = None
        last_key: tuple[bytes, Scope] | None = None
        members: list[Trace] = []
        for span in spans:
            if (
                last_key is None
                or span._resource is not last_resource
                or span._scope != last_key[1]
            ):
                last_resource = span._resource
                last_key = (self._resource_bytes(span._resource), span._scope)
                members = groups.setdefault(last_key, [])
            members.append(span)
        return groups

    def _resource_bytes(self, resource: Mapping[str, Any]) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        message = Resource()
        fill_attributes(message.attributes, resource)
        encoded = message.SerializeToString()
        if len(self._resources) > 64:  # restored spans bring a new mapping each: stay bounded
            self._resources.clear()
        self._resources[id(resource)] = (resource, encoded)
        return encoded

    def _scope_field(self, scope: Scope) -> bytes:
        encoded = self._scopes.get(scope)
        if encoded is None:
            message = InstrumentationScope(
                name=valid_text(scope.name), version=valid_text(scope.version)
            )
            encoded = field(b"\x0a", message.SerializeToString())
            if len(self._scopes) > 64:
                self._scopes.clear()
            self._scopes[scope] = encoded
        return encoded

    def _request(
        self, groups: Sequence[tuple[bytes, Scope, Sequence[tuple[Trace, bytes]]]]
    ) -> bytes:
        """``ExportTraceServiceRequest`` bytes: resource_spans (1) > scope_spans (2) > spans (2)."""
        parts: list[bytes] = []
        for resource, scope, members in groups:
            chunks = [self._scope_field(scope)]
            for _, encoded in members:
                chunks.append(b"\x12")
                chunks.append(varint(len(encoded)))
                chunks.append(encoded)
            resource_spans = field(b"\x0a", resource) + field(b"\x12", b"".join(chunks))
            parts.append(field(b"\x0a", resource_spans))
        return b"".join(parts)

    # -- the oversize path

    def _encode_split(
        self, groups: Sequence[tuple[bytes, Scope, Sequence[tuple[Trace, bytes]]]]
    ) -> list[EncodedRequest]:
        limit = self.max_request_bytes
        requests: list[EncodedRequest] = []
        chunk: dict[tuple[bytes, Scope], list[tuple[Trace, bytes]]] = {}
        chunk_bytes = 0
        for resource, scope, members in groups:
            overhead = len(resource) + len(self._scope_field(scope)) + 3 * _WRAP_BYTES
            for span, whole in members:
                encoded = whole
                size = len(encoded) + _WRAP_BYTES
                if size + overhead > limit:
                    message = self._truncated(
                        span, Span.FromString(encoded), limit - overhead - _WRAP_BYTES
                    )
                    encoded = message.SerializeToString()
                    size = len(encoded) + _WRAP_BYTES
                cost = size + (0 if (resource, scope) in chunk else overhead)
                if chunk and chunk_bytes + cost > limit:
                    requests.append(self._chunk_request(chunk))
                    chunk, chunk_bytes, cost = {}, 0, size + overhead
                chunk.setdefault((resource, scope), []).append((span, encoded))
                chunk_bytes += cost
        if chunk:
            requests.append(self._chunk_request(chunk))
        _log.debug("split a batch into %d OTLP requests of at most %d bytes", len(requests), limit)
        return requests

    def _chunk_request(
        self, chunk: Mapping[tuple[bytes, Scope], Sequence[tuple[Trace, bytes]]]
    ) -> EncodedRequest:
        body = self._request(
            [(resource, scope, members) for (resource, scope), members in chunk.items()]
        )
        return EncodedRequest(body, [span for members in chunk.values() for span, _ in members])

    def _truncated(self, span: Trace, message: Span, budget: int) -> Span:
        """``message`` with its largest attribute values cut until it fits in ``budget`` bytes.

        The largest values are cut down to one common size (the smallest that frees enough
        room), so one huge value does not lose everything while a merely large one stays whole.
        """
        cut_keys: list[str] = []
        marker: KeyValue | None = None
        while message.ByteSize() > budget:
            candidates = [kv for kv in message.attributes if kv.key != TRUNCATED_KEYS_ATTRIBUTE]
            for event in message.events:
                candidates.extend(event.attributes)
            sized = sorted(((kv.ByteSize(), kv) for kv in candidates), key=lambda p: -p[0])
            excess = message.ByteSize() - budget + _MARKER_ROOM  # room for the list of cut keys
            level = _level(sizes=[size for size, _ in sized], excess=excess)
            if level is None:
                raise SpanTooLargeError(
                    f"span {span.span_name!r} does not fit in {budget} bytes even cut down"
                )
            for size, kv in sized:
                if size <= level:
                    break
                _cut_value(kv.value, size - level)
                if kv.key not in cut_keys:
                    cut_keys.append(kv.key)
                    if marker is None:
                        marker = message.attributes.add(key=TRUNCATED_KEYS_ATTRIBUTE)
                    marker.value.array_value.values.add().string_value = kv.key
        _log.warning(
            "span %r exceeded the OTLP request limit; cut down attribute(s) %s",
            span.span_name,
            ", ".join(cut_keys),
        )
        return message


def _level(*, sizes: Sequence[int], excess: int) -> int | None:
    """The size to cut the largest of ``sizes`` (descending) down to, freeing ``excess`` bytes
    (each cut also pays for its marker); ``None`` when even cutting all cannot."""
    total = 0
    for count, size in enumerate(sizes, start=1):
        total += size
        level = (total - excess - count * _MARKER_ROOM) // count
        following = sizes[count] if count < len(sizes) else 0
        if level >= following:
            return level if level >= _MARKER_ROOM else None
    return None


def _cut_value(value: AnyValue, excess: int) -> None:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        text = value.string_value
    elif kind == "array_value":
        values = value.array_value.values
        items = [getattr(item, item.WhichOneof("value") or "string_value") for item in values]
        text = json.dumps(
            [item.hex() if isinstance(item, bytes) else item for item in items],
            ensure_ascii=False,
        )
    else:
        text = str(value).strip()
    raw = text.encode("utf-8")
    keep = max(0, len(raw) - excess - _MARKER_ROOM)
    kept = raw[:keep].decode("utf-8", "ignore")
    value.Clear()
    value.string_value = f"{kept}...[truncated {len(text) - len(kept)} chars]"


def partial_success(body: bytes) -> tuple[int, str]:
    """``(rejected_spans, error_message)`` from an ``ExportTraceServiceResponse`` body.

    An empty or unreadable body means full success: ``(0, "")``.
    """
    if not body:
        return 0, ""
    try:
        response = ExportTraceServiceResponse.FromString(body)
    except Exception:  # noqa: BLE001 - e.g. a JSON or HTML body from a proxy: not ours to judge
        return 0, ""
    partial = response.partial_success
    return int(partial.rejected_spans), partial.error_message
