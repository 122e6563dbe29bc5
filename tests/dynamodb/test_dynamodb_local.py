"""DynamoDbTracer against a real DynamoDB Local: isolation, big conversations and values, outages,
setup errors, and the read interface."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from generative_ai_toolkit.tracer import ConversationFilter, TraceQuery
from generative_ai_toolkit.tracer._codec import TRUNCATED_KEYS_ATTRIBUTE
from generative_ai_toolkit.tracer.dynamodb import (
    DynamoDbTraceQuery,
    DynamoDbTracer,
    TableSetupError,
)
from services.dynamodb_local import DynamoDbLocal, create_notebook_table

from .conftest import PATIENT, QUICK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration


@pytest.fixture
def make_tracer(
    ddb_env: DynamoDbLocal, ddb_client: DynamoDBClient
) -> Iterator[Callable[..., DynamoDbTracer]]:
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


def _conversation(tracer: DynamoDbTracer, conversation: Any, auth: str, turns: int = 1) -> None:
    for turn in range(turns):
        with tracer.trace("converse", span_kind="SERVER") as root:
            root.add_attribute("ai.conversation.id", conversation, inheritable=True)
            root.add_attribute("ai.auth.context", auth, inheritable=True)
            root.add_attribute("turn", turn)
            with tracer.trace("tool") as tool:
                tool.add_attribute("ai.trace.type", "tool-invocation")


def test_tenant_isolation(make_tracer: Callable[..., DynamoDbTracer], table: str) -> None:
    """The same conversation id under two auth contexts: each reads back only its own spans."""
    tracer = make_tracer(table, identifier="MyAgent")
    _conversation(tracer, 4242, "alice", turns=2)
    _conversation(tracer, 4242, "bob", turns=1)
    alice = tracer.get_traces(
        attribute_filter={"ai.conversation.id": 4242, "ai.auth.context": "alice"}
    )
    bob = tracer.get_traces(attribute_filter={"ai.conversation.id": 4242, "ai.auth.context": "bob"})
    assert (4, 2) == (len(alice), len(bob))
    assert {"alice"} == {s.attributes["ai.auth.context"] for s in alice}
    assert {"bob"} == {s.attributes["ai.auth.context"] for s in bob}
    assert [] == tracer.get_traces(
        attribute_filter={"ai.conversation.id": 4242, "ai.auth.context": "mallory"}
    )
    assert 2 == len(tracer.conversation_spans("4242", auth_context="bob"))


def test_int_and_text_conversation_ids_stay_apart(
    make_tracer: Callable[..., DynamoDbTracer], table: str
) -> None:
    """Filters match exactly: 7 (int) and "7" (text) share a GSI key but not results."""
    tracer = make_tracer(table)
    _conversation(tracer, 7, "u")
    _conversation(tracer, "7", "u")
    as_int = tracer.get_traces(attribute_filter={"ai.conversation.id": 7})
    as_text = tracer.get_traces(attribute_filter={"ai.conversation.id": "7"})
    assert ({7}, {"7"}) == (
        {s.attributes["ai.conversation.id"] for s in as_int},
        {s.attributes["ai.conversation.id"] for s in as_text},
    )
    assert 4 == len(tracer.conversation_spans("7"))


def test_conversation_id_longer_than_a_key_is_found(
    make_tracer: Callable[..., DynamoDbTracer], table: str
) -> None:
    """A 3 KB conversation id (over DynamoDB's 2 KB key limit) is stored, found, and kept whole."""
    tracer = make_tracer(table)
    long_id = "c" * 3000
    _conversation(tracer, long_id, "u")
    spans = tracer.get_traces(attribute_filter={"ai.conversation.id": long_id})
    assert [long_id, long_id] == [s.attributes["ai.conversation.id"] for s in spans]
    assert 0 == tracer.stats["dropped"]


def test_conversation_over_one_megabyte_reads_back_whole(
    make_tracer: Callable[..., DynamoDbTracer], table: str
) -> None:
    """A conversation of 1.5 MB spans several GSI query pages and comes back whole, in order."""
    tracer = make_tracer(table)
    payload = "p" * 30_000
    with tracer.trace("converse") as root:
        root.add_attribute("ai.conversation.id", "big", inheritable=True)
        for i in range(50):
            with tracer.trace(f"step-{i:02d}") as span:
                span.add_attribute("payload", payload)
    spans = tracer.get_traces(attribute_filter={"ai.conversation.id": "big"})
    assert ["converse"] + [f"step-{i:02d}" for i in range(50)] == [s.span_name for s in spans]
    assert all(s.attributes.get("payload") == payload for s in spans[1:])
    assert 51 == len(tracer.get_traces(trace_id=root.trace_id))


def test_600_kb_attribute_is_stored_truncated(
    make_tracer: Callable[..., DynamoDbTracer], table: str
) -> None:
    """A 600 KB value is stored cut down to fit 400 KB, marked, and the span is not dropped."""
    tracer = make_tracer(table)
    with tracer.trace("llm") as span:
        span.add_attribute("ai.llm.response.output", "z" * 600_000)
        span.add_attribute("tokens", 123)
    (back,) = tracer.get_traces(trace_id=span.trace_id)
    assert ["ai.llm.response.output"] == back.attributes[TRUNCATED_KEYS_ATTRIBUTE]
    assert back.attributes["ai.llm.response.output"].startswith("z" * 1000)
    assert 123 == back.attributes["tokens"]
    assert 0 == tracer.stats["dropped"]


def test_reads_sorted_by_start_and_trace_tree(
    make_tracer: Callable[..., DynamoDbTracer], table: str
) -> None:
    """get_traces(trace_id) comes back by start time; trace_tree nests children."""
    tracer = make_tracer(table, identifier="A")
    with tracer.trace("root") as root, tracer.trace("a"), tracer.trace("a1"):
        pass
    with tracer.trace("b", parent=root):
        pass
    # ended order is a1, a, b, root; start order root, a, a1, b (root is still open for b)
    spans = tracer.get_traces(trace_id=root.trace_id)
    assert ["root", "a", "a1", "b"] == [s.span_name for s in spans]
    (tree,) = tracer.trace_tree(root.trace_id)
    assert [("root", 0), ("a", 1), ("a1", 2), ("b", 1)] == [
        (n.span.span_name, n.depth) for n in tree.walk()
    ]


def test_list_conversations(make_tracer: Callable[..., DynamoDbTracer], table: str) -> None:
    """Conversations are listed with counts; the auth-context filter is applied."""
    tracer = make_tracer(table)
    _conversation(tracer, "c-1", "alice", turns=3)
    _conversation(tracer, "c-2", "bob", turns=1)
    summaries = tracer.list_conversations()
    assert [("c-2", 2, 1), ("c-1", 6, 3)] == [
        (s.conversation_id, s.span_count, s.trace_count) for s in summaries
    ]
    only_alice = tracer.list_conversations(ConversationFilter(auth_context="alice"))
    assert ["c-1"] == [s.conversation_id for s in only_alice]


def test_read_only_query_object(
    make_tracer: Callable[..., DynamoDbTracer], table: str, ddb_client: DynamoDBClient
) -> None:
    """DynamoDbTraceQuery reads a table without a tracer (for the CLI); it is a TraceQuery."""
    tracer = make_tracer(table)
    _conversation(tracer, "c-9", "u")
    assert tracer.flush(10)
    query = DynamoDbTraceQuery(ddb_client, table, conversation_id_gsi_name="conversation_index")
    assert isinstance(query, TraceQuery)
    assert 2 == len(query.conversation_spans("c-9"))
    assert 2 == len(query.get_traces(allow_scan=True))  # no key: a Scan of the table


def test_expire_at_is_written(
    make_tracer: Callable[..., DynamoDbTracer], table: str, ddb_client: DynamoDBClient
) -> None:
    """With expire_after, each item carries expire_at in epoch seconds."""
    tracer = make_tracer(table, expire_after=86_400)
    with tracer.trace("span") as span:
        pass
    assert tracer.flush(10)
    (item,) = ddb_client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TRACE#{span.trace_id}"}},
    )["Items"]
    assert abs(int(item["expire_at"]["N"]) - (time.time() + 86_400)) < 60


