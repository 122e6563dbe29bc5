"""The web viewer's JSON: conversation summaries, span outlines, full spans, filters from a URL.

Pure functions from ``TraceQuery`` results to plain JSON-ready values. Times the page lays out
are epoch microseconds (exact in a JavaScript number); values from spans pass through
``to_json_safe`` so every attribute yields strict JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from .._clock import ns_from_datetime
from .._genai_semconv import MODEL_ATTRIBUTE, token_usage
from .._human_format import value_text
from .._json_encode import format_datetime_text, to_json_safe
from .._pricing import Cost, Pricing
from .._query import ConversationFilter, ConversationSummary, SpanNode
from .._snapshot import last_seen_ns
from .._trace import Trace
from .._usage import Usage, UsageByModel, rollup, span_usage, turn_summaries

#: Attributes shown next to a span's name (as in ``gat-traces show``).
LABEL_KEYS: Final = ("ai.agent.name", "ai.tool.name", MODEL_ATTRIBUTE)
#: Outline fields the compare view counts by: what a span is, which tool it ran.
OUTLINE_KEYS: Final = (("type", "ai.trace.type"), ("tool", "ai.tool.name"))
INPUT_KEY: Final = "ai.user.input"
RESPONSE_KEY: Final = "ai.agent.response"
#: Failures recorded as attributes rather than raised.
ERROR_KEYS: Final = ("ai.tool.error", "ai.llm.response.error")
#: Longest text an outline carries per field; the span panel shows values in full.
CLIP: Final = 300
MAX_PAGE: Final = 200
DEFAULT_PAGE: Final = 50
MAX_OFFSET: Final = 1_000_000_000
#: Times a store can hold: nanoseconds since the epoch in a signed 64-bit integer.
EARLIEST: Final = datetime(1678, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2262, 1, 1, tzinfo=UTC)


class BadRequest(ValueError):
    """A query parameter the API cannot use; answered with status 400."""


def _clip(text: str, width: int = CLIP) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _iso(ns: int) -> str:
    return format_datetime_text(ns).replace(" ", "T")


def _cost_json(cost: Cost | None) -> dict[str, Any] | None:
    return None if cost is None else cost.as_dict()


def usage_json(usage: Usage, by_model: UsageByModel, pricing: Pricing | None) -> dict[str, Any]:
    """Token usage in total and per model, and the cost under ``pricing`` (``None`` without a
    price): numbers, never text."""
    return {
        "usage": usage.as_dict(),
        "usage_by_model": {model: u.as_dict() for model, u in by_model},
        "cost": None if pricing is None else _cost_json(pricing.cost(by_model)),
    }


def turns_json(spans: Iterable[Trace], pricing: Pricing | None) -> dict[str, Any]:
    """A conversation's usage (and cost) in total and per turn (trace), by start."""
    spans = list(spans)
    return {
        **usage_json(*rollup(spans), pricing),
        "turns": [
            {
                "trace_id": turn.trace_id,
                "span_count": turn.span_count,
                **usage_json(turn.usage, turn.usage_by_model, pricing),
            }
            for turn in turn_summaries(spans)
        ],
    }


def summary_json(summary: ConversationSummary, pricing: Pricing | None = None) -> dict[str, Any]:
    """One row of the conversations list, with its token usage and cost."""
    first = ns_from_datetime(summary.first_started_at)
    last = ns_from_datetime(summary.last_ended_at)
    return {
        "conversation_id": summary.conversation_id,
        "auth_context": summary.auth_context,
        "first_started_at": _iso(first),
        "last_ended_at": _iso(last),
        "first_started_us": first // 1000,
        "last_ended_us": last // 1000,
        "span_count": summary.span_count,
        "error_count": summary.error_count,
        "trace_count": summary.trace_count,
        "total_duration_ns": summary.total_duration_ns,
        **usage_json(summary.usage, summary.usage_by_model, pricing),
    }


def span_key(span: Trace) -> tuple[int, int]:
    """What identifies a span in a store: (trace id, span id)."""
    return span._trace_id, span._span_id


