"""Loading many items into a DynamoDB table fast: ``BatchWriteItem`` from several threads.

For tests and benchmarks that need a big table in their setup: the items are the ones the
tracer writes (``span_to_item``, summary items), written without going through a tracer.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, dict[str, Any]]


def bulk_write(
    client: DynamoDBClient, table: str, items: Iterable[Item], *, threads: int = 4
) -> int:
    """Write ``items`` (25 a request, ``threads`` requests in flight, ``UnprocessedItems``
    retried); return how many were written."""

    def write(chunk: list[Item]) -> int:
        requests: list[Any] = [{"PutRequest": {"Item": item}} for item in chunk]
        delay = 0.01
        while requests:
            response = client.batch_write_item(RequestItems={table: requests})
            requests = list(response.get("UnprocessedItems", {}).get(table, []))
            if requests:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        return len(chunk)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(write, _chunks(items, 25)))


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
