"""Summary updates under faults: throttling retried, other failures counted and logged once per
cause, the spans themselves always written, nothing raised into the traced code."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, cast

import pytest

from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer

from .conftest import FakeDynamoDb, client_error

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class FakeWithSummaries(FakeDynamoDb):
    """Stores spans; answers ``UpdateItem`` by raising ``errors`` in turn, then succeeding."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__()
        self.errors = errors
        self.updates = 0
        self._update_lock = threading.Lock()

    def update_item(self, **params: Any) -> dict[str, Any]:
        with self._update_lock:
            self.updates += 1
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise client_error(error, "UpdateItem")
        return {"Attributes": {"first_ns": {"N": "1"}, "last_ns": {"N": "2"}}}


def _tracer(fake: FakeDynamoDb) -> DynamoDbTracer:
    return DynamoDbTracer(
        "Traces", client=cast("DynamoDBClient", fake), verify_table=False, schedule_delay=0.01
    )


def _turns(tracer: DynamoDbTracer, conversations: int) -> None:
    for n in range(conversations):
        with tracer.trace("converse") as span:
            span.add_attribute("ai.conversation.id", f"c-{n}")


def test_throttled_summary_updates_are_retried() -> None:
    """Two throttling answers, then success: the summary is updated, no error counted."""
    fake = FakeWithSummaries(["ProvisionedThroughputExceededException", "ThrottlingException"])
    tracer = _tracer(fake)
    _turns(tracer, 1)
    assert tracer.flush(10)
    assert (1, 0) == (len(fake.items), tracer.stats["summary_errors"])
    assert 5 == fake.updates  # 2 refused, the summary, META's days and longest conversation
    tracer.shutdown()


def test_failed_summary_updates_are_counted_and_logged_once_per_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Summaries refused for good: every span is still written; the failures are counted
    and each kind of failure is logged once."""
    fake = FakeWithSummaries(["ValidationException"] * 3 + ["AccessDeniedException"] * 10)
    tracer = _tracer(fake)
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        for _ in range(3):
            _turns(tracer, 2)
            assert tracer.flush(10)
    assert 6 == len(fake.items)
    assert 0 == tracer.stats["dropped"]
    assert tracer.stats["summary_errors"] >= 4
    summary_logs = [
        r.getMessage() for r in caplog.records if "conversation summary" in r.getMessage()
    ]
    assert 2 == len(summary_logs)
    assert any("ValidationException" in m for m in summary_logs)
    assert any("AccessDeniedException" in m for m in summary_logs)
    tracer.shutdown()
