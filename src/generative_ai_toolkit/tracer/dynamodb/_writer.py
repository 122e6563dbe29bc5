"""``DynamoDbWriter``: the transport that stores batches of span items with ``BatchWriteItem``.

Only the export engine's worker thread calls it. A batch goes out in requests of at most 25 items
(DynamoDB's limit), a few requests in flight at once. Items DynamoDB hands back as
``UnprocessedItems`` are sent again at once while it takes some of them, after a pause that
doubles while it takes none; those still left after a few rounds, and requests that fail with
throttling, a 5xx, a timeout or a refused connection, come back to the engine as
``RetryableError(remaining=...)``; the engine backs off and retries just those spans. Bad
credentials or a missing permission are ``BatchRejectedError`` (the batch is dropped whole).
Anything else (a validation error, say) is a permanent failure of a span.

Snapshots of open spans cannot go in a ``BatchWriteItem`` (it has no conditions): each is a
``PutItem`` that only replaces nothing or an older snapshot of the span, so a late snapshot
never overwrites the ended span (which is written unconditionally). A refused condition is
expected, not an error: the item already holds something newer.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from .._trace import Trace
from .._writer import BatchRejectedError, RetryableError
from ._item import OPEN_ATTRIBUTE, SEEN_ATTRIBUTE, Item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: DynamoDB's limit of items per ``BatchWriteItem`` request.
MAX_BATCH_ITEMS: Final = 25

#: Error codes after which the same request may succeed later. ``ResourceNotFoundException`` is
#: among them: a table being (re)created answers it until it is ACTIVE, and the spans queued
#: meanwhile are written then (the construction check already failed loudly if it was missing
#: from the start).
RETRYABLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ResourceNotFoundException",
        "LimitExceededException",
    }
)
#: Error codes that refuse any request, whatever spans it holds: bad or expired credentials, a
#: missing permission. The batch is dropped in one piece (``BatchRejectedError``) instead of
#: being split span by span; the next batch is tried as usual, so fixed credentials let spans
#: through again.
REJECTED_CODES: Final = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "MissingAuthenticationToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "AccessDeniedException",
    }
)
#: Rounds of resubmitting ``UnprocessedItems`` within one write before the engine takes over
#: (with its own, longer backoff).
UNPROCESSED_ROUNDS: Final = 8
#: The pause before resubmitting; it doubles (up to the maximum) while DynamoDB takes nothing.
FIRST_RESUBMIT_DELAY: Final = 0.01
MAX_RESUBMIT_DELAY: Final = 0.5
_NETWORK_ERRORS: Final = (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)


class DynamoDbWriter:
    """Writes spans as items of ``table_name`` (a ``SpanWriter``).

    ``encode`` turns a span into its item (``_dynamodb_item.span_to_item`` with the tracer's
    options). ``max_concurrency`` requests of 25 items are sent at once. After ``os.fork()``
    the child makes its own request threads and, when ``reconnect`` is given, its own client
    (connections must not be shared across processes). ``sleep`` waits before resubmitting
    ``UnprocessedItems``.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        encode: Callable[[Trace], Item],
        max_concurrency: int = 4,
        reconnect: Callable[[], DynamoDBClient] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._client = client
        self._table = table_name
        self._encode = encode
        self._max_concurrency = max_concurrency
        self._reconnect = reconnect
        self._sleep = sleep
        self._pool: ThreadPoolExecutor | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"DynamoDbWriter({self._table})"

    def write(self, batch: Sequence[Trace]) -> None:
        """Store every span of ``batch``; raise ``RetryableError`` naming those not stored."""
        if self._pid != os.getpid():
            self._after_fork()
        if any(not span._end_ns for span in batch):
            self._write_with_snapshots(batch)
            return
        self._write_ended(batch)

    def _write_with_snapshots(self, batch: Sequence[Trace]) -> None:
        ended = [span for span in batch if span._end_ns]
        left: list[Trace] = []
        error: RetryableError | None = None
        if ended:
            try:
                self._write_ended(ended)
            except RetryableError as exc:
                error = exc
                left.extend(exc.remaining or ended)
        for span in batch:
            if span._end_ns:
                continue
            outcome = self._put_snapshot(span)
            if isinstance(outcome, RetryableError):
                error = outcome
                left.append(span)
            elif outcome is not None:
                raise outcome
        if error is not None:
            raise RetryableError(
                f"{len(left)} of {len(batch)} span(s) not written yet: {error}",
                remaining=left,
                retry_after=error.retry_after,
            )

    def _put_snapshot(self, span: Trace) -> Exception | None:
        """One snapshot, written over nothing or an older snapshot of the span only."""
        item = self._encode(span)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (#open = :open AND #seen < :seen)",
                ExpressionAttributeNames={"#open": OPEN_ATTRIBUTE, "#seen": SEEN_ATTRIBUTE},
                ExpressionAttributeValues={":open": {"BOOL": True}, ":seen": item[SEEN_ATTRIBUTE]},
            )
        except Exception as exc:  # noqa: BLE001 - handed back to the engine, which logs it
            if isinstance(exc, ClientError) and (
                exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
            ):
                return None  # the span has ended, or a newer snapshot is stored: keep that
            return self._failure(exc, [span])
        return None

    def _write_ended(self, batch: Sequence[Trace]) -> None:
        items = [self._encode(span) for span in batch]
        chunks = [
            (batch[i : i + MAX_BATCH_ITEMS], items[i : i + MAX_BATCH_ITEMS])
            for i in range(0, len(batch), MAX_BATCH_ITEMS)
        ]
        outcomes: list[Exception | None] | None = None
        if len(chunks) > 1 and self._max_concurrency > 1:
            try:
                outcomes = list(self._executor().map(lambda c: self._write_chunk(*c), chunks))
            except RuntimeError:
                # At interpreter exit no new futures are accepted: write one request at a time.
                outcomes = None
        if outcomes is None:
            outcomes = [self._write_chunk(spans, chunk) for spans, chunk in chunks]
        remaining: list[Trace] = []
        errors: list[str] = []
        retry_after: float | None = None
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, RetryableError):
                    raise outcome  # permanent: the engine isolates the span that causes it
                remaining.extend(outcome.remaining or ())
                errors.append(str(outcome))
                retry_after = outcome.retry_after or retry_after
        if remaining:
            raise RetryableError(
                f"{len(remaining)} of {len(batch)} span(s) not written yet: {errors[0]}",
                remaining=remaining,
                retry_after=retry_after,
            )

    def _write_chunk(self, spans: Sequence[Trace], items: list[Item]) -> Exception | None:
        """One chunk of up to 25 items, resubmitting ``UnprocessedItems`` a few rounds at once;
        the error instead of raising it (for the pool)."""
        requests: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
        delay = FIRST_RESUBMIT_DELAY / 2
        for round_ in range(1, UNPROCESSED_ROUNDS + 1):
            try:
                response = self._client.batch_write_item(RequestItems={self._table: requests})
            except Exception as exc:  # noqa: BLE001 - handed back to the engine, which logs it
                return self._failure(exc, _left(spans, items, requests))
            unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
            if not unprocessed:
                return None
            if round_ == UNPROCESSED_ROUNDS:
                break
            # DynamoDB took part of the request: send the rest at once. It took none: wait a
            # little longer each round it keeps refusing.
            progress = len(unprocessed) < len(requests)
            delay = FIRST_RESUBMIT_DELAY if progress else min(delay * 2, MAX_RESUBMIT_DELAY)
            requests = unprocessed
            self._sleep(delay)
        return RetryableError(
            f"UnprocessedItems: {len(requests)} of {len(items)} after {UNPROCESSED_ROUNDS} rounds",
            remaining=_left(spans, items, requests),
        )

    def _failure(self, exc: Exception, left: list[Trace]) -> Exception:
        """What a failed request means to the engine: retry ``left``, drop the batch whole
        (a refusal whatever it holds), or a failure of some span in it (anything else)."""
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in RETRYABLE_CODES or status >= 500 or status == 429:
                return RetryableError(f"{code or status}: {exc}", remaining=left)
            if code in REJECTED_CODES or status in (401, 403):
                return BatchRejectedError(f"{self._table}: {exc}")
        elif isinstance(exc, _NETWORK_ERRORS):
            return RetryableError(f"{type(exc).__name__}: {exc}", remaining=left)
        elif isinstance(exc, NoCredentialsError):
            return BatchRejectedError(f"{self._table}: {exc}")
        return exc

    def _after_fork(self) -> None:
        self._pid = os.getpid()
        self._pool = None  # its threads live on in the parent only
        if self._reconnect is not None:
            self._client = self._reconnect()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._max_concurrency, thread_name_prefix="span-export-dynamodb"
            )
        return self._pool

    def close(self) -> None:
        """Stop the request threads; the client belongs to the tracer or the caller."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _key(item: Any) -> tuple[str, str]:
    return (item["pk"]["S"], item["sk"]["S"])


def _left(spans: Sequence[Trace], items: list[Item], requests: list[Any]) -> list[Trace]:
    """The spans whose items are among ``requests``, in batch order."""
    if len(requests) == len(items):
        return list(spans)
    keys = {_key(request["PutRequest"]["Item"]) for request in requests}
    return [span for span, item in zip(spans, items, strict=True) if _key(item) in keys]
