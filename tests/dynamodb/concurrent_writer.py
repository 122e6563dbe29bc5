"""One of several processes writing spans of the same conversations at once (run as a script).

``python concurrent_writer.py TABLE WRITER`` writes ``spans_of(WRITER)`` through a
``DynamoDbTracer`` in many small batches, in an order that sends both older and newer spans
after others, and exits 0 when all are written without a summary error.
"""

from __future__ import annotations

import random
import sys

from generative_ai_toolkit.tracer import Trace
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
from generative_ai_toolkit.tracer.testing import ended_span

CONVERSATIONS = ("c-0", "c-1", "c-2", "c-3", "c-4")
TURNS_PER_WRITER = 60
T0_NS = 1_780_000_000 * 1_000_000_000


def spans_of(writer: int) -> list[Trace]:
    """The spans writer ``writer`` writes: turns of root + child, some failing, times spread
    over a few days so that conversations move between day buckets."""
    rng = random.Random(writer)
    spans: list[Trace] = []
    for turn in range(TURNS_PER_WRITER):
        trace_id = writer * 10_000 + turn + 1
        conversation = CONVERSATIONS[rng.randrange(len(CONVERSATIONS))]
        auth = "tenant-a" if conversation in {"c-0", "c-1"} else "tenant-b"
        start = T0_NS + rng.randrange(3 * 86_400) * 1_000_000_000 + writer * 1000 + turn
        inherited = {"ai.conversation.id": conversation, "ai.auth.context": auth}
        spans.append(
            ended_span(
                "converse",
                trace_id=trace_id,
                span_id=trace_id * 2,
                start_ns=start,
                duration_ns=rng.randrange(1, 10**9),
                inherited=inherited,
                status="ERROR" if rng.random() < 0.2 else "OK",
            )
        )
        spans.append(
            ended_span(
                "tool",
                trace_id=trace_id,
                span_id=trace_id * 2 + 1,
                parent_id=trace_id * 2,
                start_ns=start + 1000,
                duration_ns=rng.randrange(1, 10**6),
                inherited=inherited,
            )
        )
    return spans


def main(table: str, writer: int) -> int:
    tracer = DynamoDbTracer(table, schedule_delay=0.01, max_batch_size=8)
    spans = spans_of(writer)
    random.Random(-writer).shuffle(spans)
    for i, span in enumerate(spans):
        tracer.persist(span)
        if i % 16 == 15:
            tracer.flush(60)
    ok = tracer.flush(60)
    stats = tracer.stats
    tracer.shutdown()
    return 0 if ok and stats["dropped"] == 0 and stats["summary_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
