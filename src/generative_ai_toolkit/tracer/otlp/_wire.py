"""The fast path of OTLP encoding: one ended span as ``opentelemetry.proto.trace.v1.Span`` bytes.

Filling ``upb`` messages costs a C call per field and per attribute, which caps an exporter at
roughly 20,000 spans/s on a busy machine. Protobuf's wire format is simple, so the common
fields (ids, name, kind, times, attributes of str/bool/int/float) are written here directly,
with the field numbers of the official ``trace.proto`` and ``common.proto``; an attribute
whose key and text value repeat (inherited ``ai.conversation.id``, ``ai.trace.type`` ...) is
encoded once and reused. Everything rarer (lists, dicts, other objects, exception events,
status) is encoded through the official message classes (``set_value``, ``fill_span``) and
spliced in, so each value-mapping rule lives in one place: ``_otlp_encode``.

The tests decode every request with the official classes, so the two paths cannot drift.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .._trace import Trace

_VARINT1: Final = [bytes((i,)) for i in range(128)]
_TIMES: Final = struct.Struct("<BQBQ")  # start (field 7) and end (field 8), fixed64 each
_DOUBLE: Final = struct.Struct("<Bd")
_KINDS: Final[dict[str, bytes]] = {
    "INTERNAL": b"\x30\x01",
    "SERVER": b"\x30\x02",
    "CLIENT": b"\x30\x03",
    "PRODUCER": b"\x30\x04",
    "CONSUMER": b"\x30\x05",
}
_I64: Final = 1 << 63
_U64: Final = (1 << 64) - 1
#: Cache text values up to this length; longer ones (LLM messages) rarely repeat.
_CACHED_TEXT: Final = 256
_CACHE_LIMIT: Final = 20_000


def varint(n: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int."""
    if n < 128:
        return _VARINT1[n]
    out = bytearray()
    while n > 127:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + varint(len(payload)) + payload


class SpanWireEncoder:
    """Writes ``Span`` message bytes. One per worker thread (its caches are not locked).

    ``extras(span) -> bytes | None`` supplies more encoded ``Span`` fields to append
    (events, status, semantic-convention attributes); ``slow_value(value) -> bytes`` encodes
    an ``AnyValue`` the fast path does not handle.
    """

    def __init__(
        self,
        *,
        extras: Callable[[Trace], bytes],
        slow_value: Callable[[Any], bytes],
    ) -> None:
        self._extras = extras
        self._slow_value = slow_value
        self._keys: dict[str, bytes] = {}
        self._pairs: dict[tuple[str, str], bytes] = {}

    def span(self, span: Trace) -> bytes:
        """The span's ``Span`` message bytes. Raises ``UnicodeError`` for invalid text."""
        name = span._name.encode()
        parts = [
            b"\x0a\x10",
            span._trace_id.to_bytes(16, "big"),
            b"\x12\x08",
            span._span_id.to_bytes(8, "big"),
        ]
        if span._parent_id:
            parts.append(b"\x22\x08")
            parts.append(span._parent_id.to_bytes(8, "big"))
        parts.append(b"\x2a")
        parts.append(varint(len(name)))
        parts.append(name)
        parts.append(_KINDS.get(span._kind, b"\x30\x01"))
        parts.append(_TIMES.pack(0x39, span._start_ns, 0x41, span._end_ns))
        append = parts.append
        attribute = self.attribute
        for key, value in span._attrs.items():
            append(attribute(key, value))
        append(self._extras(span))
        return b"".join(parts)

    def attribute(self, key: str, value: Any) -> bytes:
        """One ``attributes`` field (number 9) of a ``Span``: tag, length, ``KeyValue``."""
        if type(value) is not str:
            return self._attribute(key, value)
        pair = (key, value)
        encoded = self._pairs.get(pair)
        if encoded is None:
            encoded = self._attribute(key, value)
            if len(value) <= _CACHED_TEXT:
                if len(self._pairs) >= _CACHE_LIMIT:
                    self._pairs.clear()
                self._pairs[pair] = encoded
        return encoded

    def _attribute(self, key: str, value: Any) -> bytes:
        key_field = self._keys.get(key)
        if key_field is None:
            key_field = field(b"\x0a", key.encode())
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            self._keys[key] = key_field
        return field(b"\x4a", key_field + field(b"\x12", self._value(value)))

    def _value(self, value: Any) -> bytes:
        kind = type(value)
        if kind is str:
            return field(b"\x0a", value.encode())
        if kind is bool:
            return b"\x10\x01" if value else b"\x10\x00"
        if kind is int and -_I64 <= value < _I64:
            return b"\x18" + varint(value & _U64)
        if kind is float:
            return _DOUBLE.pack(0x21, value)
        return self._slow_value(value)


def any_value_bytes(set_value: Callable[[AnyValue, Any], None]) -> Callable[[Any], bytes]:
    """An encoder of ``AnyValue`` bytes that fills an official message with ``set_value``."""

    def encode(value: Any) -> bytes:
        message = AnyValue()
        set_value(message, value)
        return message.SerializeToString()

    return encode


def span_fields_bytes(fill: Callable[[Span], None]) -> bytes:
    """Bytes of the ``Span`` fields ``fill`` sets on an empty official message."""
    message = Span()
    fill(message)
    return message.SerializeToString()
