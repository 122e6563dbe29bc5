"""The DynamoDB item of a span, and the span of an item: pure functions, no I/O, no boto3.

Items use the low-level attribute-value form (``{"S": "..."}``) that the DynamoDB client sends,
so writing needs no serializer and no ``Decimal`` round trip. Layout (see ``docs/dynamodb.md``):

| attribute           | type | value                                                          |
|---------------------|------|----------------------------------------------------------------|
| ``pk``              | S    | ``TRACE#<trace_id>``                                           |
| ``sk``              | S    | ``SPAN#<identifier or _>#<start µs, 16 hex digits>#<span_id>`` |
| ``conversation_id`` | S    | ``ai.conversation.id`` as text (the GSI key); absent if unset  |
| ``auth_context``    | S    | ``ai.auth.context`` as text; absent if unset                   |
| ``expire_at``       | N    | epoch seconds after which DynamoDB's TTL may delete the item   |
| ``span``            | S    | JSON: name, kind, ids, ``start_ns``/``end_ns``, status, scope,  |
|                     |      | ``inherited_keys`` and the (tagged) resource attributes        |
| ``attributes``      | S    | the attributes, type-preserving JSON (``_codec``)              |

Few top-level attributes on purpose: DynamoDB parses and stores each one, and packing the span's
own fields into one text made writes to DynamoDB Local about a quarter faster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .._codec import (
    TRUNCATED_KEYS_ATTRIBUTE,
    decode_stored_attributes,
    encode_attributes,
    encode_attributes_within,
    from_tagged,
)
from .._query import AUTH_CONTEXT, CONVERSATION_ID, conversation_key
from .._snapshot import snapshot_time, stored_snapshot
from .._span import DEFAULT_SCOPE, Scope
from .._text import valid_text
from .._trace import Trace

#: DynamoDB's item size limit (attribute names plus values, UTF-8).
MAX_ITEM_BYTES: Final = 400 * 1024
#: Room kept free under the limit for DynamoDB's own per-attribute overhead.
_SAFETY_BYTES: Final = 2048
#: The resource attributes are normally tiny; they may take at most this much of an item.
_MAX_RESOURCE_BYTES: Final = 32 * 1024
#: Attribute text up to this many characters fits whatever else the item holds (see below).
_FAST_PATH_CHARS: Final = 64 * 1024
#: Span names longer than this are cut (the item limit is shared with the attributes).
_MAX_NAME_BYTES: Final = 8 * 1024
#: DynamoDB key limits: a partition key (also of a GSI) up to 2048 bytes, a sort key 1024.
_MAX_PARTITION_KEY_BYTES: Final = 2048
_MAX_SORT_KEY_BYTES: Final = 1024

NO_IDENTIFIER: Final = "_"
#: On the item of an open span (a snapshot): ``open`` true, and ``seen_ns`` when it was taken.
OPEN_ATTRIBUTE: Final = "open"
SEEN_ATTRIBUTE: Final = "seen_ns"
#: The key of the resource attributes inside the ``span`` attribute.
RESOURCE_FIELD: Final = "resource"

Item = dict[str, dict[str, Any]]


def partition_key(trace_id: str) -> str:
    """``TRACE#<trace_id>``: every span of one trace shares one partition."""
    return f"TRACE#{trace_id}"


def index_text(value: Any) -> str | None:
    """A conversation id or auth context as stored in its key attribute: text, at most 2 KB
    (DynamoDB's partition key limit); ``None`` for ``None``."""
    text = conversation_key(value)
    return None if text is None else _fit(text, _MAX_PARTITION_KEY_BYTES)


def sort_key(identifier: str | None, start_ns: int, span_id: str) -> str:
    """``SPAN#<identifier or _>#<start µs as 16 hex digits>#<span_id>``.

    The fixed-width hex start time makes text order equal time order, so one agent's spans of a
    trace (and of a conversation, on the GSI) come back sorted by start.
    """
    return f"SPAN#{identifier or NO_IDENTIFIER}#{start_ns // 1000:016x}#{span_id}"


def span_to_item(
    span: Trace,
    *,
    identifier: str | None = None,
    expire_at: int | None = None,
    max_bytes: int = MAX_ITEM_BYTES,
) -> Item:
    """The item storing ``span``; never larger than ``max_bytes``.

    When the attributes would not fit, their largest values are cut down and their keys listed in
    the ``ai.storage.truncated_keys`` attribute (see ``_codec.encode_attributes_within``).
    """
    attrs = span._attrs
    trace_id = span.trace_id
    span_id = span.span_id
    item: Item = {
        "pk": {"S": partition_key(trace_id)},
        "sk": {"S": _fit(sort_key(identifier, span._start_ns, span_id), _MAX_SORT_KEY_BYTES)},
    }
    conversation = index_text(attrs.get(CONVERSATION_ID))
    if conversation:  # DynamoDB rejects an empty string as a key value
        item["conversation_id"] = {"S": conversation}
    auth = index_text(attrs.get(AUTH_CONTEXT))
    if auth is not None:
        item["auth_context"] = {"S": auth}
    if expire_at is not None:
        item["expire_at"] = {"N": str(int(expire_at))}
    item["span"] = {"S": _header(span, trace_id, span_id, attrs)}
    if not span._end_ns:
        # An open span's snapshot: written only over nothing or an older snapshot (_writer).
        item[OPEN_ATTRIBUTE] = {"BOOL": True}
        item[SEEN_ATTRIBUTE] = {"N": str(snapshot_time(span))}
    text = encode_attributes(attrs)
    if max_bytes == MAX_ITEM_BYTES and len(text) <= _FAST_PATH_CHARS:
        # Every other field is bounded (keys and name by _fit, the resource in _header), so
        # even at four bytes a character this item fits: skip measuring it.
        item["attributes"] = {"S": text}
        return _valid_item(item)
    budget = max_bytes - _SAFETY_BYTES - item_size(item) - len("attributes")
    if len(text.encode("utf-8", "surrogatepass")) > budget:
        text, _ = encode_attributes_within(attrs, max(budget, 0))
    item["attributes"] = {"S": text}
    return _valid_item(item)


