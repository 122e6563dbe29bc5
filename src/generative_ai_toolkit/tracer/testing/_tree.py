"""Span trees as stable text, for snapshot tests and assertion messages.

One line per span, indented two spaces per level, children in start order. No ids and no
times, so the text only changes when what the code did changes:

```
converse SERVER OK agent=assistant
  llm-invocation CLIENT agent=assistant model=fake-model-1 tokens=9/4
  tool-invocation tool=get_weather input={"city": "Lisbon"}
```
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final

from .._freeze import safe_str
from .._genai_semconv import MODEL_ATTRIBUTE, token_usage
from .._human_format import value_text
from .._query import build_tree
from .._trace import Trace

#: (label, attribute) shown on a span's line, in this order, when the span has the attribute.
LABELS: Final = (
    ("agent", "ai.agent.name"),
    ("model", MODEL_ATTRIBUTE),
    ("tool", "ai.tool.name"),
    ("input", "ai.tool.input"),
)
#: Where a span's error is read from, first present wins (``exception.*`` is the fallback).
ERROR_KEYS: Final = ("ai.tool.error", "ai.llm.response.error")
#: Failure messages show at most this many lines of tree.
MESSAGE_LINES: Final = 200

# Text shown without quotes: a word that cannot be read as a number, a JSON literal or a list.
_BARE: Final = re.compile(r"[A-Za-z_][\w.:/@+-]*")
_LITERALS: Final = frozenset({"true", "false", "null"})


def render_tree(
    spans: Iterable[Trace],
    *,
    attributes: Sequence[str] = (),
    marked: Collection[Trace] | None = None,
) -> list[str]:
    """The lines of the span tree (no newlines). With ``marked``, every line starts with a
    two-character gutter: ``> `` for the marked spans, two spaces for the others."""
    lines: list[str] = []
    marked_ids = None if marked is None else {id(span) for span in marked}
    for root in build_tree(spans):
        for node in root.walk():
            line = "  " * node.depth + span_line(node.span, attributes)
            if marked_ids is not None:
                line = ("> " if id(node.span) in marked_ids else "  ") + line
            lines.append(line)
    return lines


def span_line(span: Trace, attributes: Sequence[str] = ()) -> str:
    """``name [KIND] [STATUS] [type=...] agent=... model=... tool=... input=... tokens=in/out
    error=...`` and then each of ``attributes`` the span has, as ``key=value``.

    The kind is left out when ``INTERNAL``, the status when ``UNSET``, the type when it is the
    span's name.
    """
    attrs = span._attrs
    parts = [span._name.replace("\r", "\\r").replace("\n", "\\n")]  # one line per span
    if span._kind != "INTERNAL":
        parts.append(span._kind)
    if span._status != "UNSET":
        parts.append(span._status)
    trace_type = attrs.get("ai.trace.type")
    if trace_type is not None and trace_type != span._name:
        parts.append(f"type={value(trace_type)}")
    parts.extend(f"{label}={value(attrs[key])}" for label, key in LABELS if key in attrs)
    tokens = token_usage(attrs)
    if tokens != (None, None):
        parts.append(f"tokens={_count(tokens[0])}/{_count(tokens[1])}")
    error = error_text(span)
    if error is not None:
        parts.append(f"error={value(error)}")
    parts.extend(f"{key}={value(attrs[key])}" for key in attributes if key in attrs)
    return " ".join(parts)


def error_text(span: Trace) -> str | None:
    """What went wrong in ``span``: its tool or LLM error attribute, else, when its status is
    ``ERROR``, ``<exception.type>: <exception.message>``; ``None`` when nothing says."""
    attrs = span._attrs
    for key in ERROR_KEYS:
        if key in attrs:
            return value_text(attrs[key])
    if span._status != "ERROR" or "exception.type" not in attrs:
        return None
    if "exception.message" not in attrs:
        return value_text(attrs["exception.type"])
    kind = value_text(attrs.get("exception.type", "Exception"))
    return f"{kind}: {value_text(attrs['exception.message'])}"


def value(item: Any) -> str:
    """An attribute value in a tree line: simple words bare, other text JSON-quoted, the rest
    as JSON with sorted keys (so the text does not depend on a store's key order)."""
    if isinstance(item, str):
        if _BARE.fullmatch(item) and item not in _LITERALS:
            return item
        return json.dumps(item, ensure_ascii=False)
    try:
        return json.dumps(item, ensure_ascii=False, sort_keys=True, default=safe_str)
    except (TypeError, ValueError, RecursionError):
        # Keys of mixed types cannot be sorted; cycles cannot be encoded.
        return value_text(item)


def message_tree(spans: Iterable[Trace], marked: Collection[Trace]) -> str:
    """The tree for an assertion message: indented, marked spans flagged, long trees cut; no
    newline at the end."""
    lines = render_tree(spans, marked=marked)
    if len(lines) > MESSAGE_LINES:
        cut = len(lines) - MESSAGE_LINES
        lines = [*lines[:MESSAGE_LINES], f"  ... {cut} more span{'s' * (cut != 1)}"]
    return "\n".join(f"  {line}" for line in lines)


def _count(tokens: int | None) -> str:
    return "?" if tokens is None else str(tokens)
