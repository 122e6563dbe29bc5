"""The human-readable rendering of a span, as the notebook prints it.

```
[<trace_id>/<parent_span_id or root>/<span_id>] <service.name> <KIND> <start> - <name> (k='v')
       Input: Hello, world!
      Output: World, hello!
```
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Final

from ._freeze import safe_str

if TYPE_CHECKING:
    from ._span import SpanFields

#: Attributes shown in the header, in this order, when present.
HEADER_KEYS: Final = ("ai.trace.type", "peer.service", "ai.conversation.id", "ai.auth.context")

#: Detail lines per ``ai.trace.type``: (title, attribute key).
DETAILS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "tool-invocation": (
        ("Input", "ai.tool.input"),
        ("Output", "ai.tool.output"),
        ("Error", "ai.tool.error"),
    ),
    "llm-invocation": (
        ("Last message", "ai.llm.request.messages"),
        ("Response", "ai.llm.response.output"),
        ("Error", "ai.llm.response.error"),
    ),
    "converse": (
        ("Input", "ai.user.input"),
        ("Response", "ai.agent.response"),
        ("Error", "exception.message"),
    ),
}

LINE_WIDTH: Final = 200
MAX_LINES: Final = 4
_INDENT: Final = " " * 14

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"
_CYAN = "\x1b[36m"
_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_YELLOW = "\x1b[33m"

# (epoch second, its formatted text), replaced as a whole so threads never see a torn pair.
_second_cache: tuple[int, str] = (-1, "")


def format_timestamp_ms(ns: int) -> str:
    """``2025-04-15T20:24:45.426Z`` for ``ns`` nanoseconds since the epoch (ms truncated)."""
    global _second_cache
    seconds, rest = divmod(ns, 1_000_000_000)
    cached_second, text = _second_cache
    if cached_second != seconds:
        # Formatting the date is the costly part; consecutive spans mostly share the second.
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache = (seconds, text)
    return f"{text}.{rest // 1_000_000:03d}Z"


def value_text(value: Any) -> str:
    """An attribute value as one line of text: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (list, dict, tuple)):
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=safe_str)
        except (TypeError, ValueError, RecursionError):
            text = safe_str(value)
    else:
        text = safe_str(value)
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _wrap(text: str) -> list[str]:
    lines = [
        text[i : i + LINE_WIDTH]
        for i in range(0, min(len(text), LINE_WIDTH * MAX_LINES), LINE_WIDTH)
    ]
    if len(text) > LINE_WIDTH * MAX_LINES:
        lines[-1] = lines[-1][: LINE_WIDTH - 3] + "..."
    return lines


def _last_message(messages: Any) -> Any:
    if isinstance(messages, (list, tuple)) and messages:
        return messages[-1]
    return messages


def format_human(span: SpanFields, *, color: bool = False) -> str:
    """Render ``span`` in the notebook's human-readable format, ending in one newline."""
    attrs = span._attrs
    parent = f"{span._parent_id:016x}" if span._parent_id else "root"
    service = span._resource.get("service.name", "<missing service.name>")
    when = format_timestamp_ms(span._start_ns)
    pairs = [f"{key}='{value_text(attrs[key])}'" for key in HEADER_KEYS if key in attrs]
    suffix = f" ({' '.join(pairs)})" if pairs else ""
    ids = f"[{span._trace_id:032x}/{parent}/{span._span_id:016x}]"
    if color:
        name_color = _RED if span._status == "ERROR" else _BOLD
        header = (
            f"{_DIM}{ids}{_RESET} {_CYAN}{service}{_RESET} {_YELLOW}{span._kind}{_RESET} "
            f"{_DIM}{when}{_RESET} - {name_color}{span._name}{_RESET}{_DIM}{suffix}{_RESET}\n"
        )
    else:
        header = f"{ids} {service} {span._kind} {when} - {span._name}{suffix}\n"
    details = DETAILS.get(attrs.get("ai.trace.type"))  # type: ignore[arg-type]
    if not details:
        return header
    out = [header]
    for title, key in details:
        if key not in attrs:
            continue
        value = attrs[key]
        if title == "Last message":
            value = _last_message(value)
        lines = _wrap(value_text(value))
        label = f"{title:>12}: "
        if color:
            label = f"{_RED if title == 'Error' else _GREEN}{label}{_RESET}"
        out.append(f"{label}{lines[0] if lines else ''}\n")
        out.extend(f"{_INDENT}{line}\n" for line in lines[1:])
    return "".join(out)
