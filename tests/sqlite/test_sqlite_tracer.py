"""SqliteTracer: storing, reading back through TraceQuery, and agreeing with InMemoryTracer."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generative_ai_toolkit.tracer import (
    BaseTracer,
    ConversationFilter,
    InMemoryTracer,
    SpanListQuery,
    SqliteTracer,
    Trace,
    TraceQuery,
)
from generative_ai_toolkit.tracer._codec import MAX_DEPTH, TRUNCATED_KEYS_ATTRIBUTE
from generative_ai_toolkit.tracer.sqlite._schema import SCHEMA_VERSION

from .samples import BASE_NS, sample_spans


def _store(tracer: BaseTracer, spans: list[Trace]) -> None:
    for s in spans:
        tracer._emit(s)


def _fields(spans: Any) -> list[tuple[Any, ...]]:
    return [
        (
            s.span_name,
            s.span_kind,
            s.trace_id,
            s.span_id,
            s.parent_span_id,
            s.started_at,
            s.ended_at,
            s.attributes,
            s.inherited_attribute_keys,
            s.span_status,
            s.resource_attributes,
            s.scope,
        )
        for s in spans
    ]


def test_notebook_flow_reads_back_spans_by_conversation_id(tracer: SqliteTracer) -> None:
    """The notebook's parent/child with an int conversation id comes back in start order."""
    tracer.set_context(resource_attributes={"service.name": "MyAgent"})
    with tracer.trace("parent", span_kind="SERVER") as parent:
        parent.add_attribute("ai.conversation.id", 488044, inheritable=True)
        parent.add_attribute("ai.auth.context", "user123", inheritable=True)
        with tracer.trace("child") as child:
            child.add_attribute("ai.trace.type", "tool-invocation")
            child.add_attribute("ai.tool.input", "Hello, world!")
    traces = tracer.get_traces(attribute_filter={"ai.conversation.id": 488044})
    assert [t.span_name for t in traces] == ["parent", "child"]
    assert traces[1].attributes == {
        "ai.trace.type": "tool-invocation",
        "ai.tool.input": "Hello, world!",
        "ai.conversation.id": 488044,
        "ai.auth.context": "user123",
    }
    assert traces[1].inherited_attribute_keys == ("ai.conversation.id", "ai.auth.context")
    assert traces[1].resource_attributes == {"service.name": "MyAgent"}


FILTERS: list[dict[str, Any]] = [
    {},
    {"ai.conversation.id": "c-1"},
    {"ai.conversation.id": 488044},
    {"ai.conversation.id": "488044"},
    {"ai.auth.context": "alice"},
    {"ai.auth.context": "alice", "ai.conversation.id": "c-3"},
    {"ai.trace.type": "tool-invocation"},
    {"ai.tool.input": {"q": "x"}},
    {"flag": True},
    {"flag": 1},
    {"n": 1},
    {"n": True},
    {"n": 1.0},
    {"missing": None},
    {"ai.tool.error": "boom", "ai.auth.context": "bob"},
]


@pytest.mark.parametrize("attribute_filter", FILTERS)
def test_get_traces_agrees_with_in_memory_tracer(
    tracer: SqliteTracer, attribute_filter: dict[str, Any]
) -> None:
    """Every filter returns exactly what InMemoryTracer returns (exact type matching)."""
    memory = InMemoryTracer()
    spans = sample_spans()
    _store(tracer, spans)
    _store(memory, spans)
    expected = _fields(memory.get_traces(attribute_filter=attribute_filter))
    assert expected == _fields(tracer.get_traces(attribute_filter=attribute_filter))


def test_get_traces_by_trace_id(tracer: SqliteTracer) -> None:
    """A trace id selects that trace's spans, parents first."""
    _store(tracer, sample_spans())
    traces = tracer.get_traces(trace_id=f"{2:032x}")
    assert [t.span_name for t in traces] == ["converse", "llm", "tool"]
    assert tracer.get_traces(trace_id=f"{9:032x}") == []
    with pytest.raises(ValueError, match="hex"):
        tracer.get_traces(trace_id="not-hex")