def span_outline(span: Trace, pricing: Pricing | None = None) -> dict[str, Any]:
    """What the waterfall and tree need of a span: ids, name, kind, status, times, a label.

    Root spans of a turn also carry the (clipped) user input and agent response; LLM calls
    their ``usage`` (with the ``model``) and, under ``pricing``, their ``cost`` (``None``
    when the model has no price), which the page adds up per turn and conversation. An open
    span (a snapshot) has ``"open": true``, and its end and duration as of its latest snapshot.
    """
    attrs = span._attrs
    end_ns = last_seen_ns(span)
    outline: dict[str, Any] = {
        "trace_id": f"{span._trace_id:032x}",
        "span_id": f"{span._span_id:016x}",
        "parent_span_id": f"{span._parent_id:016x}" if span._parent_id else None,
        "name": span._name,
        "kind": span._kind,
        "status": span._status,
        "start_us": span._start_ns // 1000,
        "end_us": end_ns // 1000,
        "duration_ns": end_ns - span._start_ns,
        "labels": [_clip(value_text(attrs[k]), 80) for k in LABEL_KEYS if k in attrs],
    }
    if not span._end_ns:
        outline["open"] = True
    tokens_in, tokens_out = token_usage(attrs)
    if tokens_in is not None or tokens_out is not None:
        total = None if tokens_in is None or tokens_out is None else tokens_in + tokens_out
        outline["tokens"] = {"input": tokens_in, "output": tokens_out, "total": total}
    for field, key in OUTLINE_KEYS:
        if key in attrs:
            outline[field] = _clip(value_text(attrs[key]), 80)
    usage = span_usage(attrs)
    if usage is not None:
        outline["usage"] = {"model": usage[0], **usage[1].as_dict()}
        if pricing is not None:
            outline["cost"] = _cost_json(pricing.cost((usage,)))
    if INPUT_KEY in attrs:
        outline["input"] = _clip(value_text(attrs[INPUT_KEY]))
    if RESPONSE_KEY in attrs:
        outline["response"] = _clip(value_text(attrs[RESPONSE_KEY]))
    if span._status == "ERROR" and "exception.type" in attrs:
        message = value_text(attrs.get("exception.message", ""))
        outline["error"] = _clip(f"{value_text(attrs['exception.type'])}: {message}")
    else:
        # A tool or model that failed without raising, as ``gat-traces show`` prints it.
        failure = next((attrs[k] for k in ERROR_KEYS if attrs.get(k) not in (None, "")), None)
        if failure is not None:
            outline["error"] = _clip(value_text(failure))
    return outline


def span_detail(span: Trace, pricing: Pricing | None = None) -> dict[str, Any]:
    """A span in full for the span panel: every attribute in order, inherited ones marked."""
    inherited = set(span.inherited_attribute_keys)
    detail = span_outline(span, pricing)
    detail.update(
        started_at=_iso(span._start_ns),
        ended_at=_iso(span._end_ns) if span._end_ns else None,
        # A list, not an object: JavaScript reorders integer-like object keys.
        attributes=[
            {"key": key, "value": to_json_safe(value), "inherited": key in inherited}
            for key, value in span._attrs.items()
        ],
        resource_attributes=to_json_safe(dict(span._resource)),
        scope={"name": span._scope.name, "version": span._scope.version},
    )
    return detail


def tree_json(nodes: Iterable[SpanNode], pricing: Pricing | None = None) -> list[dict[str, Any]]:
    """Trees of full spans: each node is the span's detail plus ``children``."""
    return [
        {**span_detail(node.span, pricing), "children": tree_json(node.children, pricing)}
        for node in nodes
    ]


def conversation_filter(params: Mapping[str, str]) -> ConversationFilter:
    """``ConversationFilter`` from the list's query parameters (search, auth_context,
    auth_search, errors, since, until)."""
    return ConversationFilter(
        auth_context=params.get("auth_context") or None,
        auth_search=params.get("auth_search") or None,
        since=_time(params, "since"),
        until=_time(params, "until"),
        errors_only=params.get("errors", "") in ("1", "true", "on", "yes"),
        search=params.get("search") or None,
    )


def page(params: Mapping[str, str]) -> tuple[int, int]:
    """``(limit, offset)`` from the query parameters; limit at most ``MAX_PAGE``."""
    limit = _int(params, "limit", DEFAULT_PAGE)
    offset = _int(params, "offset", 0)
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be 1 to {MAX_PAGE}")
    if not 0 <= offset <= MAX_OFFSET:
        raise BadRequest(f"offset must be 0 to {MAX_OFFSET:,}")
    return limit, offset


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{name} is not a number: {text!r}") from None


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    text = params.get(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} is not an ISO time: {text!r}") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= value <= LATEST:
        raise BadRequest(
            f"{name} is out of range: {text!r} (times from {EARLIEST.year} to {LATEST.year})"
        )
    return value


def hex_id(text: str, digits: int, what: str) -> str:
    """``text`` if it is ``digits`` hex digits (lower-cased), else ``BadRequest``."""
    if len(text) != digits or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise BadRequest(f"{what} must be {digits} hex digits")
    return text.lower()
