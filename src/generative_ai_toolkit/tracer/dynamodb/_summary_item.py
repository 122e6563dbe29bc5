"""The conversation summary item: its keys, what a batch of spans adds to it, and the indexes.

One item per conversation and auth context, next to the spans in the traces table; two GSIs
(``conversation_activity`` by UTC day and shard, ``auth_activity`` by auth context and shard,
both sorted by ``last_ns``) list them newest first. The full layout is in ``docs/dynamodb.md``.
Pure functions, no I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from .._clock import datetime_from_ns
from .._query import AUTH_CONTEXT, CONVERSATION_ID, ConversationSummary
from .._snapshot import last_seen_ns
from .._trace import Trace
from .._usage import USAGE_FIELDS, Usage, UsageTally, span_usage
from ._item import index_text

ACTIVITY_INDEX: Final = "conversation_activity"
AUTH_ACTIVITY_INDEX: Final = "auth_activity"
#: Partitions per day (and per auth context) the summaries are spread over: each takes about
#: 1,000 writes a second, so a day's summary updates are never capped at one partition's rate.
SHARDS: Final = 4
SUMMARY_PREFIX: Final = "CONVERSATION#"
META_KEY: Final = {"pk": {"S": "META#conversations"}, "sk": {"S": "META"}}
#: The counters of a summary, in ``ConversationSummary`` order where they appear there.
COUNTERS: Final = (
    "span_count",
    "error_count",
    "root_count",
    "root_duration_ns",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "llm_calls",
)
#: Per-model usage counters are named ``usage#<Usage field>#<model id>``.
MODEL_COUNTER_PREFIX: Final = "usage#"
BACKFILL_PREFIX: Final = "bf_"
#: Marks a span item whose summarizing writer counted it (``migrate`` skips those).
SUMMARIZED: Final = "summarized"
_MAX_KEY_BYTES: Final = 1024


@dataclass(slots=True)
class Delta:
    """What a group of spans adds to one conversation's summary."""

    conversation: str
    auth: str | None
    first_ns: int
    last_ns: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    def add(self, span: Trace) -> None:
        self.first_ns = min(self.first_ns, span._start_ns)
        self.last_ns = max(self.last_ns, span._end_ns)
        counts = self.counts
        counts["span_count"] += 1
        counts["error_count"] += span._status == "ERROR"
        if not span._parent_id:
            counts["root_count"] += 1
            counts["root_duration_ns"] += span._end_ns - span._start_ns
        found = span_usage(span._attrs)
        if found is None:
            return
        model = _fit(found[0], _MAX_KEY_BYTES)
        for name, value in zip(USAGE_FIELDS, found[1].as_tuple(), strict=True):
            if value:
                counts[name] += value
                key = f"{MODEL_COUNTER_PREFIX}{name}#{model}"
                counts[key] = counts.get(key, 0) + value


def deltas(spans: Iterable[Trace]) -> dict[tuple[str, str | None], Delta]:
    """Per (conversation id, auth context) as text, what ``spans`` add; spans without a
    conversation id add nothing. A snapshot of an open span is activity (the conversation's
    last activity moves to when it was taken, as SQLite's does) but counts nothing: the span
    counts once, when it ends."""
    found: dict[tuple[str, str | None], Delta] = {}
    for span in spans:
        conversation = index_text(span._attrs.get(CONVERSATION_ID))
        if not conversation:
            continue
        auth = index_text(span._attrs.get(AUTH_CONTEXT))
        seen = last_seen_ns(span)
        delta = found.get((conversation, auth))
        if delta is None:
            delta = found[conversation, auth] = Delta(conversation, auth, span._start_ns, seen)
        if span._end_ns:
            delta.add(span)
        else:
            delta.first_ns = min(delta.first_ns, span._start_ns)
            delta.last_ns = max(delta.last_ns, seen)
    return found


def summary_key(conversation: str, auth: str | None) -> dict[str, dict[str, str]]:
    """The table key of the summary of ``conversation`` under ``auth``."""
    sk = "SUMMARY" if auth is None else f"SUMMARY#{auth}"
    return {
        "pk": {"S": _fit(SUMMARY_PREFIX + conversation, 2048)},
        "sk": {"S": _fit(sk, _MAX_KEY_BYTES)},
    }


def shard(conversation: str, auth: str | None) -> int:
    """The shard of a conversation's summary: fixed, spread evenly."""
    return zlib.crc32(f"{conversation}\0{auth or ''}".encode()) % SHARDS


def day_of(ns: int) -> str:
    """The UTC day (``YYYY-MM-DD``) of an epoch time in ns."""
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d")


def activity_day(day: str, shard_number: int) -> str:
    """The ``conversation_activity`` partition key of one day's shard."""
    return f"{day}#{shard_number}"


def auth_activity(auth: str, shard_number: int) -> str:
    """The ``auth_activity`` partition key of one auth context's shard."""
    return f"{_fit(auth, 2040)}#{shard_number}"


