"""OTLP/HTTP trace requests (protobuf or JSON) decoded into ended ``Trace`` spans (pure: no I/O).

The inverse of ``_encode``: each OTLP span becomes one stored span with its ids, times, kind,
status, attributes (typed as OTLP typed them), resource attributes and scope. Span events and
links are kept as the attributes ``otel.events`` and ``otel.links``; the standard
``exception`` event becomes the ``exception.*`` attributes our own spans carry. Foreign
conventions (GenAI, OpenInference) are then mapped onto our ``ai.*`` keys by ``_mapping``.
Protobuf bodies are read by ``_reader``; JSON bodies are parsed with the official classes and
then read the same way.

Spans of our own ``OtlpTracer`` carry an ``ai.storage.otlp`` marker that lets them come back
exactly as they were sent: values that went out as JSON text come back as the lists and dicts
they were, the ``gen_ai.*`` keys added on export are left out, and inherited keys stay marked.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .._codec import TRUNCATED_KEYS_ATTRIBUTE
from .._span import DEFAULT_SCOPE, Scope
from .._trace import Trace, stored_span
from ._mapping import map_foreign_attributes
from ._reader import ReceivedSpan, WireError, read_request
from ._values import ROUND_TRIP_ATTRIBUTE

EVENTS_ATTRIBUTE: Final = "otel.events"
LINKS_ATTRIBUTE: Final = "otel.links"
STATUS_MESSAGE_ATTRIBUTE: Final = "otel.status_description"

_KINDS: Final[dict[int, str]] = {
    Span.SPAN_KIND_SERVER: "SERVER",
    Span.SPAN_KIND_CLIENT: "CLIENT",
    Span.SPAN_KIND_PRODUCER: "PRODUCER",
    Span.SPAN_KIND_CONSUMER: "CONSUMER",
}
_STATUSES: Final[dict[int, str]] = {
    Status.STATUS_CODE_OK: "OK",
    Status.STATUS_CODE_ERROR: "ERROR",
}
_EXCEPTION_KEYS: Final = (
    ("exception.type", "exception.type"),
    ("exception.message", "exception.message"),
    ("exception.stacktrace", "exception.traceback"),
)
_ID_FIELDS: Final = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class UndecodableError(ValueError):
    """The body is not an OTLP trace request in the declared format."""


@dataclass(slots=True)
class SpanDraft:
    """A received span before it is built: its attributes may still gain the conversation."""

    message: ReceivedSpan
    attrs: dict[str, Any]
    scope: Scope
    inherited: int
    trace_id: int

    @property
    def is_root(self) -> bool:
        return not self.message.parent_span_id

    def build(self, shared: dict[str, Any]) -> Trace:
        """The ended span, with ``shared`` attributes it lacks added as inherited ones."""
        attrs = self.attrs
        added = 0
        for key, value in shared.items():
            if key not in attrs:
                attrs[key] = value
                added += 1
        return _span(self.message, attrs, self.scope, self.inherited + added)


@dataclass
class DecodedBatch:
    """The spans of one request, and what was rejected (for OTLP's partial success)."""

    drafts: list[SpanDraft] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        """The first few reasons spans were rejected, on one line."""
        return "; ".join(self.errors[:3])


def parse_request(body: bytes, *, json_body: bool) -> list[ReceivedSpan]:
    """The spans of an OTLP/HTTP body; ``UndecodableError`` when it is not a trace request."""
    kind = "JSON" if json_body else "protobuf"
    try:
        if json_body:
            data = _repaired(json.loads(body))
            if not isinstance(data, dict):
                raise UndecodableError("the JSON body is not an object")
            _hex_ids_to_base64(data)
            request = ExportTraceServiceRequest()
            json_format.ParseDict(data, request, ignore_unknown_fields=True)
            body = request.SerializeToString()
        return read_request(body)
    except UndecodableError:
        raise
    except WireError as exc:
        raise UndecodableError(f"not an OTLP trace request in {kind}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - protobuf and json raise many kinds: all mean 400
        raise UndecodableError(f"not an OTLP trace request in {kind}: {exc}") from None


def decode_spans(spans: list[ReceivedSpan]) -> DecodedBatch:
    """Every span as a draft; spans without valid ids are rejected."""
    batch = DecodedBatch()
    scopes: dict[tuple[str, str], Scope] = {}
    for message in spans:
        try:
            inherited = _map_attributes(message)
        except ValueError as exc:
            batch.rejected += 1
            if len(batch.errors) < 3:
                batch.errors.append(str(exc))
            continue
        scope = scopes.get(message.scope)
        if scope is None:
            scope = scopes[message.scope] = _scope(*message.scope)
        batch.drafts.append(
            SpanDraft(
                message, message.attrs, scope, inherited, int.from_bytes(message.trace_id, "big")
            )
        )
    return batch


#: Attributes a trace's spans share: the conversation and who it is for.
CONTEXT_KEYS: Final = ("ai.conversation.id", "ai.auth.context")


# -- one span ---------------------------------------------------------------------------------


def _map_attributes(message: ReceivedSpan) -> int:
    """Map the span's attributes onto ours (in place); how many (last ones) are inherited."""
    if len(message.trace_id) != 16 or not any(message.trace_id):
        raise ValueError(f"span {message.name!r}: trace id must be 16 bytes, not all zeros")
    if len(message.span_id) != 8 or not any(message.span_id):
        raise ValueError(f"span {message.name!r}: span id must be 8 bytes, not all zeros")
    attrs = message.attrs
    marker = attrs.pop(ROUND_TRIP_ATTRIBUTE, None)
    if isinstance(marker, str):
        return _restore_own_export(attrs, marker)
    if message.events or message.links:
        _add_events_and_links(message, attrs)
    if message.status_code == Status.STATUS_CODE_ERROR and message.status_message:
        attrs.setdefault(STATUS_MESSAGE_ATTRIBUTE, message.status_message)
    map_foreign_attributes(attrs)
    return 0


def _span(message: ReceivedSpan, attrs: dict[str, Any], scope: Scope, inherited: int) -> Trace:
    start = message.start
    parent_id = int.from_bytes(message.parent_span_id, "big") if message.parent_span_id else 0
    return stored_span(
        message.name,
        _KINDS.get(message.kind, "INTERNAL"),
        int.from_bytes(message.trace_id, "big"),
        int.from_bytes(message.span_id, "big"),
        parent_id,
        start,
        max(message.end, start),
        attrs,
        _STATUSES.get(message.status_code, "UNSET"),
        message.resource,
        scope,
        inherited,
    )


def _restore_own_export(attrs: dict[str, Any], marker: str) -> int:
    """Undo what our exporter added to ``attrs``; the number of inherited keys (last ones)."""
    try:
        info = json.loads(marker)
    except ValueError:
        return 0
    if not isinstance(info, dict):
        return 0
    for key in info.get("json", ()):
        value = attrs.get(key)
        if isinstance(value, str):
            # A value cut down for size on the way out stays the text that arrived.
            with contextlib.suppress(ValueError):
                attrs[key] = json.loads(value)
    for key in info.get("added", ()):
        attrs.pop(key, None)
    inherited = info.get("inherited", 0)
    if type(inherited) is not int or not 0 <= inherited <= len(attrs):
        return 0
    cut = attrs.pop(TRUNCATED_KEYS_ATTRIBUTE, None)
    if cut is not None:  # cut down on the way out: its marker is the span's own attribute
        keys = list(attrs)
        own, shared = keys[: len(keys) - inherited], keys[len(keys) - inherited :]
        reordered = {key: attrs[key] for key in own}
        reordered[TRUNCATED_KEYS_ATTRIBUTE] = cut
        reordered.update((key, attrs[key]) for key in shared)
        attrs.clear()
        attrs.update(reordered)
    return inherited


def _add_events_and_links(message: ReceivedSpan, attrs: dict[str, Any]) -> None:
    events = []
    for time_unix_nano, name, event_attrs in message.events:
        if name == "exception":
            for theirs, ours in _EXCEPTION_KEYS:
                if theirs in event_attrs and ours not in attrs:
                    attrs[ours] = event_attrs[theirs]
            continue
        events.append({"name": name, "time_unix_nano": time_unix_nano, **event_attrs})
    if events:
        attrs.setdefault(EVENTS_ATTRIBUTE, events)
    links = [
        {"trace_id": trace_id.hex(), "span_id": span_id.hex(), **link_attrs}
        for trace_id, span_id, link_attrs in message.links
    ]
    if links:
        attrs.setdefault(LINKS_ATTRIBUTE, links)


def _repaired(data: Any) -> Any:
    """``data`` from ``json.loads`` with lone surrogates (``"\\ud83d"``) replaced by U+FFFD, which
    protobuf refuses: one bad character must not lose the whole request."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return data.encode("utf-8", "replace").decode("utf-8")
        return data
    if isinstance(data, list):
        return [_repaired(item) for item in data]
    if isinstance(data, dict):
        return {_repaired(key): _repaired(value) for key, value in data.items()}
    return data


def _scope(name: str, version: str) -> Scope:
    if not name and not version:
        return DEFAULT_SCOPE
    return Scope(name=name or DEFAULT_SCOPE.name, version=version)


def _hex_ids_to_base64(data: dict[str, Any]) -> None:
    """OTLP/JSON writes ids as hex, where protobuf's JSON mapping expects base64: convert."""
    for resource_spans in _items(data, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _convert_ids(span)
                for link in _items(span, "links"):
                    _convert_ids(link)


def _items(data: Any, *names: str) -> list[Any]:
    if not isinstance(data, dict):
        return []
    for name in names:
        items = data.get(name)
        if isinstance(items, list):
            return items
    return []


def _convert_ids(data: Any) -> None:
    if not isinstance(data, dict):
        return
    for name in _ID_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and value:
            try:
                data[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except ValueError:
                raise UndecodableError(f"{name} is not hex: {value[:40]!r}") from None