def test_read_interface_agrees_with_span_list_query(tracer: SqliteTracer) -> None:
    """list_conversations, conversation_spans and trace_tree match the reference implementation."""
    spans = sample_spans()
    _store(tracer, spans)
    reference: TraceQuery = SpanListQuery(spans)
    assert isinstance(tracer, TraceQuery)
    wheres = [
        None,
        ConversationFilter(auth_context="alice"),
        ConversationFilter(errors_only=True),
        ConversationFilter(search="c-"),
        ConversationFilter(search="C-3"),
        ConversationFilter(auth_search="LIC"),
        ConversationFilter(auth_context="Alice"),
        ConversationFilter(since=datetime.fromtimestamp(BASE_NS / 1e9 + 0.25, UTC)),
        ConversationFilter(until=datetime.fromtimestamp(BASE_NS / 1e9 + 0.15, UTC)),
    ]
    for where in wheres:
        assert reference.list_conversations(where) == tracer.list_conversations(where), where
    assert reference.list_conversations(limit=1, offset=1) == tracer.list_conversations(
        limit=1, offset=1
    )
    for cid in ("c-1", "488044", "c-3", "nope"):
        assert _fields(reference.conversation_spans(cid)) == _fields(tracer.conversation_spans(cid))
    assert _fields(reference.conversation_spans("c-1", auth_context="bob")) == _fields(
        tracer.conversation_spans("c-1", auth_context="bob")
    )
    expected_tree = [
        [(n.span.span_id, n.depth) for n in root.walk()]
        for root in reference.trace_tree(f"{3:032x}")
    ]
    actual_tree = [
        [(n.span.span_id, n.depth) for n in root.walk()] for root in tracer.trace_tree(f"{3:032x}")
    ]
    assert expected_tree == actual_tree


def test_get_traces_sees_spans_without_an_explicit_flush(db_path: Path) -> None:
    """get_traces flushes first: a span ended just before is returned."""
    tracer = SqliteTracer(db_path, schedule_delay=30.0)
    try:
        with tracer.trace("just-ended"):
            pass
        assert [t.span_name for t in tracer.get_traces()] == ["just-ended"]
    finally:
        tracer.shutdown()


class Custom:
    def __str__(self) -> str:
        return "custom!"


