"""Text every store can hold: lone surrogates replaced, names and keys bounded.

``json.loads`` turns the escape ``"\\ud83d"`` in an LLM's output into a lone surrogate, a
``str`` that no UTF-8 encoder accepts: SQLite, DynamoDB and a UTF-8 stream would refuse the whole
span. Such characters become U+FFFD (the replacement character) wherever text leaves a span:
when a store or stream writes it (resource attributes already when they are set). Names and
keys that are not text, or too long, are cleaned when they enter a span.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ._freeze import safe_str

#: Span names longer than this many characters are cut down (the rest noted in the name).
MAX_NAME_LENGTH: Final = 1024
#: Attribute keys (and resource attribute keys) longer than this are cut down the same way.
MAX_KEY_LENGTH: Final = 256
REPLACEMENT: Final = "\ufffd"

_MAX_DEPTH: Final = 200  # as deep as the encoders go
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD; ``text`` itself when it has none."""
    if text.isascii():  # O(1) in CPython: the string knows it
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def clean_name(value: object, max_length: int) -> str:
    """``value`` as a name or key: its text (``str()`` of a non-string), lone surrogates
    replaced, and at most ``max_length`` characters, ending ``...[truncated N chars]`` when cut.
    """
    text = valid_text(value if type(value) is str else safe_str(value))
    if len(text) <= max_length:
        return text
    keep = max(0, max_length - len(f"...[truncated {len(text)} chars]"))
    return f"{text[:keep]}...[truncated {len(text) - keep} chars]"


def clean_key(key: object) -> str:
    """An attribute key as spans hold it (see ``clean_name``, at most ``MAX_KEY_LENGTH``)."""
    return clean_name(key, MAX_KEY_LENGTH)


def valid_texts(value: Any, depth: int = 0) -> Any:
    """``value`` with lone surrogates replaced in every string inside it (keys too); other
    values as they are. Containers are rebuilt only when something in them changed."""
    if type(value) is str:
        return valid_text(value)
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        cleaned = {valid_texts(k, depth + 1): valid_texts(v, depth + 1) for k, v in value.items()}
        same = all(
            a is b and c is d
            for (a, c), (b, d) in zip(value.items(), cleaned.items(), strict=False)
        )
        return value if same and len(cleaned) == len(value) else cleaned
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [valid_texts(item, depth + 1) for item in value]
        if all(a is b for a, b in zip(value, items, strict=True)):
            return value
        return type(value)(items) if type(value) in (list, tuple, set, frozenset) else items
    return value
