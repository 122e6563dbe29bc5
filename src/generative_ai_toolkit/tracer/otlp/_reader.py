"""OTLP ``ExportTraceServiceRequest`` protobuf bytes read straight into spans (pure: no I/O).

The receiver's hot path. Parsing with the official ``upb`` classes is quick, but reading the
parsed message back costs a C call and a new Python object per field and per attribute, three
quarters of the receiver's time per span. Protobuf's wire format is simple, so the fields the
receiver keeps are read here directly, with the field numbers of the official ``trace.proto``
and ``common.proto`` (the inverse of ``_wire``), and an attribute whose bytes repeat exactly
(``gen_ai.operation.name = execute_tool``, a model name, a tool name ...) is decoded once and
reused: its value is immutable (text, number, bool), so sharing it is safe.

As protobuf parsers do: unknown fields are skipped, the last of a repeated scalar field wins,
a repeated message field merges. Text must be valid UTF-8 and every length must fit its
message, else ``WireError``. The tests check it against the official classes.
"""

from __future__ import annotations

import struct
from typing import Any, Final

_DOUBLE: Final = struct.Struct("<d")
_FIXED64: Final = struct.Struct("<Q")
_I64: Final = 1 << 63
_U64: Final = (1 << 64) - 1
#: Attributes encoded in at most this many bytes are remembered; longer ones (messages, tool
#: results) rarely repeat.
_CACHED_BYTES: Final = 200
_CACHE_LIMIT: Final = 20_000
_CACHE: dict[bytes, tuple[str, Any]] = {}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message of the expected type."""


class ReceivedSpan:
    """One span as it came over the wire. ``kind`` and ``status_code`` are the OTLP enums;
    ``events`` are ``(time_unix_nano, name, attributes)``, ``links`` ``(trace_id, span_id,
    attributes)``."""

    __slots__ = (
        "attrs",
        "end",
        "events",
        "kind",
        "links",
        "name",
        "parent_span_id",
        "resource",
        "scope",
        "span_id",
        "start",
        "status_code",
        "status_message",
        "trace_id",
    )

    def __init__(self, resource: dict[str, Any], scope: tuple[str, str]) -> None:
        self.resource = resource
        self.scope = scope
        self.trace_id = self.span_id = self.parent_span_id = b""
        self.name = self.status_message = ""
        self.kind = self.start = self.end = self.status_code = 0
        self.attrs: dict[str, Any] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.links: list[tuple[bytes, bytes, dict[str, Any]]] = []


def read_request(body: bytes) -> list[ReceivedSpan]:
    """Every span of an ``ExportTraceServiceRequest``; ``WireError`` when ``body`` is not one."""
    spans: list[ReceivedSpan] = []
    try:
        for start, stop in _fields(body, 0, len(body), 1):  # resource_spans
            _resource_spans(body, start, stop, spans)
    except (IndexError, struct.error):
        raise WireError("a field runs past the end of the body") from None
    except UnicodeDecodeError:
        raise WireError("a text field is not valid UTF-8") from None
    except RecursionError:
        raise WireError("values are nested too deeply") from None
    return spans


def _resource_spans(buf: bytes, pos: int, end: int, spans: list[ReceivedSpan]) -> None:
    resource: dict[str, Any] = {}
    scopes: list[tuple[int, int]] = []
    for number, start, stop in _messages(buf, pos, end):
        if number == 1:  # resource: its attributes are field 1
            for kv_start, kv_stop in _fields(buf, start, stop, 1):
                _key_value(buf, kv_start, kv_stop, resource)
        elif number == 2:
            scopes.append((start, stop))
    for start, stop in scopes:
        _scope_spans(buf, start, stop, resource, spans)


def _scope_spans(
    buf: bytes, pos: int, end: int, resource: dict[str, Any], spans: list[ReceivedSpan]
) -> None:
    name = version = ""
    bodies: list[tuple[int, int]] = []
    for number, start, stop in _messages(buf, pos, end):
        if number == 1:  # InstrumentationScope: name 1, version 2
            for field_number, field_start, field_stop in _messages(buf, start, stop):
                if field_number == 1:
                    name = buf[field_start:field_stop].decode()
                elif field_number == 2:
                    version = buf[field_start:field_stop].decode()
        elif number == 2:
            bodies.append((start, stop))
    scope = (name, version)
    spans.extend(_span(buf, start, stop, resource, scope) for start, stop in bodies)


def _span(  # noqa: PLR0912, PLR0915 - one branch per field of the Span message
    buf: bytes, pos: int, end: int, resource: dict[str, Any], scope: tuple[str, str]
) -> ReceivedSpan:
    span = ReceivedSpan(resource, scope)
    attrs = span.attrs
    cache = _CACHE
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag > 0x7F:
            if tag == 0x85 and buf[pos] == 0x01:  # flags (field 16, fixed32): not kept
                pos += 5
                continue
            tag, pos = _varint(buf, pos - 1)
        if tag & 7 == 2:
            size = buf[pos]
            pos += 1
            if size > 0x7F:
                size, pos = _varint(buf, pos - 1)
            stop = pos + size
            if stop > end:
                raise WireError("a field runs past the end of its message")
            number = tag >> 3
            if number == 9:  # attributes
                raw = buf[pos:stop]
                known = cache.get(raw)
                if known is None:
                    known = _cached_key_value(raw)
                attrs[known[0]] = known[1]
            elif number == 1:
                span.trace_id = buf[pos:stop]
            elif number == 2:
                span.span_id = buf[pos:stop]
            elif number == 4:
                span.parent_span_id = buf[pos:stop]
            elif number == 5:
                span.name = buf[pos:stop].decode()
            elif number == 11:
                span.events.append(_event(buf, pos, stop))
            elif number == 13:
                span.links.append(_link(buf, pos, stop))
            elif number == 15:
                _status(buf, pos, stop, span)
            pos = stop
        elif tag == 0x39:  # start_time_unix_nano, fixed64
            span.start = _FIXED64.unpack_from(buf, pos)[0]
            pos += 8
        elif tag == 0x41:  # end_time_unix_nano, fixed64
            span.end = _FIXED64.unpack_from(buf, pos)[0]
            pos += 8
        elif tag == 0x30:  # kind
            kind = buf[pos]
            if kind < 0x80:
                span.kind = kind
                pos += 1
            else:
                span.kind, pos = _varint(buf, pos)
        else:
            pos = _skip(buf, pos, tag)
    if pos > end:
        raise WireError("a field runs past the end of its message")
    return span


def _cached_key_value(raw: bytes) -> tuple[str, Any]:
    found: dict[str, Any] = {}
    _key_value(raw, 0, len(raw), found)
    known = next(iter(found.items()))
    if len(raw) <= _CACHED_BYTES and not isinstance(known[1], (list, dict)):
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[raw] = known
    return known


def _event(buf: bytes, pos: int, end: int) -> tuple[int, str, dict[str, Any]]:
    time = 0
    name = ""
    attrs: dict[str, Any] = {}
    while pos < end:
        tag, pos = _varint(buf, pos)
        if tag == 0x09:  # time_unix_nano, fixed64
            time = _FIXED64.unpack_from(buf, pos)[0]
            pos += 8
        elif tag in (0x12, 0x1A):
            size, pos = _varint(buf, pos)
            stop = _within(pos + size, end)
            if tag == 0x12:
                name = buf[pos:stop].decode()
            else:
                _key_value(buf, pos, stop, attrs)
            pos = stop
        else:
            pos = _skip(buf, pos, tag)
    _within(pos, end)
    return time, name, attrs


def _link(buf: bytes, pos: int, end: int) -> tuple[bytes, bytes, dict[str, Any]]:
    trace_id = span_id = b""
    attrs: dict[str, Any] = {}
    for number, start, stop in _messages(buf, pos, end):
        if number == 1:
            trace_id = buf[start:stop]
        elif number == 2:
            span_id = buf[start:stop]
        elif number == 4:
            _key_value(buf, start, stop, attrs)
    return trace_id, span_id, attrs


def _status(buf: bytes, pos: int, end: int, span: ReceivedSpan) -> None:
    while pos < end:
        tag, pos = _varint(buf, pos)
        if tag == 0x12:  # message
            size, pos = _varint(buf, pos)
            stop = _within(pos + size, end)
            span.status_message = buf[pos:stop].decode()
            pos = stop
        elif tag == 0x18:  # code
            code, pos = _varint(buf, pos)
            span.status_code = code & 0xFFFFFFFF
        else:
            pos = _skip(buf, pos, tag)
    _within(pos, end)


def _key_value(buf: bytes, pos: int, end: int, into: dict[str, Any]) -> None:
    key = ""
    value: Any = None
    for number, start, stop in _messages(buf, pos, end):
        if number == 1:
            key = buf[start:stop].decode()
        elif number == 2:
            value = _any_value(buf, start, stop, value)
    into[key] = value


def _any_value(buf: bytes, pos: int, end: int, value: Any) -> Any:
    """The Python value of an ``AnyValue`` (the last of its oneof wins; a repeated list or
    map merges into ``value``). Bytes become lowercase hex text, as in ``_decode``."""
    while pos < end:
        tag, pos = _varint(buf, pos)
        wire = tag & 7
        if wire == 2:
            size, pos = _varint(buf, pos)
            stop = _within(pos + size, end)
            number = tag >> 3
            if number == 1:
                value = buf[pos:stop].decode()
            elif number == 5:
                items = value if isinstance(value, list) else []
                for start, item_stop in _fields(buf, pos, stop, 1):
                    items.append(_any_value(buf, start, item_stop, None))
                value = items
            elif number == 6:
                pairs = value if isinstance(value, dict) else {}
                for start, item_stop in _fields(buf, pos, stop, 1):
                    _key_value(buf, start, item_stop, pairs)
                value = pairs
            elif number == 7:
                value = buf[pos:stop].hex()
            pos = stop
        elif tag == 0x10:  # bool_value
            flag, pos = _varint(buf, pos)
            value = flag != 0
        elif tag == 0x18:  # int_value
            number, pos = _varint(buf, pos)
            number &= _U64
            value = number - (1 << 64) if number >= _I64 else number
        elif tag == 0x21:  # double_value
            value = _DOUBLE.unpack_from(buf, pos)[0]
            pos += 8
        else:
            pos = _skip(buf, pos, tag)
    _within(pos, end)
    return value


# -- the wire format ----------------------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = 0
    shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("a varint is longer than ten bytes")


def _skip(buf: bytes, pos: int, tag: int) -> int:
    """The position after the value of an unknown field."""
    wire = tag & 7
    if wire == 0:
        return _varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        size, pos = _varint(buf, pos)
        return pos + size
    if wire == 5:
        return pos + 4
    raise WireError(f"unsupported wire type {wire}")


def _within(pos: int, end: int) -> int:
    if pos > end:
        raise WireError("a field runs past the end of its message")
    return pos


def _messages(buf: bytes, pos: int, end: int) -> list[tuple[int, int, int]]:
    """``(field number, start, stop)`` of each length-delimited field from ``pos`` to ``end``;
    other fields are skipped."""
    found = []
    while pos < end:
        tag, pos = _varint(buf, pos)
        if tag & 7 == 2:
            size, pos = _varint(buf, pos)
            stop = _within(pos + size, end)
            found.append((tag >> 3, pos, stop))
            pos = stop
        else:
            pos = _skip(buf, pos, tag)
    _within(pos, end)
    return found


def _fields(buf: bytes, pos: int, end: int, number: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each length-delimited field ``number`` from ``pos`` to ``end``."""
    return [(start, stop) for found, start, stop in _messages(buf, pos, end) if found == number]
