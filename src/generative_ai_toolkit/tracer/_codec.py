"""Type-preserving text encoding of attribute values, for stores (SQLite, DynamoDB, files).

Plain JSON loses types: tuples come back as lists, bytes and NaN do not fit, a dict with int
keys comes back with text keys. Stores need values to round-trip, so what JSON cannot carry
exactly is wrapped in a tagged object ``{"$t": <tag>, "v": <payload>}``:

| value                          | stored as                                         |
|--------------------------------|---------------------------------------------------|
| str, bool, int, finite float, None, list, dict with text keys | itself         |
| NaN, Infinity, -Infinity       | ``{"$t": "float", "v": "NaN"}`` ...               |
| bytes / bytearray              | ``{"$t": "bytes", "v": <base64>}``                |
| tuple, set, frozenset          | ``{"$t": "tuple"/"set"/"frozenset", "v": [...]}`` |
| dict with other keys, or "$t"  | ``{"$t": "dict", "v": [[key, value], ...]}``      |
| datetime, date                 | ``{"$t": "datetime"/"date", "v": <ISO text>}``    |
| anything else                  | ``{"$t": "text", "v": str(value), "type": name}`` |

Anything else (a user's own class) comes back as its text: stores cannot rebuild arbitrary
objects, and saying so beats pickling. A string that looks like a date stays a string.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from ._freeze import plain_value, safe_str

TAG: Final = "$t"
_PLAIN: Final = frozenset({str, int, float, bool, type(None)})


def _refuse(value: Any) -> Any:
    raise TypeError(f"not a plain JSON value: {type(value).__name__}")


# The stdlib's C encoder, built once: json.dumps with options would build one per call. No
# circular-reference markers (plain scalars cannot form cycles), so threads can share it.
_encode_plain = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, False
)
#: Attribute naming the keys whose values a store had to cut down to fit its size limit.
TRUNCATED_KEYS_ATTRIBUTE: Final = "ai.storage.truncated_keys"
MAX_DEPTH: Final = 200


def to_tagged(value: Any, depth: int = 0) -> Any:  # noqa: PLR0911, PLR0912 - one branch per kind
    """``value`` as JSON-ready data that ``from_tagged`` turns back into an equal value."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {
            TAG: "float",
            "v": "NaN" if math.isnan(value) else repr(value).replace("inf", "Infinity"),
        }
    if depth >= MAX_DEPTH:
        return {TAG: "text", "v": "<nested too deep>", "type": type(value).__qualname__}
    if isinstance(value, list):
        return [to_tagged(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        if all(type(k) is str for k in value) and TAG not in value:
            return {k: to_tagged(v, depth + 1) for k, v in value.items()}
        return {
            TAG: "dict",
            "v": [[to_tagged(k, depth + 1), to_tagged(v, depth + 1)] for k, v in value.items()],
        }
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (tuple, set, frozenset)):
        tag = "tuple" if isinstance(value, tuple) else type(value).__name__
        if tag not in ("tuple", "set", "frozenset"):
            tag = "set"
        return {TAG: tag, "v": [to_tagged(item, depth + 1) for item in value]}
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    plain = plain_value(value)  # a numpy scalar or array: its number or list
    if plain is not value:
        return to_tagged(plain, depth + 1)
    return {TAG: "text", "v": safe_str(value), "type": type(value).__qualname__}


def from_tagged(data: Any) -> Any:  # noqa: PLR0911 - one return per tag
    """The value ``to_tagged`` encoded (objects of unknown types come back as their text)."""
    if isinstance(data, list):
        return [from_tagged(item) for item in data]
    if not isinstance(data, dict):
        return data
    tag = data.get(TAG)
    if tag is None:
        return {k: from_tagged(v) for k, v in data.items()}
    payload: Any = data.get("v")
    if tag == "float":
        return float(payload)
    if tag == "bytes":
        return base64.b64decode(payload)
    if tag == "tuple":
        return tuple(from_tagged(item) for item in payload)
    if tag == "set":
        return _hashable_collection(set, payload)
    if tag == "frozenset":
        return _hashable_collection(frozenset, payload)
    if tag == "dict":
        return {_hashable(from_tagged(k)): from_tagged(v) for k, v in payload}
    if tag == "datetime":
        return datetime.fromisoformat(payload)
    if tag == "date":
        return date.fromisoformat(payload)
    return payload if isinstance(payload, str) else safe_str(payload)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return safe_str(value)
    return value


def _hashable_collection(kind: type[set[Any]] | type[frozenset[Any]], payload: Any) -> Any:
    return kind(_hashable(from_tagged(item)) for item in payload)


def encode_attributes(attributes: Mapping[str, Any]) -> str:
    """Attributes as compact JSON text that ``decode_attributes`` reads back with their types."""
    for value in attributes.values():
        if type(value) not in _PLAIN and not _is_plain_json(value, 0):
            break
    else:
        # Only text, numbers, booleans, None, and lists and text-keyed dicts of them (the
        # common case): they are their own tagged form, so the C encoder writes the same text
        # without building the tagged copy.
        try:
            return "".join(_encode_plain(attributes, 0))
        except (ValueError, TypeError):  # NaN or an infinity (allow_nan is off); a non-text key
            pass
    return _dumps({key: to_tagged(value) for key, value in attributes.items()})


def _is_plain_json(value: Any, depth: int) -> bool:  # noqa: PLR0911 - one return per kind
    """Whether ``to_tagged(value)`` is ``value`` itself (but for NaN and the infinities, which
    the C encoder refuses): exact lists, and dicts with text keys and no tag key, of plain
    values, nested less than ``MAX_DEPTH`` deep."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if depth >= MAX_DEPTH:
        return False
    if kind is list:
        for item in value:
            if type(item) not in _PLAIN and not _is_plain_json(item, depth + 1):
                return False
        return True
    if kind is dict:
        if TAG in value:
            return False
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _PLAIN and not _is_plain_json(item, depth + 1):
                return False
        return True
    return False


def decode_attributes(text: str) -> dict[str, Any]:
    """The attributes ``encode_attributes`` wrote."""
    data: dict[str, Any] = json.loads(text)
    if f'"{TAG}"' not in text:
        return data  # no tag anywhere: the JSON is the attributes as they are
    return {key: from_tagged(value) for key, value in data.items()}


def encode_attributes_within(
    attributes: Mapping[str, Any], max_bytes: int
) -> tuple[str, list[str]]:
    """``encode_attributes``, cutting the largest values down until the UTF-8 text fits in
    ``max_bytes``.

    A cut value becomes text ending in ``...[truncated N chars]`` and its key is listed in the
    ``ai.storage.truncated_keys`` attribute, so the span is stored, never dropped. Returns the
    text and the keys that were cut.
    """
    encoded = {key: _dumps(to_tagged(value)) for key, value in attributes.items()}
    # What a cut keeps a prefix of: a text value itself, else the value's JSON text. Cuts are
    # always taken from this original, so cutting a key again never nests truncation markers.
    sources: dict[str, str] = {}
    kept: dict[str, int] = {}
    truncated: list[str] = []
    text = _assemble(encoded, truncated)
    while _utf8_len(text) > max_bytes:
        key = max(encoded, key=lambda k: len(encoded[k]))
        current = encoded[key]
        if key not in sources:
            value = attributes[key]
            sources[key] = value if type(value) is str else current
            kept[key] = len(sources[key])
        source = sources[key]
        excess = _utf8_len(text) - max_bytes
        # Cut by characters, as many as the excess in bytes takes at this value's bytes per
        # character (multi-byte text, JSON escapes); loop until it fits.
        bytes_per_char = max(1.0, _utf8_len(current) / max(1, kept[key]))
        keep = max(0, kept[key] - math.ceil((excess + 64) / bytes_per_char))
        cut = _cut(source, keep)
        while len(cut) >= len(current) and keep:
            keep //= 2  # escaping made the cut text longer: cut deeper
            cut = _cut(source, keep)
        if len(cut) >= len(current):
            break  # every value is already as small as it gets: nothing left to cut
        encoded[key] = cut
        kept[key] = keep
        if key not in truncated:
            truncated.append(key)
        text = _assemble(encoded, truncated)
    return text, truncated


def decode_stored_attributes(text: str, inherited_keys: int) -> dict[str, Any]:
    """The attributes a store wrote with ``encode_attributes_within``, in the span's order.

    The ``ai.storage.truncated_keys`` marker is written last, after the inherited keys, but it
    is the span's own attribute: it goes back among the own keys, so ``inherited_keys`` still
    counts the last keys.
    """
    attributes = decode_attributes(text)
    if not inherited_keys or TRUNCATED_KEYS_ATTRIBUTE not in attributes:
        return attributes
    marker = attributes.pop(TRUNCATED_KEYS_ATTRIBUTE)
    keys = list(attributes)
    split = max(0, len(keys) - inherited_keys)
    ordered = {key: attributes[key] for key in keys[:split]}
    ordered[TRUNCATED_KEYS_ATTRIBUTE] = marker
    ordered.update((key, attributes[key]) for key in keys[split:])
    return ordered


def _utf8_len(text: str) -> int:
    # A lone surrogate counts as the three bytes of the U+FFFD that a store writes for it.
    return len(text.encode("utf-8", "surrogatepass"))


def _cut(text: str, keep: int) -> str:
    return _dumps(f"{text[:keep]}...[truncated {len(text) - keep} chars]")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _assemble(encoded: Mapping[str, str], truncated: list[str]) -> str:
    parts = [f"{_dumps(key)}:{value}" for key, value in encoded.items()]
    if truncated:
        parts.append(f"{_dumps(TRUNCATED_KEYS_ATTRIBUTE)}:{_dumps(truncated)}")
    return "{" + ",".join(parts) + "}"
