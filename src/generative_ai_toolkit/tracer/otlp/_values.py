"""Our spans and attribute values as the official ``opentelemetry-proto`` messages.

The rules of the OTLP mapping live here; ``_otlp_wire`` writes the common cases faster and
calls back here for the rest. Value mapping:

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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .._freeze import safe_str
from .._genai_semconv import genai_attributes
from .._json_encode import encode_value
from .._trace import Trace

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
        target.string_value = valid_text(text)


def _text_of(value: Any) -> str:
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return encode_value(value)
    return safe_str(value)


def valid_text(text: str) -> str:
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
    message.name = valid_text(span._name) if safe else span._name
    message.kind = _KINDS.get(span._kind, Span.SPAN_KIND_INTERNAL)
    message.start_time_unix_nano = span._start_ns
    message.end_time_unix_nano = span._end_ns
    attrs = span._attrs
    add = message.attributes.add
    for key, value in attrs.items():
        if safe:
            set_value_safely(add(key=valid_text(safe_str(key))).value, value)
        else:
            set_value(add(key=key).value, value)
    added = genai_attributes(attrs) if genai_semconv else {}
    for key, value in added.items():
        set_value_safely(add(key=key).value, value)
    add(key=ROUND_TRIP_ATTRIBUTE).value.string_value = round_trip_marker(span, list(added))
    fill_outcome(message, span)


#: Our marker on exported spans: what a receiver of ours needs to rebuild the span exactly.
ROUND_TRIP_ATTRIBUTE: Final = "ai.storage.otlp"


def round_trip_marker(span: Trace, added: Sequence[str]) -> str:
    """The ``ai.storage.otlp`` value for ``span``: the keys sent as JSON text (dicts, sets,
    mixed lists), the ``gen_ai.*`` keys ``added`` on export, and how many keys are inherited."""
    info: dict[str, Any] = {}
    sent_as_json = [key for key, value in span._attrs.items() if _sent_as_json(value)]
    if sent_as_json:
        info["json"] = sent_as_json
    if added:
        info["added"] = list(added)
    inherited = len(span.inherited_attribute_keys)
    if inherited:
        info["inherited"] = inherited
    return encode_value(info)


def _sent_as_json(value: Any) -> bool:
    kind = type(value)
    if kind is list or kind is tuple:
        if not value:
            return False
        first = type(value[0])
        return first not in _ARRAY_FIELDS or any(type(item) is not first for item in value)
    return isinstance(value, (Mapping, set, frozenset))


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
            message.status.message = valid_text(safe_str(error))
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
        set_value_safely(target.add(key=valid_text(safe_str(key))).value, value)
