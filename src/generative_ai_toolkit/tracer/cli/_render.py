"""Text rendering for ``gat-traces``: conversation tables and span trees, plain or coloured."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .._genai_semconv import MODEL_ATTRIBUTE, token_usage
from .._human_format import DETAILS, format_timestamp_ms, value_text
from .._json_encode import SpanJsonEncoder
from .._pricing import Cost, Pricing
from .._query import ConversationSummary, SpanNode
from .._snapshot import snapshot_time
from .._trace import Trace
from .._usage import Usage, UsageByModel, rollup, turn_summaries
from ._messages import message_line, tool_names

#: Attributes shown after a span's name in a tree, when present.
LABEL_KEYS: Final = ("ai.agent.name", "ai.tool.name", MODEL_ATTRIBUTE)
#: Token counts shown on llm-invocation spans, as ``tokens in/out``.

_RESET = "\x1b[0m"
_STYLES: Final = {
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "cyan": "\x1b[36m",
}


#: An open span whose last snapshot is older than this (seconds) is shown as "unfinished":
#: its process most likely died (a live one re-snapshots every ``snapshot_interval``).
DEFAULT_UNFINISHED_AFTER: Final = 600.0


@dataclass(frozen=True, slots=True)
class Style:
    """Colours on or off (``paint`` wraps text in an ANSI style when on), and how open spans
    are shown: running for ``now_ns - start``, or unfinished once their last snapshot is older
    than ``unfinished_after`` seconds."""

    color: bool = False
    now_ns: int = 0
    unfinished_after: float = DEFAULT_UNFINISHED_AFTER

    def paint(self, text: str, style: str) -> str:
        """``text`` in ``style`` (a key of ``_STYLES``), or as is without colour."""
        return f"{_STYLES[style]}{text}{_RESET}" if self.color else text


def format_duration(ns: int) -> str:
    """``850µs``, ``12.3ms``, ``1.24s``, ``3m05s``."""
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.1f}ms"
    seconds = ns / 1_000_000_000
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def open_label(span: Trace, style: Style) -> str:
    """``running 12.3s`` for an open span, or ``unfinished (last seen 2h ago)``."""
    seen = snapshot_time(span)
    quiet = style.now_ns - seen
    if quiet > style.unfinished_after * 1e9:
        return style.paint(f"unfinished (last seen {format_duration(quiet)} ago)", "red")
    return style.paint(
        f"running {format_duration(max(0, style.now_ns - span._start_ns))}", "yellow"
    )


def _clip(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"


# -- conversations -----------------------------------------------------------------------------


def format_cost(cost: Cost | None) -> str:
    """``0.0123 USD``; ``>=0.0123 USD`` when part of the usage has no price; ``-`` for none."""
    if cost is None:
        return "-"
    amount = cost.amount
    text = f"{amount:.4f}" if amount >= 0.01 or amount == 0 else f"{amount:.6f}"
    return f"{'>=' if cost.partial else ''}{text} {cost.currency}"


def usage_text(usage: Usage, cost: Cost | None) -> str:
    """``tokens 1,234 (in 1,000, out 234, cache read 400), cost 0.0123 USD``."""
    parts = [f"in {usage.input_tokens:,}", f"out {usage.output_tokens:,}"]
    if usage.cache_read_tokens:
        parts.append(f"cache read {usage.cache_read_tokens:,}")
    if usage.cache_write_tokens:
        parts.append(f"cache write {usage.cache_write_tokens:,}")
    text = f"tokens {usage.total_tokens:,} ({', '.join(parts)})"
    return text if cost is None else f"{text}, cost {format_cost(cost)}"


def _cost(pricing: Pricing | None, by_model: UsageByModel) -> Cost | None:
    return None if pricing is None else pricing.cost(by_model)


def conversations_table(
    summaries: Sequence[ConversationSummary], style: Style, *, pricing: Pricing | None = None
) -> str:
    """The conversations as an aligned table, newest first as given; a COST column when a
    pricing table is given."""
    headers = (
        "CONVERSATION",
        "AUTH CONTEXT",
        "LAST ACTIVITY",
        "TRACES",
        "SPANS",
        "ERRORS",
        "TIME",
        "TOKENS",
        *(("COST",) if pricing is not None else ()),
    )
    rows = [
        (
            s.conversation_id,
            s.auth_context or "-",
            s.last_ended_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            str(s.trace_count),
            str(s.span_count),
            str(s.error_count),
            format_duration(s.total_duration_ns),
            f"{s.usage.total_tokens:,}" if s.usage.llm_calls else "-",
            *((format_cost(pricing.cost(s.usage_by_model)),) if pricing is not None else ()),
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    numeric = {3, 4, 5, 6, 7, 8}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [style.paint(line(headers), "bold")]
    for row, summary in zip(rows, summaries, strict=True):
        text = line(row)
        out.append(style.paint(text, "red") if summary.error_count else text)
    return "\n".join(out) + "\n"


def usage_json(usage: Usage, by_model: UsageByModel, cost: Cost | None) -> dict[str, Any]:
    """Usage in total and per model, and the cost (``None`` without one): numbers, never text."""
    return {
        "usage": usage.as_dict(),
        "usage_by_model": {model: u.as_dict() for model, u in by_model},
        "cost": None if cost is None else cost.as_dict(),
    }


def summary_json(summary: ConversationSummary, pricing: Pricing | None = None) -> str:
    """One conversation summary as a JSON line."""
    by_model = summary.usage_by_model
    return json.dumps(
        {
            "conversation_id": summary.conversation_id,
            "auth_context": summary.auth_context,
            "first_started_at": str(summary.first_started_at),
            "last_ended_at": str(summary.last_ended_at),
            "trace_count": summary.trace_count,
            "span_count": summary.span_count,
            "error_count": summary.error_count,
            "total_duration_ns": summary.total_duration_ns,
            **usage_json(summary.usage, by_model, _cost(pricing, by_model)),
        }
    )


def conversation_header(
    conversation_id: str, spans: Sequence[Trace], style: Style, *, pricing: Pricing | None = None
) -> str:
    """``Conversation <id> (auth ...): N traces, N spans, N errors``, then the conversation's
    token usage and cost (when it has LLM calls)."""
    auth = next(
        (value_text(s._attrs["ai.auth.context"]) for s in spans if "ai.auth.context" in s._attrs),
        None,
    )
    errors = sum(1 for s in spans if s._status == "ERROR" and s._end_ns)
    traces = len({s._trace_id for s in spans})
    still_open = sum(1 for s in spans if not s._end_ns)
    ended = len(spans) - still_open
    text = (
        f"Conversation {conversation_id}"
        + (f" (auth context {auth})" if auth else "")
        + f": {traces} trace{'s' * (traces != 1)}, {ended} span{'s' * (ended != 1)}"
        + f", {errors} error{'s' * (errors != 1)}"
        + (f", {still_open} open" if still_open else "")
    )
    usage, by_model = rollup(spans)
    total = f"Total: {usage_text(usage, _cost(pricing, by_model))}\n" if usage.llm_calls else ""
    return style.paint(text, "bold") + "\n" + total


# -- trees ---------------------------------------------------------------------------------------


def render_trees(
    roots: Iterable[SpanNode],
    style: Style,
    *,
    width: int | None = 160,
    pricing: Pricing | None = None,
) -> str:
    """Span trees, one line per span (kind, trace type, duration, status) with its inputs and
    outputs below; ``width`` clips long values (``None``: never). Each trace's first line
    carries its token usage (and cost under ``pricing``)."""
    roots = list(roots)
    turns = {
        turn.trace_id: turn
        for turn in turn_summaries(node.span for root in roots for node in root.walk())
    }
    out: list[str] = []
    for root in roots:
        trace_id = f"{root.span._trace_id:032x}"
        started = format_timestamp_ms(root.span._start_ns)
        line = f"trace {trace_id}  {started}"
        turn = turns.pop(trace_id, None)  # once per trace, on its first root
        if turn is not None and turn.usage.llm_calls:
            line += f"  {usage_text(turn.usage, _cost(pricing, turn.usage_by_model))}"
        out.append(style.paint(line, "dim") + "\n")
        _render_node(root, "", "", style, width, out)
        out.append("\n")
    return "".join(out)


def _span_line(span: Trace, style: Style) -> str:
    attrs = span._attrs
    parts = [style.paint(span._name, "red" if span._status == "ERROR" else "bold")]
    labels = [value_text(attrs[k]) for k in LABEL_KEYS if k in attrs]
    if labels:
        parts.append(style.paint(f"[{', '.join(labels)}]", "cyan"))
    parts.append(style.paint(span._kind, "yellow"))
    trace_type = attrs.get("ai.trace.type")
    if trace_type is not None and trace_type != span._name:
        parts.append(value_text(trace_type))
    if span._end_ns:
        parts.append(format_duration(span._end_ns - span._start_ns))
    else:
        parts.append(open_label(span, style))
    if span._status == "ERROR":
        parts.append(style.paint("ERROR", "red"))
    elif span._status == "OK":
        parts.append(style.paint("OK", "green"))
    tokens = token_usage(attrs)
    if tokens != (None, None):
        parts.append(style.paint(f"tokens {_count(tokens[0])}/{_count(tokens[1])}", "dim"))
    return "  ".join(parts)


def _count(tokens: int | None) -> str:
    return "?" if tokens is None else str(tokens)


def _details(span: Trace) -> list[tuple[str, str]]:
    attrs = span._attrs
    rows: list[tuple[str, str]] = []
    for title, key in DETAILS.get(_text(attrs.get("ai.trace.type")), ()):
        if key in attrs:
            value: Any = attrs[key]
            label, names = title, None
            if title == "Last message" and isinstance(value, (list, tuple)) and value:
                label = f"Last message (of {len(value)})"
                names, value = tool_names(value), value[-1]
            rows.append((label, message_line(value, names) or value_text(value)))
    if span._status == "ERROR" and "exception.message" in attrs:
        line = f"{value_text(attrs.get('exception.type', 'Exception'))}: "
        line += value_text(attrs["exception.message"])
        if not any(title == "Error" for title, _ in rows):
            rows.append(("Error", line))
    return rows


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _render_node(  # noqa: PLR0917 - private recursion helper
    node: SpanNode, lead: str, child_lead: str, style: Style, width: int | None, out: list[str]
) -> None:
    out.append(lead + _span_line(node.span, style) + "\n")
    kids = node.children
    detail_lead = child_lead + ("│  " if kids else "   ")
    for title, text in _details(node.span):
        label = style.paint(f"{title}:", "red" if title == "Error" else "green")
        room = None if width is None else max(20, width - len(detail_lead) - len(title) - 2)
        out.append(f"{detail_lead}{label} {_clip(text, room)}\n")
    for i, child in enumerate(kids):
        last = i == len(kids) - 1
        _render_node(
            child,
            child_lead + ("└─ " if last else "├─ "),
            child_lead + ("   " if last else "│  "),
            style,
            width,
            out,
        )


# -- JSON lines ------------------------------------------------------------------------------------


class JsonLines:
    """Spans as ``StructuredLogsTracer`` lines (the format ``gat-traces import`` reads)."""

    def __init__(self) -> None:
        self._encoder = SpanJsonEncoder()

    def line(self, span: Trace) -> str:
        """One span as one JSON line, with its newline."""
        return (
            '{"logger":"TraceLogger","level":"INFO","message":"Trace","trace":'
            + self._encoder.encode(span)
            + "}\n"
        )
