"""Conversation summaries: kept by the writer, listed by Query newest first, paged by cursor, and
a table without the summary indexes still listed (by Scan) with one warning."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from generative_ai_toolkit.tracer import ConversationFilter, Trace
from generative_ai_toolkit.tracer._query import SpanListQuery
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTraceQuery, DynamoDbTracer
from generative_ai_toolkit.tracer.dynamodb._summary_item import SHARDS, deltas, summary_item
from generative_ai_toolkit.tracer.testing import ended_span
from generative_ai_toolkit.tracer.viewer._live import LiveFeed
from services.dynamodb_local import DynamoDbLocal

from . import concurrent_writer
from .tables import create_table_with_summaries

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)


@pytest.fixture
def summary_table(ddb_client: DynamoDBClient) -> str:
    name = f"Summaries-{uuid.uuid4().hex[:8]}"
    create_table_with_summaries(ddb_client, name)
    return name


@pytest.fixture
def make_tracer(ddb_env: DynamoDbLocal) -> Iterator[Callable[..., DynamoDbTracer]]:
    made: list[DynamoDbTracer] = []

    def make(table_name: str, **options: Any) -> DynamoDbTracer:
        options.setdefault("conversation_id_gsi_name", "conversation_index")
        options.setdefault("schedule_delay", 0.05)
        tracer = DynamoDbTracer(table_name, **options)
        made.append(tracer)
        return tracer

    yield make
    for tracer in made:
        tracer.shutdown()


def _ns(seconds: float) -> int:
    return int(T0.timestamp() * 1e9) + int(seconds * 1e9)


def _turn(
    trace_id: int, conversation: Any, auth: str | None, at: float, *, error: bool = False
) -> list[Trace]:
    """One turn: a root span and an LLM call with token usage, ``at`` seconds after T0."""
    inherited: dict[str, Any] = {"ai.conversation.id": conversation}
    if auth is not None:
        inherited["ai.auth.context"] = auth
    root = ended_span(
        "converse",
        trace_id=trace_id,
        span_id=trace_id * 10,
        start_ns=_ns(at),
        duration_ns=900_000_000,
        inherited=inherited,
        status="ERROR" if error else "OK",
    )
    llm = ended_span(
        "llm",
        trace_id=trace_id,
        span_id=trace_id * 10 + 1,
        parent_id=trace_id * 10,
        start_ns=_ns(at) + 100_000_000,
        duration_ns=500_000_000,
        attributes={"ai.llm.response.usage": {"inputTokens": 10, "outputTokens": trace_id}},
        inherited=inherited,
    )
    return [llm, root]


#: Five conversations, two auth contexts, across midnight (T0 is 23:59:58 UTC).
TURNS: list[list[Trace]] = [
    _turn(1, "a", "alice", 0),
    _turn(2, "b", "bob", 1),
    _turn(3, "a", "alice", 2, error=True),  # next day
    _turn(4, 726828, "alice", 3),
    _turn(5, "c", None, 4),
    _turn(6, "b", "bob", 5),
    _turn(7, "d", "alice", 6),
]
SPANS = [span for turn in TURNS for span in turn]


def _reference(where: ConversationFilter | None = None, limit: int = 50) -> list[Any]:
    return SpanListQuery(SPANS).list_conversations(where, limit=limit)


def _store(tracer: DynamoDbTracer, spans: list[Trace]) -> None:
    for span in spans:
        tracer.persist(span)
    assert tracer.flush(30)


def test_summaries_equal_the_spans_also_written_out_of_order(
    make_tracer: Callable[..., DynamoDbTracer], summary_table: str
) -> None:
    """Turns written newest first, one flush each: the listing equals the reference summary."""
    tracer = make_tracer(summary_table)
    for turn in reversed(TURNS):
        _store(tracer, turn)
    assert _reference() == tracer.list_conversations()
    assert 0 == tracer.stats["summary_errors"]
    assert 0 < tracer._reader.listing.items_read <= 1 + len(_reference())  # META + summaries


def test_listing_filters_match_the_reference(
    make_tracer: Callable[..., DynamoDbTracer], summary_table: str
) -> None:
    """Auth context, time range, errors only and search give what the in-memory store gives:
    the auth context exactly, ``search`` and ``auth_search`` as parts in any case."""
    tracer = make_tracer(summary_table)
    _store(tracer, SPANS)
    wheres = [
        ConversationFilter(auth_context="alice"),
        ConversationFilter(auth_context="bob", since=datetime_at(5.5)),
        ConversationFilter(since=datetime_at(1.8), until=datetime_at(3.2)),
        ConversationFilter(until=datetime_at(1.5)),
        ConversationFilter(errors_only=True),
        ConversationFilter(search="2682"),
        ConversationFilter(search="B"),
        ConversationFilter(auth_search="LIC"),
        ConversationFilter(auth_search="o", since=datetime_at(0.5)),
        ConversationFilter(auth_context="ALICE"),
    ]
    for where in wheres:
        assert _reference(where) == tracer.list_conversations(where), where
    assert _reference(limit=2)[1:] == tracer.list_conversations(limit=1, offset=1)


def test_pages_follow_the_cursor(
    make_tracer: Callable[..., DynamoDbTracer], summary_table: str
) -> None:
    """Pages of two, each after the previous page's cursor, list every conversation once."""
    tracer = make_tracer(summary_table)
    _store(tracer, SPANS)
    listed, cursor, pages = [], None, 0
    while True:
        page = tracer.list_conversations_page(limit=2, cursor=cursor)
        listed += page.summaries
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert _reference() == listed
    assert 3 == pages
    with pytest.raises(ValueError, match="not a conversation cursor"):
        tracer.list_conversations_page(cursor="junk")


