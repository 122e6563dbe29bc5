"""Listing conversations of a big table reads about what it returns.

20,000 conversations (one span each, over ten days and ten auth contexts) are bulk-loaded as the
tracer writes them (span items and summary items, ``BatchWriteItem`` from eight threads), in
about half a minute on DynamoDB Local. The issue's 100,000 conversations / 2,000,000 spans take
DynamoDB Local (about 1,300 items a second on the test machine) far longer than a test may; the
benchmark measures listing on 100,000 conversations instead. Each listing below is checked
against a reference computed in Python and reads at most twice the items it returns (DynamoDB
Local's ``ScannedCount``, summed over every request, plus the one META item).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config

from generative_ai_toolkit.tracer import ConversationFilter, ConversationSummary, Trace
from generative_ai_toolkit.tracer._query import SpanListQuery
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTraceQuery
from generative_ai_toolkit.tracer.dynamodb._item import span_to_item
from generative_ai_toolkit.tracer.dynamodb._summary_item import (
    SUMMARIZED,
    day_of,
    deltas,
    summary_item,
)
from generative_ai_toolkit.tracer.testing import ended_span
from services.dynamodb_bulk import bulk_write
from services.dynamodb_local import DynamoDbLocal

from .tables import create_table_with_summaries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CONVERSATIONS = 20_000
T0 = datetime(2026, 6, 1, tzinfo=UTC)
SPACING_NS = 10 * 86_400 * 10**9 // CONVERSATIONS  # ten days


def big_table_spans(count: int = CONVERSATIONS) -> list[Trace]:
    """One span per conversation, every ``SPACING_NS``, ten auth contexts, some errors."""
    start = int(T0.timestamp()) * 10**9
    return [
        ended_span(
            "converse",
            trace_id=n + 1,
            span_id=n + 1,
            start_ns=start + n * SPACING_NS,
            duration_ns=1_000_000 + n,
            inherited={"ai.conversation.id": f"conv-{n}", "ai.auth.context": f"tenant-{n % 10}"},
            status="ERROR" if n % 7 == 0 else "OK",
        )
        for n in range(count)
    ]


def tracer_items(spans: list[Trace]) -> Iterator[dict[str, Any]]:
    """The items a summarizing ``DynamoDbTracer`` leaves for ``spans``."""
    for span in spans:
        yield {**span_to_item(span), SUMMARIZED: {"N": "1"}}
    yield from (summary_item(delta) for delta in deltas(spans).values())


class Big:
    def __init__(self, query: DynamoDbTraceQuery, spans: list[Trace]) -> None:
        self.query = query
        self.reference = SpanListQuery(spans)

    def read_by(self, call: Any) -> tuple[Any, int]:
        before = self.query.listing.items_read
        result = call()
        return result, self.query.listing.items_read - before


@pytest.fixture(scope="module")
def big(dynamodb_local: DynamoDbLocal) -> Iterator[Big]:
    client = dynamodb_local.client(Config(max_pool_connections=16, read_timeout=60))
    table = f"Big-{uuid.uuid4().hex[:8]}"
    create_table_with_summaries(client, table)
    spans = big_table_spans()
    assert 2 * CONVERSATIONS == bulk_write(client, table, tracer_items(spans), threads=8)
    meta: list[dict[str, dict[str, Any]]] = [
        {
            "pk": {"S": "META#conversations"},
            "sk": {"S": "META"},
            "days": {"SS": sorted({day_of(span._end_ns) for span in spans})},
            "max_duration_ns": {"N": str(1_000_000 + CONVERSATIONS)},
        }
    ]
    bulk_write(client, table, meta)
    yield Big(DynamoDbTraceQuery(client, table), spans)
    client.close()


def _check(big: Big, where: ConversationFilter | None, found: list[ConversationSummary]) -> None:
    assert big.reference.list_conversations(where, limit=50) == found
    assert 50 == len(found)


def test_newest_50_conversations(big: Big) -> None:
    """The newest 50 of 20,000 conversations, reading at most 100 items."""
    found, read = big.read_by(lambda: big.query.list_conversations(limit=50))
    _check(big, None, found)
    assert read <= 2 * len(found)


def test_one_auth_contexts_newest_50(big: Big) -> None:
    """One tenant's newest 50 (of 2,000), from the auth_activity index."""
    where = ConversationFilter(auth_context="tenant-3")
    found, read = big.read_by(lambda: big.query.list_conversations(where, limit=50))
    _check(big, where, found)
    assert read <= 2 * len(found)


def test_a_time_range_in_the_middle(big: Big) -> None:
    """The newest 50 conversations active in six hours four days back."""
    where = ConversationFilter(
        since=T0 + timedelta(days=4, hours=6), until=T0 + timedelta(days=4, hours=12)
    )
    found, read = big.read_by(lambda: big.query.list_conversations(where, limit=50))
    _check(big, where, found)
    assert read <= 2 * len(found)


def test_page_two_via_the_cursor(big: Big) -> None:
    """The second page of 50 after the first page's cursor: conversations 51 to 100."""
    first = big.query.list_conversations_page(limit=50)
    assert first.cursor is not None
    second, read = big.read_by(
        lambda: big.query.list_conversations_page(limit=50, cursor=first.cursor)
    )
    assert big.reference.list_conversations(limit=100)[50:] == second.summaries
    assert read <= 2 * len(second.summaries)
