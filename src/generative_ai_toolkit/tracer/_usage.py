"""Token usage rolled up from LLM calls: per span, per turn (trace) and per conversation.

A span counts as an LLM call when it carries ``ai.llm.response.usage`` (a dict, Bedrock
Converse's shape: ``inputTokens``, ``outputTokens``, ``totalTokens``, ``cacheReadInputTokens``,
``cacheWriteInputTokens``; the snake-case spellings are read too). Only int counts count; a
missing ``totalTokens`` is input plus output. The model is ``ai.llm.request.model.id`` as text
(``""`` when the span names none), kept apart so that a pricing table can price each model.
Every store computes the same numbers with these rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ._clock import datetime_from_ns
from ._genai_semconv import MODEL_ATTRIBUTE, USAGE_ATTRIBUTE
from ._pricing import Cost, PricingSource, as_pricing
from ._trace import Trace

#: ``Usage`` fields that hold token counts, and the usage keys they are read from.
TOKEN_KEYS: Final = (
    ("input_tokens", "inputTokens", "input_tokens"),
    ("output_tokens", "outputTokens", "output_tokens"),
    ("total_tokens", "totalTokens", "total_tokens"),
    ("cache_read_tokens", "cacheReadInputTokens", "cache_read_input_tokens"),
    ("cache_write_tokens", "cacheWriteInputTokens", "cache_creation_input_tokens"),
)
#: Every ``Usage`` field, in order: the token counts, then ``llm_calls``.
USAGE_FIELDS: Final = (*(field for field, _, _ in TOKEN_KEYS), "llm_calls")


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts summed over LLM calls; ``llm_calls`` is how many spans reported usage.

    Numbers only; ``a + b`` adds field by field.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    llm_calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        """The fields in ``USAGE_FIELDS`` order."""
        return (
            self.input_tokens,
            self.output_tokens,
            self.total_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.llm_calls,
        )

    def as_dict(self) -> dict[str, int]:
        """The fields by name (what the JSON outputs carry)."""
        return dict(zip(USAGE_FIELDS, self.as_tuple(), strict=True))


#: Usage per model id, sorted by model id: ``dict(summary.usage_by_model)`` reads it as a dict.
UsageByModel = tuple[tuple[str, Usage], ...]
NO_USAGE: Final = Usage()


def _count(usage: Mapping[str, Any], camel: str, snake: str) -> int | None:
    value = usage.get(camel, usage.get(snake))
    return value if type(value) is int else None


def span_usage(attrs: Mapping[str, Any]) -> tuple[str, Usage] | None:
    """``(model id, usage)`` of one span's attributes; ``None`` unless it reports usage."""
    usage = attrs.get(USAGE_ATTRIBUTE)
    if not isinstance(usage, Mapping):
        return None
    counts = [_count(usage, camel, snake) for _, camel, snake in TOKEN_KEYS]
    tokens_in, tokens_out = counts[0] or 0, counts[1] or 0
    total = counts[2] if counts[2] is not None else tokens_in + tokens_out
    model = attrs.get(MODEL_ATTRIBUTE)
    model_text = "" if model is None else model if type(model) is str else str(model)
    return model_text, Usage(tokens_in, tokens_out, total, counts[3] or 0, counts[4] or 0, 1)


class UsageTally:
    """Adds up usage per model (not thread-safe: one per rollup)."""

    def __init__(self) -> None:
        self._by_model: dict[str, Usage] = {}

    def add(self, model: str, usage: Usage) -> None:
        """Add ``usage`` of ``model``."""
        found = self._by_model.get(model)
        self._by_model[model] = usage if found is None else found + usage

    def add_span(self, span: Trace) -> None:
        """Add what ``span`` reports, if anything."""
        found = span_usage(span._attrs)
        if found is not None:
            self.add(*found)

    def total(self) -> Usage:
        """All models together."""
        return sum((usage for usage in self._by_model.values()), NO_USAGE)

    def by_model(self) -> UsageByModel:
        """Per model id, sorted by it."""
        return tuple(sorted(self._by_model.items()))


def rollup(spans: Iterable[Trace]) -> tuple[Usage, UsageByModel]:
    """The usage of ``spans`` in total and per model."""
    tally = UsageTally()
    for span in spans:
        tally.add_span(span)
    return tally.total(), tally.by_model()


@dataclass(frozen=True, slots=True)
class TurnSummary:
    """One turn of a conversation: the spans of one trace, with their token usage.

    ``duration_ns`` is from the first span's start to the last span's end.
    """

    trace_id: str
    started_at: datetime
    duration_ns: int
    span_count: int
    error_count: int
    usage: Usage = NO_USAGE
    usage_by_model: UsageByModel = ()

    def cost(self, pricing: PricingSource) -> Cost | None:
        """This turn's cost under ``pricing`` (see ``pricing.Pricing.cost``)."""
        found = as_pricing(pricing)
        return None if found is None else found.cost(self.usage_by_model)


def turn_summaries(spans: Iterable[Trace]) -> list[TurnSummary]:
    """One ``TurnSummary`` per trace among ``spans``, by start time."""
    groups: dict[int, list[Trace]] = {}
    for span in spans:
        groups.setdefault(span._trace_id, []).append(span)
    turns = []
    for trace_id, group in groups.items():
        start = min(s._start_ns for s in group)
        usage, by_model = rollup(group)
        turns.append(
            TurnSummary(
                trace_id=f"{trace_id:032x}",
                started_at=datetime_from_ns(start),
                duration_ns=max(s._end_ns for s in group) - start,
                span_count=len(group),
                error_count=sum(1 for s in group if s._status == "ERROR"),
                usage=usage,
                usage_by_model=by_model,
            )
        )
    turns.sort(key=lambda t: (t.started_at, t.trace_id))
    return turns
