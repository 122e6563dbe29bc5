"""`gat-traces dynamodb migrate` on a table written by the release without summaries: the
indexes are added, the summaries backfilled, a killed run resumes, and a second run changes
nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from generative_ai_toolkit.tracer import Trace
from generative_ai_toolkit.tracer._query import SpanListQuery
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTraceQuery, DynamoDbTracer
from generative_ai_toolkit.tracer.dynamodb._item import span_to_item
from generative_ai_toolkit.tracer.testing import ended_span
from services.dynamodb_bulk import bulk_write
from services.dynamodb_local import DynamoDbLocal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

T0_NS = 1_780_000_000 * 1_000_000_000
CONVERSATIONS = 300
TURNS = 1000
MAIN = "import sys; from generative_ai_toolkit.tracer.cli import main; sys.exit(main())"


def _turns(first_trace: int, count: int, rng: random.Random) -> list[Trace]:
    spans: list[Trace] = []
    for trace_id in range(first_trace, first_trace + count):
        n = rng.randrange(CONVERSATIONS)
        inherited = {"ai.conversation.id": f"conv-{n}", "ai.auth.context": f"tenant-{n % 3}"}
        start = T0_NS + rng.randrange(4 * 86_400_000) * 1_000_000 + trace_id
        spans.append(
            ended_span(
                "converse",
                trace_id=trace_id,
                span_id=trace_id * 2,
                start_ns=start,
                duration_ns=rng.randrange(1, 10**9),
                inherited=inherited,
                status="ERROR" if rng.random() < 0.1 else "OK",
            )
        )
        spans.append(
            ended_span(
                "llm",
                trace_id=trace_id,
                span_id=trace_id * 2 + 1,
                parent_id=trace_id * 2,
                start_ns=start + 1,
                inherited=inherited,
            )
        )
    return spans


def _migrate(table: str, checkpoint: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        MAIN,
        "dynamodb",
        "migrate",
        "--table",
        table,
        "--checkpoint",
        str(checkpoint),
        "--page-size",
        "50",
        *extra,
    ]


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=300
    )


def test_migration_resumes_after_a_kill_and_a_rerun_changes_nothing(
    ddb_env: DynamoDbLocal, ddb_client: DynamoDBClient, table: str, tmp_path: Path
) -> None:
    """2,000 spans in 300 conversations written as today's release writes them: migrate is
    killed mid-scan, resumes from its checkpoint, and the summaries equal the spans; a second
    run leaves them equal; a writer afterwards adds to them."""
    spans = _turns(1, TURNS, random.Random(13))
    assert len(spans) == bulk_write(ddb_client, table, (span_to_item(s) for s in spans))
    checkpoint = tmp_path / "checkpoint.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    killed = subprocess.Popen(
        _migrate(table, checkpoint, "--pause", "0.3"), env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    assert -signal.SIGKILL == killed.wait(timeout=30)
    saved = json.loads(checkpoint.read_text())
    assert not saved["scan_done"]
    assert 0 < saved["scanned"] < len(spans)

    resumed = subprocess.run(
        _migrate(table, checkpoint),
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 0 == resumed.returncode, resumed.stderr
    assert f"resuming from {checkpoint}: {saved['scanned']} items scanned" in resumed.stderr
    assert not checkpoint.exists()
    expected = SpanListQuery(spans).list_conversations(limit=1000)
    assert len(expected) > CONVERSATIONS * 0.9
    query = DynamoDbTraceQuery(ddb_client, table, conversation_id_gsi_name="conversation_index")
    assert expected == query.list_conversations(limit=1000)

    again = subprocess.run(
        _migrate(table, checkpoint),
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 0 == again.returncode, again.stderr
    assert "resuming" not in again.stderr
    assert expected == query.list_conversations(limit=1000)

    later = _turns(TURNS + 1, 200, random.Random(14))
    tracer = DynamoDbTracer(table, conversation_id_gsi_name="conversation_index")
    for span in later:
        tracer.persist(span)
    assert tracer.flush(60)
    tracer.shutdown()
    assert SpanListQuery(spans + later).list_conversations(limit=1000) == query.list_conversations(
        limit=1000
    )
