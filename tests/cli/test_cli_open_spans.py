"""``show`` and ``tail`` with open spans: a running duration, and "unfinished" once a span's
last snapshot is older than ``--unfinished-after`` (its process most likely died)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from generative_ai_toolkit.tracer import SqliteTracer, StructuredLogsTracer

from .conftest import Run


def _open_conversation(tracer: SqliteTracer | StructuredLogsTracer) -> None:
    """A turn whose LLM call is open, snapshotted, with one finished tool call before it."""
    root = tracer.trace("converse", span_kind="SERVER")
    root.__enter__()
    root.add_attribute("ai.conversation.id", "live-1", inheritable=True)
    with tracer.trace("tool-invocation") as tool:
        tool.add_attribute("ai.trace.type", "tool-invocation")
    llm = tracer.trace("llm-invocation", span_kind="CLIENT")
    llm.__enter__()
    llm.add_attribute("ai.trace.type", "llm-invocation")
    root.emit_snapshot()
    llm.emit_snapshot()
    tracer.shutdown()  # the process "dies" here: the two spans are never ended


def test_show_draws_open_spans_with_a_running_duration(run: Run, tmp_path: Path) -> None:
    tracer = SqliteTracer(tmp_path / "t.sqlite3", snapshot_interval=None)
    _open_conversation(tracer)
    result = run("show", "live-1", "--db", "t.sqlite3")
    assert 0 == result.returncode, result.stderr
    lines = result.stdout.splitlines()
    assert "Conversation live-1: 1 trace, 1 span, 0 errors, 2 open" == lines[0]
    assert lines[3].startswith("converse  SERVER  running ")
    assert "tool-invocation  INTERNAL  " in lines[4]
    assert lines[5].startswith("└─ llm-invocation  CLIENT  running ")
    assert "unfinished" not in result.stdout


def test_an_open_span_not_snapshotted_for_a_while_is_unfinished(run: Run, tmp_path: Path) -> None:
    tracer = SqliteTracer(tmp_path / "t.sqlite3", snapshot_interval=None)
    _open_conversation(tracer)
    time.sleep(1.1)
    result = run("show", "live-1", "--db", "t.sqlite3", "--unfinished-after", "1")
    assert 2 == result.stdout.count("unfinished (last seen "), result.stdout


def test_tail_prints_open_spans_marked_with_their_running_time(run: Run, tmp_path: Path) -> None:
    tracer = SqliteTracer(tmp_path / "t.sqlite3", snapshot_interval=None)
    _open_conversation(tracer)
    result = run("tail", "--all", "--count", "3", "--db", "t.sqlite3")
    assert 0 == result.returncode, result.stderr
    blocks = [b for b in result.stdout.split("\n\n") if b.strip()]
    assert [False, True, True] == [b.startswith("(running ") for b in blocks]
    as_json = run("tail", "--all", "--count", "3", "--db", "t.sqlite3", "--json")
    ended = [json.loads(line)["trace"]["ended_at"] for line in as_json.stdout.splitlines()]
    assert [False, True, True] == [end is None for end in ended]


def test_a_json_lines_log_with_snapshots_shows_each_span_once(run: Run, tmp_path: Path) -> None:
    stream = io.StringIO()
    tracer = StructuredLogsTracer(stream=stream)
    _open_conversation(tracer)
    (tmp_path / "app.log").write_text(stream.getvalue())
    result = run("show", "live-1", "--jsonl", "app.log")
    assert 0 == result.returncode, result.stderr
    assert "1 span, 0 errors, 2 open" in result.stdout.splitlines()[0]
    assert 2 == result.stdout.count("running ")