def test_missing_table_is_a_clear_error(ddb_env: DynamoDbLocal) -> None:
    """A table that does not exist fails at construction, naming the table and its layout."""
    with pytest.raises(TableSetupError, match=r"'NoSuchTable' does not exist.*'pk'"):
        DynamoDbTracer("NoSuchTable")


def test_missing_index_is_a_clear_error(ddb_env: DynamoDbLocal, table: str) -> None:
    """A GSI name the table does not have fails at construction, listing the ones it has."""
    with pytest.raises(TableSetupError, match="no global secondary index 'by_conversation'"):
        DynamoDbTracer(table, conversation_id_gsi_name="by_conversation")


def test_table_without_index_is_a_clear_error(
    ddb_env: DynamoDbLocal, ddb_client: DynamoDBClient
) -> None:
    """A table created without any GSI fails when a GSI name is given; works without one."""
    name = f"NoIndex-{uuid.uuid4().hex[:8]}"
    ddb_client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(TableSetupError, match="has no global secondary index"):
        DynamoDbTracer(name, conversation_id_gsi_name="conversation_index")
    tracer = DynamoDbTracer(name)
    with tracer.trace("span") as span:
        span.add_attribute("ai.conversation.id", 1)
    assert 1 == len(tracer.get_traces(trace_id=span.trace_id))
    assert ["1"] == [s.conversation_id for s in tracer.list_conversations()]  # table Scan
    tracer.shutdown()


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_paused_server_gets_every_span_once_back(dynamodb_local: DynamoDbLocal) -> None:
    """DynamoDB Local frozen (SIGSTOP) mid-run: writes time out and are retried; once it is back,
    every span is written, and the traced code never waited or saw an error."""
    server = dynamodb_local
    client, patient = server.client(QUICK), server.client(PATIENT)
    table = f"Outage-{uuid.uuid4().hex[:8]}"
    create_notebook_table(patient, table_name=table)
    reader = DynamoDbTraceQuery(patient, table)
    tracer = DynamoDbTracer(table, client=client, schedule_delay=0.05, max_retry_delay=0.5)
    with tracer.trace("before") as before:
        pass
    assert tracer.flush(10)
    server.pause()
    try:
        started = time.monotonic()
        trace_ids = []
        for i in range(200):
            with tracer.trace(f"during-{i}") as span:
                trace_ids.append(span.trace_id)
        assert time.monotonic() - started < 5  # the agent's thread never waits on I/O
        _wait_for(lambda: tracer.stats["retried"] >= 1)
    finally:
        server.resume()
    assert tracer.flush(30)
    assert {"written": 201, "dropped": 0} == {k: tracer.stats[k] for k in ("written", "dropped")}
    assert 1 == len(reader.get_traces(trace_id=before.trace_id))
    assert all(len(reader.get_traces(trace_id=t)) == 1 for t in trace_ids[::20])
    tracer.shutdown()
    client.close()
    patient.close()


