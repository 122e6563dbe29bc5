"""Encoding spans as strict JSON (no ``NaN``, no ``Infinity``), as the structured-logs tracer
writes them.

The hot path hands attribute dicts to the C encoder; only values it rejects (NaN, tuple keys,
cycles, nesting deeper than the interpreter allows) take the slower sanitising path, so every
value yields a valid line and no span is ever lost to its attributes.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as _c_str
from typing import TYPE_CHECKING, Any, Final

from ._freeze import plain_value, safe_str

if TYPE_CHECKING:
    from ._span import Scope
    from ._trace import Trace

#: Containers nested deeper than this are stored as text instead.
MAX_DEPTH: Final = 200


def _default(value: Any) -> Any:
    """JSON for what the encoder does not know: bytes as base64, sets as lists, others as text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return list(value)
    plain = plain_value(value)  # a numpy scalar or array: its number or list
    return plain if plain is not value else safe_str(value)


try:
    from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

if _c_make_encoder is not None:
    # No circular-reference markers: sharing one markers dict across threads would race, and a
    # cycle then surfaces as RecursionError, which the sanitising path below handles.
    _encode_chunks = _c_make_encoder(None, _default, _c_str, None, ":", ",", False, False, False)

    def _encode_fast(value: Any) -> str:
        return "".join(_encode_chunks(value, 0))

else:  # pragma: no cover
    _ENCODER = json.JSONEncoder(
        separators=(",", ":"), allow_nan=False, check_circular=False, default=_default
    )

    def _encode_fast(value: Any) -> str:
        return _ENCODER.encode(value)


def to_json_safe(  # noqa: PLR0911 - one early return per kind of value reads best
    value: Any, depth: int = 0, active: frozenset[int] = frozenset()
) -> Any:
    """A copy of ``value`` made only of what strict JSON carries.

    NaN and infinities become ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; bytes base64 text;
    sets, tuples and other iterables lists; non-text dict keys their text; cycles and too-deep
    nesting a marker text; any other object its ``str()``.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        if id(value) in active:
            return "<cycle>"
        if depth >= MAX_DEPTH:
            return "<nested too deep>"
        inner = active | {id(value)}
        if isinstance(value, Mapping):
            return {
                (key if isinstance(key, str) else safe_str(key)): to_json_safe(
                    item, depth + 1, inner
                )
                for key, item in value.items()
            }
        return [to_json_safe(item, depth + 1, inner) for item in value]
    plain = plain_value(value)
    if plain is value or depth >= MAX_DEPTH:
        return safe_str(value)
    return to_json_safe(plain, depth + 1, active)


def encode_value(value: Any) -> str:
    """``value`` as compact, strict JSON text, lone surrogates as U+FFFD. Never raises."""
    return without_lone_surrogates(_encode_any(value))


def _encode_any(value: Any) -> str:
    try:
        return _encode_fast(value)
    except (ValueError, TypeError, RecursionError):
        # NaN/Infinity (allow_nan is off), tuple keys, cycles, deep nesting: sanitise, retry.
        return _encode_fast(to_json_safe(value))


def without_lone_surrogates(text: str) -> str:
    """ASCII JSON ``text`` with each escaped lone surrogate (``\\ud83d`` without its other
    half) replaced by ``\\ufffd``; pairs (emoji) and escaped backslashes are left alone."""
    if "\\ud" in text:  # an escaped surrogate: most likely half of a pair (an emoji)
        return _ESCAPED_SURROGATE.sub(_replace_lone, text)
    return text


#: An escaped high surrogate, with the low one that may pair with it, or a low one; with the
#: backslashes before it, whose count tells an escape (odd) from escaped backslashes (even).
_ESCAPED_SURROGATE: Final = re.compile(
    r"(\\+)u(d[89ab][0-9a-f]{2}(?:\\ud[c-f][0-9a-f]{2})?|d[c-f][0-9a-f]{2})"
)


def _replace_lone(match: re.Match[str]) -> str:
    backslashes, code = match.group(1), match.group(2)
    if len(backslashes) % 2 == 0 or len(code) > 4:  # literal text, or a valid pair
        return match.group(0)
    return f"{backslashes}ufffd"


# -- whole spans ---------------------------------------------------------------------------------

# (epoch second, "YYYY-MM-DD HH:MM:SS"), replaced whole so threads never see a torn pair.
_second_cache: tuple[int, str] = (-1, "")


def format_datetime_text(ns: int) -> str:
    """``str(datetime)`` of ``ns`` (UTC) with microseconds always present.

    E.g. ``2025-04-15 20:24:45.972976+00:00``.
    """
    global _second_cache
    seconds, rest = divmod(ns, 1_000_000_000)
    cached_second, text = _second_cache
    if cached_second != seconds:
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
        _second_cache = (seconds, text)
    return f"{text}.{rest // 1000:06d}+00:00"


class SpanJsonEncoder:
    """Encodes spans as the JSON objects of the structured-logs format.

    Resource attributes and scope are the same objects for many spans in a row, so their JSON
    text is cached by identity. One encoder per tracer; safe to share between threads.
    """

    def __init__(self) -> None:
        self._resource: tuple[object, str] = (None, "{}")
        self._scope: tuple[object, str] = (None, "")

    def encode(self, span: Trace) -> str:
        """The span as the compact JSON object that the ``"trace"`` key of a log line holds."""
        resource_cache = self._resource
        if resource_cache[0] is not span._resource:
            resource_cache = (span._resource, encode_value(dict(span._resource)))
            self._resource = resource_cache
        scope_cache = self._scope
        if scope_cache[0] is not span._scope:
            scope_cache = (span._scope, _encode_scope(span._scope))
            self._scope = scope_cache
        parent = f'"{span._parent_id:016x}"' if span._parent_id else "null"
        end = f'"{format_datetime_text(span._end_ns)}"' if span._end_ns else _open_end(span)
        return without_lone_surrogates(
            f'{{"span_name":{_c_str(span._name)},"span_kind":"{span._kind}",'
            f'"trace_id":"{span._trace_id:032x}","span_id":"{span._span_id:016x}",'
            f'"parent_span_id":{parent},"started_at":"{format_datetime_text(span._start_ns)}",'
            f'"ended_at":{end},"attributes":{_encode_any(span._attrs)},'
            f'"span_status":"{span._status}","resource_attributes":{resource_cache[1]},'
            f'"scope":{scope_cache[1]}}}'
        )


def _open_end(span: Trace) -> str:
    # An open span (a snapshot): no end, and when it was last seen open.
    seen = getattr(span, "_snapshot_ns", span._start_ns)
    return f'null,"snapshot_at":"{format_datetime_text(seen)}"'


def _encode_scope(scope: Scope) -> str:
    return f'{{"name":{_c_str(scope.name)},"version":{_c_str(scope.version)}}}'
