"""Writing to DynamoDB under faults: batches of 25, UnprocessedItems and throttling retried until
written, a poison span isolated and logged, nothing raised into the traced code."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from generative_ai_toolkit.tracer import InMemoryTracer, Trace
from generative_ai_toolkit.tracer._export import BackgroundExporter
from generative_ai_toolkit.tracer._writer import RetryableError
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer, TableSetupError
from generative_ai_toolkit.tracer.dynamodb._item import read_header, span_to_item
from generative_ai_toolkit.tracer.dynamodb._writer import DynamoDbWriter

from .conftest import FakeDynamoDb, client_error

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _tracer(fake: FakeDynamoDb, **options: Any) -> DynamoDbTracer:
    return DynamoDbTracer(
        "Traces",
        client=cast("DynamoDBClient", fake),
        verify_table=False,
        schedule_delay=0.01,
        max_retry_delay=0.05,
        **options,
    )


def _emit(tracer: DynamoDbTracer, count: int, name: str = "span") -> None:
    for i in range(count):
        with tracer.trace(name) as span:
            span.add_attribute("i", i)


def _stubbed_client() -> DynamoDBClient:
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    return session.client("dynamodb", endpoint_url="http://127.0.0.1:9")


def _spans(count: int) -> list[Trace]:
    tracer = InMemoryTracer()
    for i in range(count):
        with tracer.trace(f"span-{i}") as span:
            span.add_attribute("ai.conversation.id", 726828)
    return list(tracer.get_traces())


def test_batches_hold_at_most_25_items() -> None:
    """120 spans go out in BatchWriteItem requests of at most 25 items, all stored."""
    fake = FakeDynamoDb()
    tracer = _tracer(fake)
    _emit(tracer, 120)
    assert tracer.flush(10)
    assert 120 == len(fake.items)
    assert max(fake.request_sizes) <= 25
    assert {"written": 120, "dropped": 0} == {k: tracer.stats[k] for k in ("written", "dropped")}


def test_unprocessed_items_are_resubmitted_by_the_writer_until_written() -> None:
    """Items handed back as UnprocessedItems are sent again at once, within the same write: the
    engine never has to back off for them."""

    def half_unprocessed(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return items[: len(items) // 2 + 1] if call <= 4 else []

    fake = FakeDynamoDb(half_unprocessed)
    tracer = _tracer(fake, max_concurrency=1)
    _emit(tracer, 30)
    assert tracer.flush(10)
    assert 30 == len(fake.items)
    assert {"written": 30, "retried": 0, "dropped": 0} == {
        k: tracer.stats[k] for k in ("written", "retried", "dropped")
    }


def test_half_of_every_request_unprocessed_still_writes_everything_promptly() -> None:
    """The table hands back half of every request (the fault that cut throughput to ~33
    spans/s): each chunk is resubmitted until empty, nothing waits for the engine's backoff."""

    def half_of_each(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return items[: len(items) // 2]

    fake = FakeDynamoDb(half_of_each)
    tracer = DynamoDbTracer(
        "Traces", client=cast("DynamoDBClient", fake), verify_table=False, schedule_delay=0.01
    )
    _emit(tracer, 2000)
    assert tracer.flush(60)
    assert 2000 == len(fake.items)
    assert {"written": 2000, "retried": 0, "dropped": 0} == {
        k: tracer.stats[k] for k in ("written", "retried", "dropped")
    }


def test_resubmitting_waits_longer_only_while_the_table_takes_nothing() -> None:
    """While DynamoDB takes part of each request the rest goes again after the shortest pause;
    rounds in which it takes nothing double the pause."""
    spans = _spans(4)
    answers = iter([[0, 1, 2], [0, 1, 2], [0, 1, 2], [0], []])  # unprocessed, by position

    def script(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [items[i] for i in next(answers)]

    sleeps: list[float] = []
    fake = FakeDynamoDb(script)
    writer = DynamoDbWriter(
        cast("DynamoDBClient", fake), "Traces", encode=span_to_item, sleep=sleeps.append
    )
    writer.write(spans)
    assert [0.01, 0.02, 0.04, 0.01] == sleeps
    assert 4 == len(fake.items)
    writer.close()


def test_a_table_that_keeps_refusing_hands_the_spans_back_to_the_engine() -> None:
    """After a few rounds without progress the writer stops and names the spans left."""
    sleeps: list[float] = []
    fake = FakeDynamoDb(lambda call, items: items)
    writer = DynamoDbWriter(
        cast("DynamoDBClient", fake), "Traces", encode=span_to_item, sleep=sleeps.append
    )
    spans = _spans(3)
    with pytest.raises(RetryableError, match="after 8 rounds") as raised:
        writer.write(spans)
    assert spans == list(raised.value.remaining or [])
    assert [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5] == sleeps
    writer.close()


@pytest.mark.parametrize(
    "error",
    [
        client_error("ProvisionedThroughputExceededException"),
        client_error("ThrottlingException"),
        client_error("InternalServerError", status=500),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    ],
    ids=["provisioned-throughput", "throttling", "500", "connection-refused"],
)
def test_retryable_errors_are_retried_until_written(error: Exception) -> None:
    """Throttling, 5xx and refused connections are retried with backoff; nothing is lost."""

    def fail_three_times(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if call <= 3:
            raise error
        return []

    fake = FakeDynamoDb(fail_three_times)
    tracer = _tracer(fake, max_concurrency=1)
    _emit(tracer, 10)
    assert tracer.flush(10)
    assert 10 == len(fake.items)
    assert 3 == tracer.stats["retried"]
    assert 0 == tracer.stats["dropped"]


def test_stubbed_unprocessed_items_and_throttling() -> None:
    """With botocore's Stubber (requests validated against the real API model): a throttled
    request and UnprocessedItems are retried until every span is written."""
    client = _stubbed_client()
    spans = _spans(3)
    items = [span_to_item(span, identifier="MyAgent") for span in spans]
    requests = [{"PutRequest": {"Item": item}} for item in items]
    stubber = Stubber(client)
    stubber.add_client_error(
        "batch_write_item",
        service_error_code="ProvisionedThroughputExceededException",
        http_status_code=400,
        expected_params={"RequestItems": {"Traces": requests}},
    )
    stubber.add_response(
        "batch_write_item",
        {"UnprocessedItems": {"Traces": [requests[1]]}},
        {"RequestItems": {"Traces": requests}},
    )
    stubber.add_response(
        "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {"Traces": [requests[1]]}}
    )
    writer = DynamoDbWriter(
        client, "Traces", encode=lambda s: span_to_item(s, identifier="MyAgent")
    )
    exporter = BackgroundExporter(writer, name="stubbed", schedule_delay=0.01)
    with stubber:
        for span in spans:
            exporter.submit(span)
        assert exporter.flush(10)
        stubber.assert_no_pending_responses()
    assert {"written": 3, "retried": 1, "dropped": 0} == {
        k: exporter.stats[k] for k in ("written", "retried", "dropped")
    }
    exporter.shutdown()


def test_writer_names_the_spans_left() -> None:
    """UnprocessedItems still left after the writer's rounds come back to the engine as
    RetryableError.remaining, exactly those spans."""
    spans = _spans(30)
    unprocessed_name = spans[27].span_name

    def one_unprocessed(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if read_header(i)["name"] == unprocessed_name]

    writer = DynamoDbWriter(
        cast("DynamoDBClient", FakeDynamoDb(one_unprocessed)),
        "Traces",
        encode=span_to_item,
        sleep=lambda seconds: None,
    )
    with pytest.raises(RetryableError) as raised:
        writer.write(spans)
    assert [spans[27]] == list(raised.value.remaining or [])
    writer.close()


def test_poison_span_is_isolated_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A span DynamoDB always rejects is dropped alone, logged; its neighbours are written."""

    def reject_poison(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(read_header(i)["name"] == "poison" for i in items):
            raise client_error("ValidationException")
        return []

    fake = FakeDynamoDb(reject_poison)
    tracer = _tracer(fake)
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        _emit(tracer, 10)
        _emit(tracer, 1, name="poison")
        _emit(tracer, 10)
        assert tracer.flush(10)
    assert 20 == len(fake.items)
    assert {"written": 20, "dropped": 1} == {k: tracer.stats[k] for k in ("written", "dropped")}
    assert "failed for good: span 'poison'" in caplog.text


def test_nothing_is_raised_into_the_traced_code(caplog: pytest.LogCaptureFixture) -> None:
    """A client that always fails costs the agent nothing: spans are dropped, counted, logged."""

    def broken(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise RuntimeError("storage exploded")

    tracer = _tracer(broken_fake := FakeDynamoDb(broken))
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        _emit(tracer, 5)
        assert tracer.flush(10)
        tracer.shutdown()
    assert 0 == len(broken_fake.items)
    assert 5 == tracer.stats["dropped"]
    assert 0 == tracer.stats["persist_errors"]
    assert "storage exploded" in caplog.text


def test_expire_after_sets_expire_at() -> None:
    """expire_after seconds after a span ends, its item may be deleted by DynamoDB's TTL."""
    fake = FakeDynamoDb()
    tracer = _tracer(fake, expire_after=3600)
    with tracer.trace("span") as span:
        pass
    assert tracer.flush(10)
    (item,) = fake.items.values()
    assert int((span.end_time_ns or 0) / 1e9 + 3600) == int(item["expire_at"]["N"])


def test_conversation_lookup_without_index_is_refused() -> None:
    """Without conversation_id_gsi_name, a conversation lookup raises instead of scanning."""
    tracer = _tracer(FakeDynamoDb())
    with pytest.raises(ValueError, match="conversation_id_gsi_name"):
        tracer.get_traces(attribute_filter={"ai.conversation.id": 1})


def test_missing_table_fails_at_construction() -> None:
    """One DescribeTable at construction: a missing table is a clear TableSetupError."""
    client = _stubbed_client()
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "describe_table", "ResourceNotFoundException", expected_params={"TableName": "Nope"}
        )
        with pytest.raises(TableSetupError, match="'Nope' does not exist"):
            DynamoDbTracer("Nope", client=client)


def test_imports_without_boto3() -> None:
    """The module imports on a plain install; constructing names the extra to install."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["boto3"] = None
        sys.modules["botocore"] = None
        from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
        try:
            DynamoDbTracer("MyTracesTable")
        except ImportError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'generative-ai-toolkit-tracing[dynamodb]'" in result.stdout
