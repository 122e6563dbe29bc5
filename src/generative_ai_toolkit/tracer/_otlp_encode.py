"""Encoding ended spans as OTLP ``ExportTraceServiceRequest`` protobuf bytes (pure: no I/O).

Messages are the official ``opentelemetry-proto`` definitions, filled in place through the
``upb`` backend (``container.add(...)`` and field assignment), which keeps the Python work per
span to a handful of C calls. Value mapping:

| attribute value                                      | OTLP ``AnyValue``                 |
|------------------------------------------------------|-----------------------------------|
| str, bool, float, int in the signed 64-bit range     | ``string/bool/double/int_value``  |
| list or tuple whose items are all one of those types | ``array_value``                   |
| None                                                 | empty ``AnyValue`` (OTLP's null)  |
| dict, set, mixed or nested list                      | JSON text                         |
| anything else, ints beyond 64 bits included          | its text                          |

Spans that recorded an exception also get the standard ``exception`` span event. With GenAI
semantic conventions on, ``gen_ai.*`` keys are added next to our ``ai.*`` keys (never replacing
a key the span already has).

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

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from ._codec import TRUNCATED_KEYS_ATTRIBUTE
from ._freeze import safe_str
from ._json_encode import encode_value
from ._otlp_config import DEFAULT_MAX_REQUEST_BYTES
from ._otlp_wire import SpanWireEncoder, any_value_bytes, field, span_fields_bytes, varint
from ._trace import Scope, Trace

_log = logging.getLogger("generative_ai_toolkit.tracer")

_KINDS: Final[dict[str, Span.SpanKind.ValueType]] = {
    "INTERNAL": Span.SPAN_KIND_INTERNAL,
    "SERVER": Span.SPAN_KIND_SERVER,
    "CLIENT": Span.SPAN_KIND_CLIENT,
    "PRODUCER": Span.SPAN_KIND_PRODUCER,
    "CONSUMER": Span.SPAN_KIND_CONSUMER,
}
_STATUS_OK: Final = Status.STATUS_CODE_OK
_STATUS_ERROR: Final = Status.STATUS_CODE_ERROR
_I64: Final = 1 << 63
#: Room kept free for the tags and length prefixes that wrap a span in a request.
_WRAP_BYTES: Final = 32
#: A cut value keeps this much room for its "...[truncated N chars]" marker.
_MARKER_ROOM: Final = 64

# -- GenAI semantic conventions ------------------------------------------------------------------

#: Our key -> the GenAI semantic-convention key that carries the same value.
GENAI_KEYS: Final[tuple[tuple[str, str], ...]] = (
    ("ai.agent.name", "gen_ai.agent.name"),
    ("ai.tool.name", "gen_ai.tool.name"),
    ("ai.tool.use.id", "gen_ai.tool.call.id"),
    ("ai.tool.input", "gen_ai.tool.call.arguments"),
    ("ai.tool.output", "gen_ai.tool.call.result"),
    ("ai.llm.request.model.id", "gen_ai.request.model"),
)
#: ``ai.trace.type`` -> ``gen_ai.operation.name``.
GENAI_OPERATIONS: Final[Mapping[str, str]] = {
    "llm-invocation": "chat",
    "tool-invocation": "execute_tool",
    "converse": "invoke_agent",
}
#: Where token usage is read from: Bedrock Converse's ``usage`` dict (either spelling).
USAGE_ATTRIBUTE: Final = "ai.llm.response.usage"
_USAGE_KEYS: Final = (
    ("inputTokens", "input_tokens", "gen_ai.usage.input_tokens"),
    ("outputTokens", "output_tokens", "gen_ai.usage.output_tokens"),
)


def genai_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``gen_ai.*`` attributes that mirror ``attrs`` (keys ``attrs`` already has left out)."""
    added: dict[str, Any] = {}
    conversation = attrs.get("ai.conversation.id")
    if conversation is not None and "gen_ai.conversation.id" not in attrs:
        added["gen_ai.conversation.id"] = (
            conversation if type(conversation) is str else safe_str(conversation)
        )
    for ours, theirs in GENAI_KEYS:
        if ours in attrs and theirs not in attrs:
            added[theirs] = attrs[ours]
    kind = attrs.get("ai.trace.type")
    if type(kind) is str and kind in GENAI_OPERATIONS and "gen_ai.operation.name" not in attrs:
        added["gen_ai.operation.name"] = GENAI_OPERATIONS[kind]
    usage = attrs.get(USAGE_ATTRIBUTE)
    if isinstance(usage, Mapping):
        for camel, snake, theirs in _USAGE_KEYS:
            count = usage.get(camel, usage.get(snake))
            if type(count) is int and theirs not in attrs:
                added[theirs] = count
    return added


# -- values -------------------------------------------------------------------------------------

_ARRAY_FIELDS: Final[dict[type, str]] = {
    str: "string_value",
    bool: "bool_value",
    int: "int_value",
    float: "double_value",
}


