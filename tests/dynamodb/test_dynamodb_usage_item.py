"""Token usage in the conversation summary item (pure functions, no DynamoDB): counters per
model next to the totals, and summaries counted before the per-model counters existed."""

from __future__ import annotations

from generative_ai_toolkit.tracer import Trace, Usage
from generative_ai_toolkit.tracer.dynamodb._summary_item import (
    deltas,
    item_to_summary,
    summary_item,
)
from generative_ai_toolkit.tracer.testing import ended_span


def _call(span_id: int, model: str, usage: dict[str, int]) -> Trace:
    return ended_span(
        "llm-invocation",
        trace_id=1,
        span_id=span_id,
        start_ns=1_772_409_600_000_000_000 + span_id,
        attributes={
            "ai.conversation.id": "c",
            "ai.llm.request.model.id": model,
            "ai.llm.response.usage": usage,
        },
    )


def test_the_item_holds_totals_and_per_model_counters() -> None:
    """``usage#<field>#<model>`` counters beside the totals; read back as the summary's usage."""
    spans = [
        _call(1, "m-a", {"inputTokens": 10, "outputTokens": 2, "cacheReadInputTokens": 5}),
        _call(2, "m-b#x", {"inputTokens": 1, "outputTokens": 1, "totalTokens": 9}),
    ]
    (delta,) = deltas(spans).values()
    item = summary_item(delta)
    assert {"N": "5"} == item["usage#cache_read_tokens#m-a"]
    assert {"N": "21"} == item["total_tokens"]
    summary = item_to_summary(item)
    assert Usage(11, 3, 21, 5, 0, 2) == summary.usage
    assert (("m-a", Usage(10, 2, 12, 5, 0, 1)), ("m-b#x", Usage(1, 1, 9, 0, 0, 1))) == (
        summary.usage_by_model
    )


def test_totals_without_per_model_counters_are_listed_under_no_model() -> None:
    """A summary counted by an earlier writer (input and output totals only): its tokens show
    under model "" (no price, so a partial cost), never lost and never double counted."""
    spans = [_call(1, "m-a", {"inputTokens": 10, "outputTokens": 2})]
    (delta,) = deltas(spans).values()
    item = summary_item(delta)
    legacy = {
        key: value
        for key, value in item.items()
        if not key.startswith("usage#")
        and key not in ("total_tokens", "cache_read_tokens", "cache_write_tokens", "llm_calls")
    }
    legacy["bf_input_tokens"] = {"N": "5"}  # and what migrate found in older spans
    summary = item_to_summary(legacy)
    assert Usage(15, 2, 0, 0, 0, 0) == summary.usage
    assert (("", Usage(15, 2, 0, 0, 0, 0)),) == summary.usage_by_model
