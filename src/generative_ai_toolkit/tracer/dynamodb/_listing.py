"""Conversations newest first from the summary indexes: ``Query``s that read what they return.

Without an auth context, the day buckets of ``conversation_activity`` are read newest day first,
the ``SHARDS`` partitions of a day merged by ``last_ns``; with one, the shards of that auth
context in ``auth_activity``. Each shard is read lazily in pages sized to what is still wanted,
so a page of 50 reads about 50 items, not 50 per shard. ``since`` is a key condition; ``until``
(on the first span) filters on the server, and bounds the key by ``until`` plus the longest
conversation seen (kept in the META item). ``search`` and ``auth_search`` (any case) are
applied to the items read; an exact ``auth_context`` uses its own index. Paging continues from
an opaque cursor.
"""

from __future__ import annotations

import base64
import json
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .._clock import ns_from_datetime
from .._query import ConversationFilter, ConversationSummary, contains_folded
from ._capacity import CapacityMeter
from ._item import index_text
from ._summary_item import (
    ACTIVITY_INDEX,
    AUTH_ACTIVITY_INDEX,
    META_KEY,
    SHARDS,
    activity_day,
    auth_activity,
    day_of,
    item_to_summary,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Below one microsecond: ``ConversationSummary`` times are truncated to microseconds.
_SUB_US: Final = 999

Item = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """One page of ``list_conversations_page``: the summaries, and the cursor of the next
    page (``None`` when this page is the last)."""

    summaries: list[ConversationSummary]
    cursor: str | None


@dataclass(slots=True)
class _Cursor:
    last_ns: int
    seen: list[str] = field(default_factory=list)  # keys of the items at last_ns returned

    def encode(self) -> str:
        text = json.dumps({"l": self.last_ns, "s": self.seen}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def decode(cls, cursor: str) -> _Cursor:
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            return cls(int(data["l"]), [str(key) for key in data["s"]])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"not a conversation cursor: {cursor!r}") from None


class _Shard:
    """One partition of an index, read newest first in pages of the size asked for."""

    def __init__(self, query: Callable[..., Mapping[str, Any]], params: dict[str, Any]) -> None:
        self._query = query
        self._params = params
        self.buffer: deque[Item] = deque()
        self.done = False

    def fill(self, size: int) -> None:
        page = self._query(**self._params, Limit=size)
        self.buffer.extend(page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if last:
            self._params["ExclusiveStartKey"] = last
        else:
            self.done = True


class SummaryListing:
    """``list_conversations`` over the summary items of one table."""

    def __init__(self, client: DynamoDBClient, table_name: str, *, meter: CapacityMeter) -> None:
        self._client = client
        self._table = table_name
        self._meter = meter
        self.items_read = 0  # ScannedCount, summed over every request (for tests and benchmarks)

    def page(
        self, where: ConversationFilter | None, *, limit: int, cursor: str | None, skip: int = 0
    ) -> ConversationPage:
        """``limit`` summaries matching ``where`` after ``skip`` more, newest first, starting
        after ``cursor``."""
        where = where or ConversationFilter()
        after = _Cursor.decode(cursor) if cursor else None
        want = skip + limit
        meta = self._meta()
        if meta is None or limit <= 0:
            return ConversationPage([], None)
        days, max_duration = meta
        request = _Request.build(where, after, max_duration)
        found: list[Item] = []

        def still_wanted() -> int:
            return want - len(found)

        for index, partitions in self._groups(where, days, request.low, request.high):
            shards = [_Shard(self._query, request.params(index, pk)) for pk in partitions]
            for item in _merge(shards, still_wanted):
                if not _found_by_text(item, where):
                    continue
                if after is None or not _seen(item, after):
                    found.append(item)
                if len(found) >= want:
                    break
            if len(found) >= want:
                break
        summaries = [item_to_summary(item) for item in found[skip:]]
        if len(found) < want or not summaries:
            return ConversationPage(summaries, None)
        return ConversationPage(summaries, _next_cursor(found, after))

    def _groups(
        self, where: ConversationFilter, days: list[str], low: int | None, high: int | None
    ) -> Iterator[tuple[str, list[dict[str, str]]]]:
        if where.auth_context is not None:
            auth = index_text(where.auth_context) or ""
            yield AUTH_ACTIVITY_INDEX, [{"S": auth_activity(auth, s)} for s in range(SHARDS)]
            return
        first_day = day_of(low) if low is not None else ""
        last_day = day_of(high) if high is not None else "9999"
        for day in sorted(days, reverse=True):
            if first_day <= day <= last_day:
                yield ACTIVITY_INDEX, [{"S": activity_day(day, s)} for s in range(SHARDS)]

    def _meta(self) -> tuple[list[str], int] | None:
        response = self._client.get_item(
            TableName=self._table, Key=META_KEY, ReturnConsumedCapacity="TOTAL"
        )
        self._meter.record("GetItem", response, self._table)
        item = response.get("Item")
        if item is None:
            return None
        self.items_read += 1
        days = list(item.get("days", {}).get("SS", []))
        return days, int(item.get("max_duration_ns", {}).get("N", "0"))

    def _query(self, **params: Any) -> Mapping[str, Any]:
        response = self._client.query(
            TableName=self._table, ReturnConsumedCapacity="TOTAL", **params
        )
        self._meter.record("Query", response, self._table)
        self.items_read += int(response.get("ScannedCount", 0))
        return response


_PK: Final = {ACTIVITY_INDEX: "activity_day", AUTH_ACTIVITY_INDEX: "auth_activity"}


@dataclass(frozen=True, slots=True)
class _Request:
    """What every ``Query`` of one listing shares: the key condition and the filter."""

    low: int | None
    high: int | None
    key: str
    filters: str | None
    values: dict[str, Any]

    @classmethod
    def build(cls, where: ConversationFilter, after: _Cursor | None, max_duration: int) -> _Request:
        low = ns_from_datetime(where.since) if where.since is not None else None
        high: int | None = None
        filters: list[str] = []
        values: dict[str, Any] = {}
        if where.until is not None:
            until = ns_from_datetime(where.until) + _SUB_US
            high = until + max_duration  # no conversation last longer: none ends later
            filters.append("first_ns <= :until")
            values[":until"] = {"N": str(until)}
        if after is not None:
            high = after.last_ns if high is None else min(high, after.last_ns)
        if where.errors_only:
            filters.append("(error_count > :zero OR bf_error_count > :zero)")
            values[":zero"] = {"N": "0"}
        key = "#pk = :pk"
        if low is not None:
            values[":low"] = {"N": str(low)}
        if high is not None:
            values[":high"] = {"N": str(high)}
        if low is not None and high is not None:
            key += " AND last_ns BETWEEN :low AND :high"
        elif low is not None:
            key += " AND last_ns >= :low"
        elif high is not None:
            key += " AND last_ns <= :high"
        return cls(low, high, key, " AND ".join(filters) or None, values)

    def params(self, index: str, partition: Mapping[str, str]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "IndexName": index,
            "ScanIndexForward": False,
            "KeyConditionExpression": self.key,
            "ExpressionAttributeNames": {"#pk": _PK[index]},
            "ExpressionAttributeValues": {**self.values, ":pk": partition},
        }
        if self.filters:
            params["FilterExpression"] = self.filters
        return params


def _found_by_text(item: Item, where: ConversationFilter) -> bool:
    # ``search`` and ``auth_search`` ignore case, which a FilterExpression's contains() cannot:
    # they are applied here instead. It costs the same read units (DynamoDB charges for the
    # items a Query reads, before any FilterExpression), only the bytes of the items dropped.
    if where.search and not contains_folded(_text(item, "summary_conversation"), where.search):
        return False
    return not where.auth_search or contains_folded(_text(item, "summary_auth"), where.auth_search)


def _text(item: Item, name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value.get("S", ""))


def _next_cursor(found: list[Item], after: _Cursor | None) -> str:
    last_ns = int(found[-1]["last_ns"]["N"])
    seen = [_key(item) for item in found if int(item["last_ns"]["N"]) == last_ns]
    if after is not None and after.last_ns == last_ns:
        seen += after.seen
    return _Cursor(last_ns, seen).encode()


def _merge(shards: list[_Shard], still_wanted: Callable[[], int]) -> Iterator[Item]:
    """The items of ``shards`` by ``last_ns``, newest first; each shard is read only when its
    next item is needed, in pages of its share of what is still wanted."""
    while True:
        open_shards = [shard for shard in shards if not shard.done] or shards
        size = max(1, math.ceil(still_wanted() / len(open_shards)))
        for shard in shards:
            while not shard.buffer and not shard.done:
                shard.fill(size)
        ready = [shard for shard in shards if shard.buffer]
        if not ready:
            return
        newest = max(ready, key=lambda shard: int(shard.buffer[0]["last_ns"]["N"]))
        yield newest.buffer.popleft()


def _key(item: Item) -> str:
    return f"{item['pk']['S']}\n{item['sk']['S']}"


def _seen(item: Item, after: _Cursor) -> bool:
    return int(item["last_ns"]["N"]) == after.last_ns and _key(item) in after.seen
