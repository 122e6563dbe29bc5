"""Listing the newest 50 of 100,000 conversations: summary indexes against today's scan.

The table is bulk-loaded with what the tracer writes for 100,000 one-span conversations (span
items and summary items, ``BatchWriteItem`` from eight threads); then, on the same table in the
same run, ``list_conversations(limit=50)`` by ``Query`` on the summary indexes and by the scan
of the conversation index that tables without them fall back to. Items read are DynamoDB
Local's ``ScannedCount`` summed over every request (plus the one META item).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from _harness import Report
from dynamodb.tables import create_table_with_summaries
from dynamodb.test_dynamodb_big_table import big_table_spans, tracer_items
from generative_ai_toolkit.tracer import ConversationSummary
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTraceQuery
from generative_ai_toolkit.tracer.dynamodb._summary_item import META_KEY, day_of
from services.dynamodb_bulk import bulk_write
from services.dynamodb_local import DynamoDbLocal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONVERSATIONS = 100_000
QUERY_ROUNDS = 5
SCAN_ROUNDS = 2


class ItemsRead:
    """Sums ``ScannedCount`` (and counts GetItem hits) of every read ``client`` makes."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        for operation in ("Query", "Scan", "GetItem"):
            client.meta.events.register(f"after-call.dynamodb.{operation}", self._after)

    def _after(self, *, parsed: dict[str, Any], **_: Any) -> None:
        self.count += int(parsed.get("ScannedCount", 1 if "Item" in parsed else 0))


def _load(client: DynamoDBClient, table: str) -> float:
    create_table_with_summaries(client, table)
    spans = big_table_spans(CONVERSATIONS)
    start = time.perf_counter()
    written = bulk_write(client, table, tracer_items(spans), threads=8)
    meta: dict[str, dict[str, Any]] = {
        **META_KEY,
        "days": {"SS": sorted({day_of(span._end_ns) for span in spans})},
        "max_duration_ns": {"N": str(max(s._end_ns - s._start_ns for s in spans))},
    }
    bulk_write(client, table, [meta])
    return written / (time.perf_counter() - start)


def measure(report: Report, server: DynamoDbLocal) -> None:
    """Load the table, then time and count both listings, interleaved."""
    client = server.client(Config(max_pool_connections=16, read_timeout=300))
    table = "BenchListing"
    rate = _load(client, table)
    report.note(
        f"dynamodb listing: {CONVERSATIONS:,} conversations bulk-loaded "
        f"({2 * CONVERSATIONS:,} items) at {rate:,.0f} items/s"
    )
    query = DynamoDbTraceQuery(client, table, conversation_id_gsi_name="conversation_index")
    reads = ItemsRead(client)
    best = {"query": float("inf"), "scan": float("inf")}
    items = {"query": 0, "scan": 0}
    results: dict[str, Any] = {}
    cases: dict[str, Callable[[], list[ConversationSummary]]] = {
        "query": lambda: query.list_conversations(limit=50),
        # What a table without the summary indexes does (the previous release always did it).
        "scan": lambda: query._scan_conversations(None, limit=50, offset=0),
    }
    for round_number in range(max(QUERY_ROUNDS, SCAN_ROUNDS)):
        for name, case in cases.items():
            if name == "scan" and round_number >= SCAN_ROUNDS:
                continue
            before = reads.count
            start = time.perf_counter()
            results[name] = case()
            best[name] = min(best[name], time.perf_counter() - start)
            items[name] = reads.count - before
    client.close()
    same = results["query"] == results["scan"]
    fewer = items["scan"] / max(items["query"], 1)
    faster = best["scan"] / best["query"]
    report.add(
        f"DynamoDB newest 50 of {CONVERSATIONS:,} conversations: items read, Query vs scan",
        f"{fewer:,.0f}x fewer ({items['query']} vs {items['scan']:,})",
        ">= 100x, same result",
        fewer >= 100 and same,
    )
    report.add(
        f"DynamoDB newest 50 of {CONVERSATIONS:,} conversations: time, Query vs scan",
        f"{faster:,.0f}x faster ({best['query'] * 1e3:.1f} ms vs {best['scan']:.2f} s)",
        ">= 20x",
        faster >= 20,
    )
