"""DynamoDB benchmarks, against a DynamoDB Local this script starts itself.

1. Caller-side cost per span: what the traced code pays for a 2 KB span with ``DynamoDbTracer``
   against ``InMemoryTracer``, interleaved. The background worker is held back during the timed
   loops (long schedule delay, batch larger than a round) and drains between them, so the figure
   is the agent thread's own cost (open, attribute, end, queue), not the worker's.
2. Sustained write throughput: 2 KB spans of 20 conversations produced as fast as possible and
   written by ``DynamoDbTracer`` (``BatchWriteItem``, 25 items a request, 8 in flight, plus one
   summary ``UpdateItem`` per conversation per batch) to a table with every index, first span
   to flush done; against the previous design, one ``PutItem`` per span on the agent's thread,
   and against the tracer without summaries, measured in the same run.
3. Listing the newest 50 of 100,000 conversations (``_dynamodb_listing``).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from _harness import Report
from generative_ai_toolkit.tracer import BaseTracer, InMemoryTracer, Trace
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer, dynamodb_client
from generative_ai_toolkit.tracer.dynamodb._item import span_to_item

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _dynamodb_listing import measure as measure_listing
from dynamodb.tables import create_table_with_summaries
from services.dynamodb_local import DynamoDbLocal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PAYLOAD = "p" * 2000  # with ids, times and keys, an item of about 2.3 KB
CALLER_SPANS_PER_ROUND = 1000
CALLER_ROUNDS = 7
THROUGHPUT_SPANS = 6000
PUT_ITEM_SPANS = 800  # about as long a window as the batched run (~2.5 s): sustained rates, both
THROUGHPUT_ROUNDS = 5
WARM_UP_SPANS = 20_000  # DynamoDB Local (JVM) keeps getting faster for ~20k items
CONVERSATIONS = 20  # spans of this many conversations interleaved: 20 summary updates a batch


class PutItemPerSpanTracer(BaseTracer):
    """The previous design: one synchronous ``PutItem`` per span, on the agent's thread."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        super().__init__()
        self._client = client
        self._table = table_name

    def persist(self, trace: Trace) -> None:
        self._client.put_item(TableName=self._table, Item=span_to_item(trace))


def _emit(tracer: BaseTracer, count: int, conversation: str) -> None:
    for i in range(count):
        with tracer.trace("llm", span_kind="CLIENT") as span:
            span.add_attribute("ai.conversation.id", f"{conversation}-{i % CONVERSATIONS}")
            span.add_attribute("ai.auth.context", "bench")
            span.add_attribute("ai.llm.response.output", PAYLOAD)
            span.add_attribute("turn", i)


def _caller_cost(report: Report, client: DynamoDBClient, table: str) -> None:
    memory = InMemoryTracer(memory_size=CALLER_SPANS_PER_ROUND * 2)
    dynamo = DynamoDbTracer(
        table,
        client=client,
        schedule_delay=3600,
        max_batch_size=CALLER_SPANS_PER_ROUND + 1,
        max_queue_size=CALLER_SPANS_PER_ROUND * 2,
    )
    best = {"memory": float("inf"), "dynamo": float("inf")}
    for _ in range(CALLER_ROUNDS):
        for name, tracer in (("memory", memory), ("dynamo", dynamo)):
            gc.collect()
            start = time.perf_counter()
            _emit(tracer, CALLER_SPANS_PER_ROUND, "caller")
            elapsed = time.perf_counter() - start
            best[name] = min(best[name], elapsed / CALLER_SPANS_PER_ROUND)
        dynamo.flush()  # untimed: the worker writes the round's spans between rounds
    dynamo.shutdown()
    ratio = best["dynamo"] / best["memory"]
    report.add(
        "DynamoDbTracer caller-side cost per 2 KB span vs InMemoryTracer",
        f"{ratio:.2f}x ({best['dynamo'] * 1e6:.1f} vs {best['memory'] * 1e6:.1f} µs)",
        "<= 3x",
        ratio <= 3,
    )
    stats = dynamo.stats
    if stats["dropped"]:
        report.note(f"caller-cost run dropped {stats['dropped']} span(s): {stats}")


