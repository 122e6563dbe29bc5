"""Token usage rolled up per conversation and per turn: every store returns the same numbers.

The same spans go into the in-memory tracer, a JSON-lines file (read as ``gat-traces --jsonl``
reads it), SQLite, DynamoDB Local with the summary indexes (summaries kept by the writer) and
without them (listing by Scan); each store's ``list_conversations`` and the turns of its
``conversation_spans`` must give the numbers worked out by hand below.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dynamodb.tables import create_table_with_summaries
from generative_ai_toolkit.tracer import (
    ConversationFilter,
    ConversationSummary,
    InMemoryTracer,
    SpanListQuery,
    SqliteTracer,
    StructuredLogsTracer,
    Trace,
    TraceQuery,
    Usage,
    turn_summaries,
)
from generative_ai_toolkit.tracer.cli._jsonl import open_jsonl
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
from generative_ai_toolkit.tracer.pricing import Cost, Pricing
from generative_ai_toolkit.tracer.testing import ended_span
from services.dynamodb_local import DynamoDbLocal, create_notebook_table

from .conftest import PATIENT

pytestmark = pytest.mark.integration

T0 = 1_772_409_600_000_000_000  # 2026-03-02T00:00:00Z
SONNET = "anthropic.claude-sonnet"
NOVA = "amazon.nova-lite-v1:0"


def _llm(trace: int, n: int, model: Any, usage: Any, inherited: dict[str, Any]) -> Trace:
    attributes: dict[str, Any] = {"ai.trace.type": "llm-invocation"}
    if model is not None:
        attributes["ai.llm.request.model.id"] = model
    attributes["ai.llm.response.usage"] = usage
    return ended_span(
        "llm-invocation",
        trace_id=trace,
        span_id=trace * 100 + n,
        parent_id=trace * 100,
        start_ns=T0 + trace * 10_000_000_000 + n * 1_000_000,
        attributes=attributes,
        inherited=inherited,
    )


def _turn(trace: int, conversation: str, calls: list[tuple[Any, Any]]) -> list[Trace]:
    inherited = {"ai.conversation.id": conversation, "ai.auth.context": "alice"}
    root = ended_span(
        "converse",
        trace_id=trace,
        span_id=trace * 100,
        start_ns=T0 + trace * 10_000_000_000,
        duration_ns=900_000_000,
        attributes=dict(inherited),
    )
    return [
        *(_llm(trace, n + 1, model, usage, inherited) for n, (model, usage) in enumerate(calls)),
        root,
    ]


TURN_1 = _turn(
    1,
    "c-1",
    [
        (SONNET, {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120}),
        (
            SONNET,
            {
                "inputTokens": 50,
                "outputTokens": 10,
                "totalTokens": 560,
                "cacheReadInputTokens": 400,
                "cacheWriteInputTokens": 100,
            },
        ),
    ],
)
TURN_2 = _turn(
    2,
    "c-1",
    [
        (NOVA, {"input_tokens": 7, "output_tokens": 3}),  # snake case, no total: 7 + 3
        (None, {"inputTokens": 1, "outputTokens": 1}),  # no model id: model ""
        ("unknown.model", {"inputTokens": "12", "outputTokens": 6}),  # text is not a count
    ],
)
TURN_3 = _turn(3, "c-2", [(NOVA, "12/6")])  # usage that is not a dict counts nothing
NO_CONVERSATION = [_llm(4, 1, NOVA, {"inputTokens": 9, "outputTokens": 9}, {})]
SPANS = [*TURN_1, *TURN_2, *TURN_3, *NO_CONVERSATION]

SONNET_USAGE = Usage(150, 30, 680, 400, 100, 2)
EXPECTED_C1 = {
    "": Usage(1, 1, 2, 0, 0, 1),
    NOVA: Usage(7, 3, 10, 0, 0, 1),
    SONNET: SONNET_USAGE,
    "unknown.model": Usage(0, 6, 6, 0, 0, 1),
}
PRICING = Pricing.from_dict(
    {
        "currency": "USD",
        "per": 1_000_000,
        "models": {
            SONNET: {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75},
            NOVA: {"input": 0.06, "output": 0.24},
        },
    }
)


def _in_memory(_: pytest.FixtureRequest) -> TraceQuery:
    tracer = InMemoryTracer()
    for span in SPANS:
        tracer.persist(span)
    return tracer


def _jsonl(request: pytest.FixtureRequest) -> TraceQuery:
    path: Path = request.getfixturevalue("tmp_path") / "spans.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        tracer = StructuredLogsTracer(stream=stream)
        for span in SPANS:
            tracer.persist(span)
    return SpanListQuery(open_jsonl(path).spans)


def _sqlite(request: pytest.FixtureRequest) -> TraceQuery:
    tracer = SqliteTracer(request.getfixturevalue("tmp_path") / "t.sqlite3", schedule_delay=0.01)
    request.addfinalizer(tracer.shutdown)
    for turn in (TURN_2, TURN_1, TURN_3, NO_CONVERSATION):  # batches out of order
        for span in turn:
            tracer.persist(span)
        assert tracer.flush(30)
    return tracer


def _dynamodb(request: pytest.FixtureRequest, *, summaries: bool) -> TraceQuery:
    server: DynamoDbLocal = request.getfixturevalue("dynamodb_local")
    client = server.client(PATIENT)
    table = f"Rollups-{uuid.uuid4().hex[:8]}"
    if summaries:
        create_table_with_summaries(client, table)
    else:
        create_notebook_table(client, table_name=table)
    tracer = DynamoDbTracer(
        table, client=client, conversation_id_gsi_name="conversation_index", schedule_delay=0.01
    )
    request.addfinalizer(tracer.shutdown)
    for turn in (TURN_2, TURN_1, TURN_3, NO_CONVERSATION):
        for span in turn:
            tracer.persist(span)
        assert tracer.flush(30)
    return tracer


def _dynamodb_summaries(request: pytest.FixtureRequest) -> TraceQuery:
    return _dynamodb(request, summaries=True)


def _dynamodb_scan(request: pytest.FixtureRequest) -> TraceQuery:
    return _dynamodb(request, summaries=False)


STORES = [_in_memory, _jsonl, _sqlite, _dynamodb_summaries, _dynamodb_scan]


@pytest.fixture(params=STORES, ids=lambda f: f.__name__.lstrip("_"))
def store(request: pytest.FixtureRequest) -> TraceQuery:
    """Each store in turn, holding ``SPANS``."""
    factory: Callable[[pytest.FixtureRequest], TraceQuery] = request.param
    return factory(request)


def _by_id(store: TraceQuery) -> dict[str, ConversationSummary]:
    return {s.conversation_id: s for s in store.list_conversations()}


def test_conversation_usage_is_summed_per_model(store: TraceQuery) -> None:
    """Input, output, total, cache read/write and calls per conversation, in total and per
    model; a model-less call counts under ``""``; text counts and non-dict usage count 0."""
    summaries = _by_id(store)
    c1 = summaries["c-1"]
    assert EXPECTED_C1 == dict(c1.usage_by_model)
    assert sorted(EXPECTED_C1) == [model for model, _ in c1.usage_by_model]
    assert Usage(158, 40, 698, 400, 100, 5) == c1.usage
    assert Usage() == summaries["c-2"].usage
    assert () == summaries["c-2"].usage_by_model


def test_every_store_lists_what_the_reference_lists(store: TraceQuery) -> None:
    """The whole summary (usage included) equals the in-memory reference, filters too."""
    reference = SpanListQuery(SPANS)
    assert reference.list_conversations() == store.list_conversations()
    where = ConversationFilter(search="c-1")
    assert reference.list_conversations(where) == store.list_conversations(where)


def test_turn_usage_from_each_stores_spans(store: TraceQuery) -> None:
    """Each turn (trace) of a conversation read back from the store has its own usage."""
    turns = turn_summaries(store.conversation_spans("c-1"))
    assert [f"{1:032x}", f"{2:032x}"] == [t.trace_id for t in turns]
    assert [SONNET_USAGE, Usage(8, 10, 18, 0, 0, 3)] == [t.usage for t in turns]
    assert [3, 4] == [t.span_count for t in turns]


def test_cost_prices_known_models_and_marks_the_rest_partial(store: TraceQuery) -> None:
    """Sonnet and Nova are priced; the unknown model and the model-less call make it partial.
    A conversation without priced usage has no cost, never a guessed one."""
    summaries = _by_id(store)
    sonnet = (150 * 3 + 30 * 15 + 400 * 0.3 + 100 * 3.75) / 1e6
    nova = (7 * 0.06 + 3 * 0.24) / 1e6
    cost = summaries["c-1"].cost(PRICING)
    assert cost is not None
    assert Cost(cost.amount, "USD", True, ("", "unknown.model")) == cost
    assert pytest.approx(sonnet + nova, rel=1e-9) == cost.amount
    turn_1 = turn_summaries(store.conversation_spans("c-1"))[0]
    assert Cost(round(sonnet, 10), "USD") == turn_1.cost(PRICING)
    assert summaries["c-2"].cost(PRICING) is None
    assert summaries["c-1"].cost(None) is None
