"""The snapshot contract (``tests/core/test_snapshot_contract.py``) on DynamoDB Local: one item
per span through conditional writes, and conversation summaries that count a span once, when
it ends, however many snapshots it had."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from core.test_snapshot_contract import (  # noqa: F401 - the contract's cases, run here too
    Store,
    test_a_late_snapshot_never_overwrites_the_end,
    test_a_newer_snapshot_replaces_the_older_one,
    test_an_older_snapshot_arriving_late_never_replaces_a_newer_one,
    test_an_open_span_is_read_only_on_request_with_what_it_would_inherit_now,
    test_emit_snapshot_after_the_end_or_on_a_snapshot_does_nothing,
    test_the_end_replaces_the_snapshot,
)
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
from generative_ai_toolkit.tracer.testing import StepClock
from generative_ai_toolkit.tracer.viewer._live import updates
from services.dynamodb_local import DynamoDbLocal

from .tables import create_table_with_summaries

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration


@pytest.fixture
def summary_table(ddb_client: DynamoDBClient) -> str:
    name = f"Snapshots-{uuid.uuid4().hex[:8]}"
    create_table_with_summaries(ddb_client, name)
    return name


@pytest.fixture
def dynamodb_tracer(ddb_env: DynamoDbLocal, summary_table: str) -> Iterator[DynamoDbTracer]:
    tracer = DynamoDbTracer(
        summary_table,
        conversation_id_gsi_name="conversation_index",
        schedule_delay=0.05,
        clock=StepClock(),
    )
    yield tracer
    tracer.shutdown()


@pytest.fixture
def store(dynamodb_tracer: DynamoDbTracer) -> Store:
    """The contract's store: what the table holds, read with a Scan."""
    tracer = dynamodb_tracer
    return Store(
        tracer, lambda include_open: tracer.get_traces(allow_scan=True, include_open=include_open)
    )


def test_a_conversation_summary_counts_a_span_once_when_it_ends(
    dynamodb_tracer: DynamoDbTracer,
) -> None:
    tracer = dynamodb_tracer
    with tracer.trace("converse") as root:
        root.add_attribute("ai.conversation.id", "c-1", inheritable=True)
        for _ in range(3):
            root.emit_snapshot()
        tracer.flush()
        # A snapshot is activity, as on SQLite: listed at once, when last seen, nothing counted.
        (running,) = tracer.list_conversations()
        (seen,) = tracer.conversation_spans("c-1", include_open=True)
        assert not seen.is_ended
        assert 0 == running.span_count
        assert running.last_ended_at == seen.snapshot_at  # type: ignore[attr-defined]
    tracer.flush()
    (summary,) = tracer.list_conversations()
    assert 1 == summary.span_count
    assert summary.last_ended_at > running.last_ended_at
    assert 0 == tracer.stats["dropped"]


def test_the_viewer_sees_a_running_span_as_soon_as_its_snapshot_is_stored(
    dynamodb_tracer: DynamoDbTracer,
) -> None:
    """The viewer follows a conversation by its summary's mark: a snapshot moves the mark, so
    the next poll brings a new turn's running LLM call before anything in that turn ended."""
    tracer = dynamodb_tracer
    with tracer.trace("converse") as first_turn:
        first_turn.add_attribute("ai.conversation.id", "live-1", inheritable=True)
    tracer.flush()
    before = updates(tracer, "live-1", mark="", since_us=0)["conversation"]
    assert before["mark"]
    with tracer.trace("converse") as root:
        root.add_attribute("ai.conversation.id", "live-1", inheritable=True)
        with tracer.trace("llm-invocation", span_kind="CLIENT") as llm:
            llm.emit_snapshot()
            tracer.flush()
            after = updates(tracer, "live-1", mark=before["mark"], since_us=0)["conversation"]
            assert after["mark"] != before["mark"]
            running = {span["span_id"]: span for span in after["spans"]}
            assert running[llm.span_id]["open"]