def test_token_totals_are_kept(
    make_tracer: Callable[..., DynamoDbTracer],
    summary_table: str,
    ddb_client: DynamoDBClient,
) -> None:
    """The summary item sums ai.llm.response.usage of the conversation's spans."""
    tracer = make_tracer(summary_table)
    _store(tracer, SPANS)
    item = ddb_client.get_item(
        TableName=summary_table,
        Key={"pk": {"S": "CONVERSATION#b"}, "sk": {"S": "SUMMARY#bob"}},
    )["Item"]
    assert (20, 2 + 6) == (int(item["input_tokens"]["N"]), int(item["output_tokens"]["N"]))


def test_bulk_loaded_summary_items_equal_the_writers(
    make_tracer: Callable[..., DynamoDbTracer],
    summary_table: str,
    ddb_client: DynamoDBClient,
) -> None:
    """summary_item (what the tests' bulk loader writes) is the item the writer's updates leave."""
    tracer = make_tracer(summary_table)
    _store(tracer, SPANS)
    for delta in deltas(SPANS).values():
        expected = summary_item(delta)
        key = {"pk": expected["pk"], "sk": expected["sk"]}
        assert expected == ddb_client.get_item(TableName=summary_table, Key=key)["Item"]


def test_table_without_summary_indexes_is_listed_by_scan_with_one_warning(
    make_tracer: Callable[..., DynamoDbTracer], table: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The notebook's table: listing still works (a Scan), and says once what to run."""
    tracer = make_tracer(table)
    _store(tracer, SPANS)
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        assert _reference() == tracer.list_conversations()
        assert _reference(limit=1) == tracer.list_conversations(limit=1)
    with pytest.raises(ValueError, match=f"gat-traces dynamodb migrate --table {table}"):
        tracer.list_conversations_page()
    warnings = [r.getMessage() for r in caplog.records if "migrate" in r.getMessage()]
    assert [f"gat-traces dynamodb migrate --table {table}"] == [
        w[w.index("gat-traces") :].rstrip("`") for w in warnings
    ]


def datetime_at(seconds: float) -> datetime:
    return datetime.fromtimestamp(_ns(seconds) / 1e9, UTC)


def test_concurrent_writers_lose_no_update(
    ddb_env: DynamoDbLocal, summary_table: str, ddb_client: DynamoDBClient
) -> None:
    """Four processes write turns of the same five conversations at once, out of order and
    across days: every summary equals the truth (counts, errors, first and last activity)."""
    script = Path(__file__).with_name("concurrent_writer.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen([sys.executable, str(script), summary_table, str(n)], env=env)
        for n in range(4)
    ]
    assert [0, 0, 0, 0] == [writer.wait(timeout=300) for writer in writers]
    spans = [span for n in range(4) for span in concurrent_writer.spans_of(n)]
    query = DynamoDbTraceQuery(ddb_client, summary_table)
    expected = SpanListQuery(spans).list_conversations()
    assert 5 == len(expected)
    assert expected == query.list_conversations()


def test_live_view_polls_read_only_what_changed(
    make_tracer: Callable[..., DynamoDbTracer], summary_table: str, ddb_client: DynamoDBClient
) -> None:
    """A viewer following one conversation among 60: a quiet poll reads a handful of summary
    items and no spans; a new span in it is reported on the next poll."""
    tracer = make_tracer(summary_table)
    _store(tracer, [s for n in range(60) for s in _turn(100 + n, f"old-{n}", "alice", -900 + n)])
    _store(tracer, SPANS)
    query = DynamoDbTraceQuery(
        ddb_client, summary_table, conversation_id_gsi_name="conversation_index"
    )
    feed = LiveFeed(query, "b", since_us=_ns(5) // 1000)
    feed.poll()
    read_before, spans_before = query.listing.items_read, query.capacity.read
    assert [] == feed.poll()
    assert query.listing.items_read - read_before <= 2 * (1 + SHARDS)
    _store(tracer, _turn(50, "b", "bob", 9))
    spans_read_quietly = query.capacity.read - spans_before
    events = feed.poll()
    assert ["conversations", "spans"] == [event for event, _ in events]
    assert ["converse", "llm"] == [s["name"] for s in events[1][1]["spans"]]
    assert spans_read_quietly <= 2 * (1 + SHARDS) * 0.5


def test_summaries_expire_with_their_last_span(
    make_tracer: Callable[..., DynamoDbTracer], summary_table: str, ddb_client: DynamoDBClient
) -> None:
    """With expire_after, a summary's expire_at follows its conversation's last span, also when
    turns arrive out of order."""
    tracer = make_tracer(summary_table, expire_after=86_400)
    for turn in reversed(TURNS):
        _store(tracer, turn)
    for delta in deltas(SPANS).values():
        key = summary_item(delta)
        item = ddb_client.get_item(TableName=summary_table, Key={"pk": key["pk"], "sk": key["sk"]})[
            "Item"
        ]
        assert int(delta.last_ns / 1e9 + 86_400) == int(item["expire_at"]["N"])