def identity_values(delta: Delta) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """``SET`` clauses, names and values every update of ``delta``'s summary carries: the ids
    and the ``auth_activity`` key (fixed per summary)."""
    sets = ["#conv = :conv"]
    names = {"#conv": "summary_conversation"}
    values: dict[str, Any] = {":conv": {"S": delta.conversation}}
    if delta.auth is not None:
        sets += ["#auth = :auth", "#authday = :authday"]
        names.update({"#auth": "summary_auth", "#authday": "auth_activity"})
        values[":auth"] = {"S": delta.auth}
        values[":authday"] = {"S": auth_activity(delta.auth, shard(delta.conversation, delta.auth))}
    return sets, names, values


def _fit(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore")


def item_to_summary(item: Mapping[str, Mapping[str, Any]]) -> ConversationSummary:
    """The ``ConversationSummary`` a summary item holds: what the writers counted plus what
    ``migrate`` found in older spans. ``trace_count`` counts root spans (one per trace when
    each trace's root carries the conversation id)."""

    def count(name: str) -> int:
        total = 0
        for attribute in (name, BACKFILL_PREFIX + name):
            if attribute in item:
                total += int(item[attribute]["N"])
        return total

    auth = item.get("summary_auth")
    usage = Usage(*(count(name) for name in USAGE_FIELDS))
    by_model = _usage_by_model(item, usage)
    return ConversationSummary(
        conversation_id=str(item["summary_conversation"]["S"]),
        auth_context=None if auth is None else str(auth["S"]),
        first_started_at=datetime_from_ns(int(item["first_ns"]["N"])),
        last_ended_at=datetime_from_ns(int(item["last_ns"]["N"])),
        span_count=count("span_count"),
        error_count=count("error_count"),
        trace_count=count("root_count"),
        total_duration_ns=count("root_duration_ns"),
        usage=usage,
        usage_by_model=by_model,
    )


def _usage_by_model(
    item: Mapping[str, Mapping[str, Any]], usage: Usage
) -> tuple[tuple[str, Usage], ...]:
    """Per model, from the ``usage#`` counters (and their ``bf_`` twins). Usage the per-model
    counters do not account for (counted by a writer that kept totals only) is put under model
    ``""``, which no pricing table prices: its cost then shows as partial."""
    fields = {name: i for i, name in enumerate(USAGE_FIELDS)}
    found: dict[str, list[int]] = {}
    for attribute, value in item.items():
        name = attribute.removeprefix(BACKFILL_PREFIX)
        if not name.startswith(MODEL_COUNTER_PREFIX):
            continue
        field_name, _, model = name[len(MODEL_COUNTER_PREFIX) :].partition("#")
        if field_name in fields:
            found.setdefault(model, [0] * len(USAGE_FIELDS))[fields[field_name]] += int(value["N"])
    tally = UsageTally()
    for model, counts in found.items():
        tally.add(model, Usage(*counts))
    rest = [
        max(0, whole - part)
        for whole, part in zip(usage.as_tuple(), tally.total().as_tuple(), strict=True)
    ]
    if any(rest):
        tally.add("", Usage(*rest))
    return tally.by_model()


def index_definitions() -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """``(AttributeDefinitions, GlobalSecondaryIndexes)`` of the two summary GSIs, as
    ``CreateTable`` takes them (``UpdateTable`` takes each index under ``Create``)."""
    attributes = [
        {"AttributeName": "activity_day", "AttributeType": "S"},
        {"AttributeName": "auth_activity", "AttributeType": "S"},
        {"AttributeName": "last_ns", "AttributeType": "N"},
    ]
    indexes: list[dict[str, Any]] = [
        {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": key, "KeyType": "HASH"},
                {"AttributeName": "last_ns", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        for name, key in ((ACTIVITY_INDEX, "activity_day"), (AUTH_ACTIVITY_INDEX, "auth_activity"))
    ]
    return attributes, indexes


def summary_item(delta: Delta) -> dict[str, dict[str, str]]:
    """The whole summary item of a conversation whose spans add up to ``delta``, as the
    writer's updates leave it (for bulk loading; the writer itself only sends updates)."""
    item = {
        **summary_key(delta.conversation, delta.auth),
        "summary_conversation": {"S": delta.conversation},
        "first_ns": {"N": str(delta.first_ns)},
        "last_ns": {"N": str(delta.last_ns)},
        "activity_day": {
            "S": activity_day(day_of(delta.last_ns), shard(delta.conversation, delta.auth))
        },
    }
    if delta.auth is not None:
        item["summary_auth"] = {"S": delta.auth}
        item["auth_activity"] = {
            "S": auth_activity(delta.auth, shard(delta.conversation, delta.auth))
        }
    for counter, value in delta.counts.items():
        if value:
            item[counter] = {"N": str(value)}
    return item