def set_value(target: AnyValue, value: Any) -> None:  # noqa: PLR0912 - one branch per kind
    """Fill ``target`` with ``value`` mapped as the module docstring's table says.

    May raise for text that is not valid Unicode (lone surrogates); ``set_value_safely`` never does.
    """
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is bool:
        target.bool_value = value
    elif kind is int:
        if -_I64 <= value < _I64:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif kind is float:
        target.double_value = value
    elif kind is list or kind is tuple:
        _set_sequence(target, value)
    elif value is None:
        target.SetInParent()  # present but empty: OTLP's null
    elif isinstance(value, bool):
        target.bool_value = bool(value)
    elif isinstance(value, int):
        set_value(target, int(value))
    elif isinstance(value, float):
        target.double_value = float(value)
    elif isinstance(value, str):
        target.string_value = str.__str__(value)
    elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
        target.string_value = encode_value(value)
    else:
        target.string_value = safe_str(value)


def _set_sequence(target: AnyValue, items: Sequence[Any]) -> None:
    if not items:
        target.array_value.SetInParent()
        return
    first = type(items[0])
    field = _ARRAY_FIELDS.get(first)
    homogeneous = field is not None and all(type(item) is first for item in items)
    if homogeneous and first is int:
        homogeneous = all(-_I64 <= item < _I64 for item in items)
    if not homogeneous or field is None:
        target.string_value = encode_value(items)
        return
    values = target.array_value.values
    for item in items:
        setattr(values.add(), field, item)


def set_value_safely(target: AnyValue, value: Any) -> None:
    """``set_value``, with text that is not valid Unicode repaired instead of raising."""
    target.Clear()
    try:
        set_value(target, value)
    except (UnicodeError, ValueError, TypeError, RecursionError):
        target.Clear()
        text = value if isinstance(value, str) else _text_of(value)
        target.string_value = _valid_text(text)


def _text_of(value: Any) -> str:
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return encode_value(value)
    return safe_str(value)


def _valid_text(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


# -- spans --------------------------------------------------------------------------------------


def fill_span(message: Span, span: Trace, *, genai_semconv: bool, safe: bool = False) -> None:
    """Fill an empty ``Span`` message from an ended ``span``.

    ``safe`` repairs invalid text instead of raising (slower; the retry path after a failure).
    """
    message.trace_id = span._trace_id.to_bytes(16, "big")
    message.span_id = span._span_id.to_bytes(8, "big")
    if span._parent_id:
        message.parent_span_id = span._parent_id.to_bytes(8, "big")
    message.name = _valid_text(span._name) if safe else span._name
    message.kind = _KINDS.get(span._kind, Span.SPAN_KIND_INTERNAL)
    message.start_time_unix_nano = span._start_ns
    message.end_time_unix_nano = span._end_ns
    attrs = span._attrs
    add = message.attributes.add
    for key, value in attrs.items():
        if safe:
            set_value_safely(add(key=_valid_text(safe_str(key))).value, value)
        else:
            set_value(add(key=key).value, value)
    if genai_semconv:
        for key, value in genai_attributes(attrs).items():
            set_value_safely(add(key=key).value, value)
    fill_outcome(message, span)


def fill_outcome(message: Span, span: Trace) -> None:
    """Set the status and, when an exception was recorded, the ``exception`` event."""
    attrs = span._attrs
    if "exception.type" in attrs or "exception.message" in attrs:
        _add_exception_event(message, span)
    status = span._status
    if status == "ERROR":
        message.status.code = _STATUS_ERROR
        error = attrs.get("exception.message")
        if error is not None:
            message.status.message = _valid_text(safe_str(error))
    elif status == "OK":
        message.status.code = _STATUS_OK


def _add_exception_event(message: Span, span: Trace) -> None:
    # The OpenTelemetry convention: exceptions are span events named "exception".
    event = message.events.add(name="exception", time_unix_nano=span._end_ns)
    add = event.attributes.add
    attrs = span._attrs
    for ours, theirs in (
        ("exception.type", "exception.type"),
        ("exception.message", "exception.message"),
        ("exception.traceback", "exception.stacktrace"),
    ):
        if ours in attrs:
            set_value_safely(add(key=theirs).value, attrs[ours])


def fill_attributes(target: Any, attributes: Mapping[str, Any]) -> None:
    """Append ``attributes`` as ``KeyValue`` messages to a repeated ``attributes`` field."""
    for key, value in attributes.items():
        set_value_safely(target.add(key=_valid_text(safe_str(key))).value, value)


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

        Raises ``SpanTooLargeError`` only for a batch of one span that cannot be made to fit.
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
        extra = b""
        if self.genai_semconv:
            added = genai_attributes(attrs)
            if added:
                attribute = self._wire.attribute
                extra = b"".join([attribute(key, value) for key, value in added.items()])
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
                name=_valid_text(scope.name), version=_valid_text(scope.version)
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
