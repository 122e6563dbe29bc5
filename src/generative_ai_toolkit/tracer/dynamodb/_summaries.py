"""Conversation summaries kept current by the writer: ``SummaryUpdater`` and ``SummarizingWriter``.

After each batch is written, one ``UpdateItem`` per conversation adds the batch's spans to the
conversation's summary (``_summary_item``). Writers in several processes never lose an update
to each other: counters only grow by ``ADD``; ``first_ns`` and ``last_ns`` (with
``activity_day``) only move outwards, under a ``ConditionExpression``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from .._trace import Trace
from .._writer import RetryableError, SpanWriter
from ._capacity import CapacityMeter
from ._summary_item import (
    BACKFILL_PREFIX,
    META_KEY,
    Delta,
    activity_day,
    day_of,
    deltas,
    identity_values,
    shard,
    summary_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

_log = logging.getLogger("generative_ai_toolkit.tracer")

_RETRIES: Final = 4
_RETRY_DELAY: Final = 0.05


class SummaryUpdater:
    """Applies ``Delta``s to the summaries: one ``UpdateItem`` per conversation in the common
    case (the new spans end after everything stored and start after its first span), two or
    three otherwise. Throttling and refused connections are retried a few times; other failures
    are counted (``errors``) and logged once per cause, never raised: the spans themselves are
    written already. ``apply`` runs on the export worker; updates go out ``max_concurrency`` at
    a time."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        meter: CapacityMeter | None = None,
        max_concurrency: int = 8,
        reconnect: Callable[[], DynamoDBClient] | None = None,
        expire_after: float | None = None,
    ) -> None:
        self._client = client
        self._expire_after = expire_after
        self._table = table_name
        self._meter = meter or CapacityMeter()
        self._max_concurrency = max_concurrency
        self._reconnect = reconnect
        self._pool: ThreadPoolExecutor | None = None
        self._pid = os.getpid()
        self._days: set[str] = set()
        self._max_duration = 0
        self.errors = 0
        self._causes: set[str] = set()
        self._lock = threading.Lock()

    def apply(self, spans: Sequence[Trace]) -> None:
        """Add ``spans`` (just written) to their conversations' summaries."""
        found = list(deltas(spans).values())
        if not found:
            return
        if self._pid != os.getpid():
            self._after_fork()
        if len(found) > 1 and self._max_concurrency > 1:
            try:
                durations = list(self._executor().map(self._apply_one, found))
            except RuntimeError:  # at interpreter exit: no new threads
                durations = [self._apply_one(delta) for delta in found]
        else:
            durations = [self._apply_one(delta) for delta in found]
        self._update_meta({day_of(d.last_ns) for d in found}, max(durations))

    def _apply_one(self, delta: Delta) -> int:
        """Apply one delta; the conversation's duration as last seen (0 if unknown)."""
        try:
            return _apply(self._retried_request, delta, self._expire_after)
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks the traced program
            self._failed(exc, f"{delta.counts['span_count']} span(s)")
            return 0

    def _update_meta(self, days: set[str], duration: int) -> None:
        new_days = days - self._days
        if new_days:
            try:
                self._retried_request(
                    Key=META_KEY,
                    UpdateExpression="ADD #days :days",
                    ExpressionAttributeNames={"#days": "days"},
                    ExpressionAttributeValues={":days": {"SS": sorted(new_days)}},
                )
                self._days |= new_days
            except Exception as exc:  # noqa: BLE001
                self._failed(exc, "the list of active days")
        if duration > self._max_duration:
            try:
                raise_max(self._retried_request, duration)
                self._max_duration = duration
            except Exception as exc:  # noqa: BLE001
                self._failed(exc, "the longest conversation")

    def _request(self, **params: Any) -> Mapping[str, Any]:
        response = self._client.update_item(
            TableName=self._table, ReturnConsumedCapacity="TOTAL", **params
        )
        self._meter.record("UpdateItem", response, self._table)
        return response

    def _retried_request(self, **params: Any) -> Mapping[str, Any]:
        # Only failures that surely left the item alone are retried (throttling, no
        # connection); after a timeout the ADD may have been applied, and counting it twice
        # would be as wrong as not at all: that is counted as an error instead.
        for attempt in range(_RETRIES):
            try:
                return self._request(**params)
            except Exception as exc:
                if attempt == _RETRIES - 1 or not _not_applied(exc):
                    raise
                time.sleep(_RETRY_DELAY * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self, exc: Exception, what: str) -> None:
        cause = _cause(exc)
        with self._lock:
            self.errors += 1
            first = cause not in self._causes
            self._causes.add(cause)
        if first:
            _log.warning(
                "updating the conversation summary (%s) in %s failed: %s; counted in "
                "stats['summary_errors'], further failures of this kind are not logged",
                what,
                self._table,
                exc,
            )

    def _after_fork(self) -> None:
        self._pid = os.getpid()
        self._pool = None
        if self._reconnect is not None:
            self._client = self._reconnect()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._max_concurrency, thread_name_prefix="span-export-summaries"
            )
        return self._pool

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _apply(
    request: Callable[..., Mapping[str, Any]], delta: Delta, expire_after: float | None = None
) -> int:
    sets, names, values = identity_values(delta)
    names.update({"#first": "first_ns", "#last": "last_ns", "#day": "activity_day"})
    values.update(_time_values(delta))
    if expire_after is not None:
        # Expires with the conversation's last span (set wherever last_ns moves).
        names["#exp"] = "expire_at"
        values[":exp"] = {"N": str(int(delta.last_ns / 1e9 + expire_after))}
    adds = []
    for i, (counter, value) in enumerate(delta.counts.items()):
        if value:
            names[f"#c{i}"] = counter
            values[f":c{i}"] = {"N": str(value)}
            adds.append(f"#c{i} :c{i}")
    adds_text = f" ADD {', '.join(adds)}" if adds else ""
    key = summary_key(delta.conversation, delta.auth)
    try:
        # The common case in one request: these spans end last and do not start first.
        response = request(
            Key=key,
            UpdateExpression="SET "
            + ", ".join([*sets, "#first = if_not_exists(#first, :first)", "#last = :last"])
            + _with_expiry(", #day = :day", values)
            + adds_text,
            ConditionExpression="(attribute_not_exists(#last) OR #last <= :last) AND "
            "(attribute_not_exists(#first) OR #first <= :first)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
        return _duration(response)
    except Exception as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
    # Out of order (another writer got further, or older spans arrive late): count them
    # unconditionally, then move first/last outwards only where these spans reach further.
    return _set_then_move_outwards(
        request, key, delta, sets=sets, adds_text=adds_text, names=names, values=values
    )


def apply_backfill(request: Callable[..., Mapping[str, Any]], delta: Delta) -> int:
    """Write ``delta`` (what ``migrate`` found in uncounted spans) into the ``bf_`` counters
    with ``SET``, so a second run overwrites instead of adding; first/last move outwards as
    the writers move them. Returns the conversation's duration as seen."""
    sets, names, values = identity_values(delta)
    names.update({"#first": "first_ns", "#last": "last_ns", "#day": "activity_day"})
    values.update(_time_values(delta))
    for i, (counter, value) in enumerate(delta.counts.items()):
        names[f"#b{i}"] = BACKFILL_PREFIX + counter
        values[f":b{i}"] = {"N": str(value)}
        sets.append(f"#b{i} = :b{i}")
    key = summary_key(delta.conversation, delta.auth)
    return _set_then_move_outwards(
        request, key, delta, sets=sets, adds_text="", names=names, values=values
    )


def _set_then_move_outwards(
    request: Callable[..., Mapping[str, Any]],
    key: Mapping[str, Any],
    delta: Delta,
    *,
    sets: list[str],
    adds_text: str,
    names: dict[str, str],
    values: dict[str, Any],
) -> int:
    response = request(
        Key=key,
        UpdateExpression="SET "
        + ", ".join(
            [
                *sets,
                "#first = if_not_exists(#first, :first)",
                "#last = if_not_exists(#last, :last)",
                _with_expiry(
                    "#day = if_not_exists(#day, :day)", values, "#exp = if_not_exists(#exp, :exp)"
                ),
            ]
        )
        + adds_text,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    duration = _duration(response)
    stored = response.get("Attributes", {})
    if int(stored["first_ns"]["N"]) > delta.first_ns:
        moved = _move(
            request,
            key,
            condition="#first > :first",
            update="SET #first = :first",
            names={"#first": "first_ns"},
            values={":first": values[":first"]},
        )
        duration = max(duration, moved)
    if int(stored["last_ns"]["N"]) < delta.last_ns:
        moved = _move(
            request,
            key,
            condition="#last < :last",
            update=_with_expiry("SET #last = :last, #day = :day", values),
            names={"#last": "last_ns", "#day": "activity_day", **_expiry(names)},
            values={":last": values[":last"], ":day": values[":day"], **_expiry(values)},
        )
        duration = max(duration, moved)
    return duration


def _with_expiry(clause: str, values: Mapping[str, Any], extra: str = "#exp = :exp") -> str:
    return f"{clause}, {extra}" if ":exp" in values else clause


def _expiry(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k in {"#exp", ":exp"}}


def _time_values(delta: Delta) -> dict[str, Any]:
    day = activity_day(day_of(delta.last_ns), shard(delta.conversation, delta.auth))
    return {
        ":first": {"N": str(delta.first_ns)},
        ":last": {"N": str(delta.last_ns)},
        ":day": {"S": day},
    }


def _move(
    request: Callable[..., Mapping[str, Any]],
    key: Mapping[str, Any],
    *,
    condition: str,
    update: str,
    names: dict[str, str],
    values: dict[str, Any],
) -> int:
    # A failed condition means another writer moved it further already: nothing to do.
    try:
        response = request(
            Key=key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except Exception as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            return 0
        raise
    return _duration(response)


def raise_max(request: Callable[..., Mapping[str, Any]], duration: int) -> None:
    """Raise the META item's ``max_duration_ns`` to ``duration`` unless it is larger."""
    try:
        request(
            Key=META_KEY,
            UpdateExpression="SET #max = :max",
            ConditionExpression="attribute_not_exists(#max) OR #max < :max",
            ExpressionAttributeNames={"#max": "max_duration_ns"},
            ExpressionAttributeValues={":max": {"N": str(duration)}},
        )
    except Exception as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise


def _duration(response: Mapping[str, Any]) -> int:
    stored = response.get("Attributes", {})
    if "first_ns" in stored and "last_ns" in stored:
        return int(stored["last_ns"]["N"]) - int(stored["first_ns"]["N"])
    return 0


class SummarizingWriter:
    """A ``SpanWriter`` that writes spans with ``inner`` and then adds the spans that were
    written to their conversations' summaries, exactly once: spans handed back for a retry are
    summarized when a later attempt writes them; after any other failure none are (the engine
    writes the batch again, in halves)."""

    def __init__(self, inner: SpanWriter, summaries: SummaryUpdater) -> None:
        self._inner = inner
        self._summaries = summaries

    def __repr__(self) -> str:
        return repr(self._inner)

    def write(self, batch: Sequence[Trace]) -> None:
        try:
            self._inner.write(batch)
        except RetryableError as exc:
            if exc.remaining is not None:
                left = {id(span) for span in exc.remaining}
                self._summaries.apply([span for span in batch if id(span) not in left])
            raise
        self._summaries.apply(batch)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._summaries.close()


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _not_applied(exc: BaseException) -> bool:
    """Whether ``exc`` says the request was refused before it changed anything."""
    code = _code(exc)
    if code:
        return code in {
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TransactionConflictException",
        }
    return type(exc).__name__ in {"ConnectTimeoutError", "EndpointConnectionError"}


def _cause(exc: BaseException) -> str:
    return _code(exc) or type(exc).__name__