VALUES: list[Any] = [
    "2025-04-15 20:24:45",  # a string that looks like a date stays a string
    488044,
    2**70,
    -1.5,
    True,
    None,
    [1, "two", [3.0]],
    (1, 2),
    {"nested": {"a": [1, 2]}},
    {1: "int key"},
    b"\x00\xff bytes",
    {1, 2, 3},
    frozenset({"x"}),
    datetime(2025, 4, 15, 20, 24, 45, 123456, tzinfo=UTC),
    date(2025, 4, 15),
    "ünïcödé ✓ 🚀",
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_attribute_values_round_trip_with_their_types(tracer: SqliteTracer, value: Any) -> None:
    """What goes in comes back equal and of the same type."""
    with tracer.trace("typed") as span:
        span.add_attribute("value", value)
    [stored] = tracer.get_traces()
    assert type(value) is type(stored.attributes["value"])
    assert value == stored.attributes["value"]


def test_special_floats_and_unknown_objects_round_trip_as_far_as_possible(
    tracer: SqliteTracer,
) -> None:
    """NaN and infinities come back as floats; an unknown object as its text."""
    with tracer.trace("odd") as span:
        span.add_attribute("nan", math.nan)
        span.add_attribute("inf", -math.inf)
        span.add_attribute("obj", Custom())
    [stored] = tracer.get_traces()
    assert math.isnan(stored.attributes["nan"])
    assert -math.inf == stored.attributes["inf"]
    assert stored.attributes["obj"] == "custom!"


def test_filters_on_keys_needing_quotes_are_bound_not_spliced(tracer: SqliteTracer) -> None:
    """Keys and values with quotes, dots and SQL in them filter correctly."""
    nasty = "x'); DROP TABLE spans; --"
    with tracer.trace("a") as span:
        span.add_attribute('we"ird.key', nasty)
        span.add_attribute("it's", nasty)
    with tracer.trace("b"):
        pass
    assert [t.span_name for t in tracer.get_traces(attribute_filter={'we"ird.key': nasty})] == ["a"]
    assert [t.span_name for t in tracer.get_traces(attribute_filter={"it's": nasty})] == ["a"]
    assert len(tracer.get_traces()) == 2


def test_oversize_span_is_stored_cut_down_not_dropped(db_path: Path) -> None:
    """A span over max_span_bytes keeps its small values and marks the cut ones."""
    tracer = SqliteTracer(db_path, max_span_bytes=10_000, schedule_delay=0.01)
    try:
        with tracer.trace("big") as span:
            span.add_attribute("ai.conversation.id", "c-big", inheritable=True)
            span.add_attribute("huge", "x" * 200_000)
            span.add_attribute("small", 42)
        [stored] = tracer.get_traces(attribute_filter={"ai.conversation.id": "c-big"})
        assert stored.attributes[TRUNCATED_KEYS_ATTRIBUTE] == ["huge"]
        assert stored.attributes["small"] == 42
        assert len(stored.attributes["huge"]) < 10_000
        assert tracer.stats["truncated"] == 1
        assert tracer.stats["dropped"] == 0
    finally:
        tracer.shutdown()


def test_the_same_span_stored_twice_counts_once(tracer: SqliteTracer) -> None:
    """Spans are unique by (trace id, span id): re-importing changes nothing."""
    spans = sample_spans()
    _store(tracer, spans)
    tracer.flush()
    _store(tracer, spans)
    assert len(spans) == len(tracer.get_traces())
    assert SpanListQuery(spans).list_conversations() == tracer.list_conversations()


def test_two_tracers_on_one_file_see_each_others_spans(db_path: Path) -> None:
    """Readers open their own connection, so another tracer's writes are visible."""
    first = SqliteTracer(db_path, schedule_delay=0.01)
    second = SqliteTracer(db_path, schedule_delay=0.01)
    try:
        with first.trace("from-first"):
            pass
        first.flush()
        assert [t.span_name for t in second.get_traces()] == ["from-first"]
    finally:
        first.shutdown()
        second.shutdown()


def test_schema_is_versioned_and_in_wal_mode(tracer: SqliteTracer, db_path: Path) -> None:
    """A new file gets the current schema version, WAL journaling and incremental vacuum."""
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # 2 = incremental
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {
            "spans_by_trace",
            "spans_by_conversation",
            "spans_by_auth_context",
            "spans_by_start",
        } <= indexes
    finally:
        conn.close()


def test_bad_options_fail_at_construction(db_path: Path) -> None:
    """Misconfiguration is a ValueError when the tracer is made."""
    with pytest.raises(ValueError, match="max_spans"):
        SqliteTracer(db_path, max_spans=0)
    with pytest.raises(ValueError, match="max_age"):
        SqliteTracer(db_path, max_age=-1)
    with pytest.raises(ValueError, match="max_span_bytes"):
        SqliteTracer(db_path, max_span_bytes=10)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "attrs",
    [
        {"a": "x", "b": 1, "c": 1.5, "d": True, "e": None},
        {"nan": math.nan},
        {"t": (1,)},
        {},
        {"args": {"city": "Paris", "days": [1, 2.5, None, {"x": True}]}, "n": 3},
        {"nested_tuple": [{"t": (1, 2)}]},
        {"int_keys": {1: "one"}},
        {"tag_key": {"$t": "float", "v": "NaN"}},
        {"nested_nan": [1.0, math.inf]},
        {"set": [{1}]},
        {"deep": _nested(MAX_DEPTH - 1)},
        {"too_deep": _nested(MAX_DEPTH + 5)},
    ],
)
def test_fast_encoding_writes_the_same_text_as_the_codec(attrs: dict[str, Any]) -> None:
    """The codec's shortcut for plain values yields exactly the tagged encoding's text."""
    from generative_ai_toolkit.tracer._codec import encode_attributes, to_tagged  # noqa: PLC0415

    tagged = {key: to_tagged(value) for key, value in attrs.items()}
    expected = json.dumps(tagged, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert expected == encode_attributes(attrs)


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(st.text(max_size=3) | st.integers() | st.just("$t"), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _json_like, max_size=4))
def test_fast_encoding_of_nested_values_writes_the_same_text_as_the_codec(
    attrs: dict[str, Any],
) -> None:
    """Lists and dicts take the C encoder only when that gives exactly the tagged text."""
    test_fast_encoding_writes_the_same_text_as_the_codec(attrs)
