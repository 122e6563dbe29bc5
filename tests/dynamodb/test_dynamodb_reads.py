"""What reads cost: no table Scan unless asked for, and every read's consumed capacity reported."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from generative_ai_toolkit.tracer.cli import _sources, main
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTraceQuery, DynamoDbTracer
from services.dynamodb_local import DynamoDbLocal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration


@pytest.fixture
def tracer(ddb_env: DynamoDbLocal, table: str) -> Iterator[DynamoDbTracer]:
    tracer = DynamoDbTracer(
        table, conversation_id_gsi_name="conversation_index", schedule_delay=0.05
    )
    with tracer.trace("converse") as span:
        span.add_attribute("ai.conversation.id", "c-1", inheritable=True)
        with tracer.trace("llm"):
            pass
    yield tracer
    tracer.shutdown()


def test_get_traces_without_keys_refuses_to_scan(tracer: DynamoDbTracer) -> None:
    """get_traces() with neither trace id nor conversation id raises, naming allow_scan=True."""
    with pytest.raises(ValueError, match=r"Scan the whole DynamoDB table.*allow_scan=True"):
        tracer.get_traces()
    with pytest.raises(ValueError, match="allow_scan=True"):
        tracer.get_traces(attribute_filter={"ai.auth.context": "alice"})
    assert 2 == len(tracer.get_traces(allow_scan=True))


def test_read_only_query_refuses_to_scan_too(
    tracer: DynamoDbTracer, ddb_client: DynamoDBClient, table: str
) -> None:
    """DynamoDbTraceQuery (the CLI's reader) refuses the same way; keyed reads work."""
    assert tracer.flush(10)
    query = DynamoDbTraceQuery(ddb_client, table, conversation_id_gsi_name="conversation_index")
    with pytest.raises(ValueError, match="allow_scan=True"):
        query.get_traces()
    assert 2 == len(query.get_traces(attribute_filter={"ai.conversation.id": "c-1"}))
    assert 2 == len(query.get_traces(allow_scan=True))


def test_cli_export_never_scans_unasked(
    tracer: DynamoDbTracer,
    table: str,
    ddb_client: DynamoDBClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`gat-traces export --dynamodb T` refuses without --conversation, --trace-id or --scan."""
    assert tracer.flush(10)
    reader = DynamoDbTraceQuery(ddb_client, table, conversation_id_gsi_name="conversation_index")
    monkeypatch.setattr(_sources, "open_dynamodb", lambda *_: reader)  # no second client
    assert 1 == main(["export", "--dynamodb", table])
    assert "--scan" in capsys.readouterr().err
    assert 0 == main(["export", "--dynamodb", table, "--scan"])
    assert 2 == len(capsys.readouterr().out.splitlines())


def test_reads_log_and_count_consumed_capacity(
    tracer: DynamoDbTracer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each read logs its consumed capacity at DEBUG; stats count read and write units."""
    assert tracer.flush(10)
    assert tracer.stats["write_capacity"] >= 2  # two spans, each also written to the GSI
    assert 0 == tracer.stats["read_capacity"]
    with caplog.at_level(logging.DEBUG, logger="generative_ai_toolkit.tracer"):
        tracer.conversation_spans("c-1")
    assert any(
        "DynamoDB Query" in r.getMessage() and "capacity unit" in r.getMessage()
        for r in caplog.records
    )
    assert tracer.capacity.read > 0
    assert tracer.stats["read_capacity"] >= 1