def _valid_item(item: Item) -> Item:
    # DynamoDB refuses a lone surrogate (json.loads makes one of "\ud83d") in some attributes
    # and the span with it: every text is stored with U+FFFD instead.
    for value in item.values():
        text = value.get("S")
        if text is not None and not text.isascii():
            value["S"] = valid_text(text)
    return item


def _header(span: Trace, trace_id: str, span_id: str, attrs: Mapping[str, Any]) -> str:
    # One JSON text for the span's own fields: DynamoDB parses and stores each top-level
    # attribute separately, and fewer of them make writes measurably cheaper.
    fields: dict[str, Any] = {
        "name": _fit(span._name, _MAX_NAME_BYTES),
        "kind": span._kind,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": f"{span._parent_id:016x}" if span._parent_id else None,
        "start_ns": span._start_ns,
        "end_ns": span._end_ns,
        **({} if span._end_ns else {"snapshot_ns": snapshot_time(span)}),
        "status": span._status,
        "scope": [span._scope.name, span._scope.version],
        "inherited_keys": len(attrs) - span._n_own if span._n_own >= 0 else 0,
    }
    resource = _encode_within(span.resource_attributes, _MAX_RESOURCE_BYTES)
    return f"{_dumps(fields)[:-1]},{_dumps(RESOURCE_FIELD)}:{resource}}}"


def _encode_within(attributes: Mapping[str, Any], max_bytes: int) -> str:
    # Nearly every span fits: encode once, and pay for cutting values down only when needed.
    text = encode_attributes(attributes)
    if len(text) * 4 <= max_bytes or len(text.encode("utf-8", "surrogatepass")) <= max_bytes:
        return text
    text, _ = encode_attributes_within(attributes, max_bytes)
    return text


def read_header(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The span's own fields stored in ``item`` (its ``span`` attribute), resource decoded."""
    header: dict[str, Any] = json.loads(item["span"]["S"])
    resource = header.get(RESOURCE_FIELD) or {}
    header[RESOURCE_FIELD] = {key: from_tagged(value) for key, value in resource.items()}
    return header


def item_to_span(item: Mapping[str, Mapping[str, Any]]) -> Trace:
    """The span stored in ``item`` (attributes with their original types)."""
    header = read_header(item)
    inherited = int(header.get("inherited_keys") or 0)
    attributes = decode_stored_attributes(_s(item, "attributes", "{}"), inherited)
    scope = header.get("scope") or [DEFAULT_SCOPE.name, DEFAULT_SCOPE.version]
    end_ns = int(header["end_ns"])
    span = Trace.restore(
        span_name=header["name"],
        span_kind=header.get("kind", "INTERNAL"),
        trace_id=header["trace_id"],
        span_id=header["span_id"],
        parent_span_id=header.get("parent_span_id"),
        started_at=int(header["start_ns"]),
        ended_at=end_ns,
        attributes=attributes,
        span_status=header.get("status", "UNSET"),
        resource_attributes=header[RESOURCE_FIELD],
        scope=Scope(str(scope[0]), str(scope[1])),
        inherited_keys=inherited,
    )
    return span if end_ns else stored_snapshot(span, int(header.get("snapshot_ns") or 0))


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """DynamoDB's size of ``item`` for S and N values: names plus UTF-8 values, in bytes.

    Numbers are counted as their text, which is never less than DynamoDB's own count.
    """
    size = 0
    for name, value in item.items():
        size += len(valid_text(name).encode())
        (text,) = value.values()
        size += len(valid_text(text).encode()) if isinstance(text, str) else len(str(text))
    return size


def truncated_keys(span: Trace) -> list[str]:
    """The attribute keys a store cut down to fit the item limit (empty when none were)."""
    keys = span._attrs.get(TRUNCATED_KEYS_ATTRIBUTE)
    return list(keys) if isinstance(keys, list) else []


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _s(item: Mapping[str, Mapping[str, Any]], name: str, default: str) -> str:
    value = item.get(name)
    return str(value["S"]) if value else default


def _fit(text: str, max_bytes: int) -> str:
    text = valid_text(text)
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore")