def test_stopped_server_gets_every_span_once_restarted(dynamodb_local: DynamoDbLocal) -> None:
    """DynamoDB Local stopped mid-run (connections refused) and started again: the spans queued
    meanwhile (within the queue bound) are all written once it is back."""
    server = dynamodb_local
    client, patient = server.client(QUICK), server.client(PATIENT)
    table = f"Outage-{uuid.uuid4().hex[:8]}"
    create_notebook_table(patient, table_name=table)
    reader = DynamoDbTraceQuery(patient, table)
    tracer = DynamoDbTracer(table, client=client, schedule_delay=0.05, max_retry_delay=0.5)
    server.stop()
    trace_ids = []
    for i in range(100):
        with tracer.trace(f"during-{i}") as span:
            trace_ids.append(span.trace_id)
    _wait_for(lambda: tracer.stats["retried"] >= 2)
    server.start()  # same port; in memory, so every table is gone: make it again
    create_notebook_table(patient, table_name=table)
    assert tracer.flush(30)
    assert {"written": 100, "dropped": 0} == {k: tracer.stats[k] for k in ("written", "dropped")}
    found = sum(len(reader.get_traces(trace_id=t)) for t in trace_ids)
    assert 100 == found
    tracer.shutdown()
    client.close()
    patient.close()


def test_queue_bound_drops_are_counted_while_down(
    dynamodb_local: DynamoDbLocal, caplog: pytest.LogCaptureFixture
) -> None:
    """With the server down, spans past the queue bound are dropped, counted and logged; the
    rest are written once it is back."""
    server = dynamodb_local
    client, patient = server.client(QUICK), server.client(PATIENT)
    table = f"Outage-{uuid.uuid4().hex[:8]}"
    create_notebook_table(patient, table_name=table)
    tracer = DynamoDbTracer(
        table,
        client=client,
        schedule_delay=0.05,
        max_retry_delay=0.5,
        max_queue_size=50,
        max_batch_size=10,
    )
    server.stop()
    for i in range(80):
        with tracer.trace(f"during-{i}"):
            pass
    _wait_for(lambda: tracer.stats["retried"] >= 1)
    server.start()
    create_notebook_table(patient, table_name=table)
    assert tracer.flush(30)
    stats = tracer.stats
    assert 80 == stats["written"] + stats["dropped"]
    assert stats["dropped"] >= 20
    assert "export queue of 50 is full" in caplog.text
    tracer.shutdown()
    client.close()
    patient.close()


AT_EXIT_SCRIPT = """
import sys
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer

tracer = DynamoDbTracer(sys.argv[1], schedule_delay=60)
for i in range(120):
    with tracer.trace(f"span-{i}") as span:
        span.add_attribute("ai.conversation.id", "at-exit")
"""


def test_spans_are_written_at_interpreter_exit(
    ddb_env: DynamoDbLocal, ddb_client: DynamoDBClient, table: str
) -> None:
    """A program that ends without flush() still writes every span (flushed at exit)."""
    result = subprocess.run(
        [sys.executable, "-c", AT_EXIT_SCRIPT, table],
        check=True,
        timeout=120,
        env=os.environ,
        capture_output=True,
        text=True,
    )
    assert "" == result.stderr  # no drop, no retry warning
    query = DynamoDbTraceQuery(ddb_client, table, conversation_id_gsi_name="conversation_index")
    assert 120 == len(query.conversation_spans("at-exit"))