def _batched_rate(
    client: DynamoDBClient, table: str, count: int, *, summaries: bool = True
) -> tuple[float, dict[str, int]]:
    tracer = DynamoDbTracer(table, client=client, conversation_summaries=summaries)
    gc.collect()
    start = time.perf_counter()
    _emit(tracer, count, f"batched-{time.monotonic_ns()}")
    finished = tracer.flush(300)
    elapsed = time.perf_counter() - start
    stats = tracer.stats
    tracer.shutdown()
    return (count / elapsed if finished else 0.0), stats


def _put_item_rate(client: DynamoDBClient, table: str, count: int) -> float:
    tracer = PutItemPerSpanTracer(client, table)
    gc.collect()
    start = time.perf_counter()
    _emit(tracer, count, f"put-{time.monotonic_ns()}")
    return count / (time.perf_counter() - start)


def _throughput(report: Report, client: DynamoDBClient, table: str) -> None:
    # The previous design as it was: boto3's default client, one PutItem per span. Measured
    # with our tuned client too (no client-side validation), for a like-for-like view.
    previous_client = boto3.client("dynamodb")
    _batched_rate(client, table, WARM_UP_SPANS)  # warm DynamoDB Local's JIT up
    _put_item_rate(previous_client, table, 100)
    batched, put_item, put_item_tuned, unsummarized = 0.0, 0.0, 0.0, 0.0
    for _ in range(THROUGHPUT_ROUNDS):
        put_item = max(put_item, _put_item_rate(previous_client, table, PUT_ITEM_SPANS))
        put_item_tuned = max(put_item_tuned, _put_item_rate(client, table, PUT_ITEM_SPANS))
        rate, stats = _batched_rate(client, table, THROUGHPUT_SPANS)
        if stats["written"] != THROUGHPUT_SPANS or stats["dropped"] or stats["summary_errors"]:
            report.note(f"batched run did not write every span: {stats}")
        batched = max(batched, rate)
        rate, _ = _batched_rate(client, table, THROUGHPUT_SPANS, summaries=False)
        unsummarized = max(unsummarized, rate)
    report.note(
        f"dynamodb: without conversation summaries {unsummarized:,.0f} spans/s; with them "
        f"{batched / unsummarized:.2f}x that"
    )
    report.add(
        "DynamoDbTracer sustained writes to DynamoDB Local, 2 KB spans, with summaries",
        f"{batched:,.0f} spans/s",
        ">= 1,500 spans/s",
        batched >= 1500,
    )
    report.add(
        "DynamoDbTracer vs the previous design: one PutItem per span, boto3's default client",
        f"{batched / put_item:.1f}x ({batched:,.0f} vs {put_item:,.0f} spans/s)",
        ">= 8x",
        batched / put_item >= 8,
    )
    report.note(
        f"dynamodb: one PutItem per span with the tracer's own client (no client-side "
        f"validation): {put_item_tuned:,.0f} spans/s, so {batched / put_item_tuned:.1f}x"
    )
    previous_client.close()


def run(report: Report) -> None:
    """Start DynamoDB Local, make the notebook's table, and measure."""
    with DynamoDbLocal() as server:
        saved = dict(os.environ)
        os.environ.update(server.env())  # as a user would: AWS_ENDPOINT_URL_DYNAMODB
        try:
            setup = server.client(Config(read_timeout=30))
            create_table_with_summaries(setup, "BenchTraces")
            setup.close()
            client = dynamodb_client()  # what DynamoDbTracer makes when given no client
            _caller_cost(report, client, "BenchTraces")
            _throughput(report, client, "BenchTraces")
            client.close()
            measure_listing(report, server)
        finally:
            os.environ.clear()
            os.environ.update(saved)


if __name__ == "__main__":
    bench_report = Report()
    run(bench_report)
    print(bench_report.markdown())
