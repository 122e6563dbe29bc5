"""Deterministic spans for the SQLite and CLI tests: fixed ids and times, known shapes; and
files as older versions of the library wrote them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from generative_ai_toolkit.tracer import Trace
from generative_ai_toolkit.tracer.sqlite._schema import MIGRATIONS
from generative_ai_toolkit.tracer.sqlite._writer import SqliteSpanWriter
from generative_ai_toolkit.tracer.testing import ended_span

BASE_NS = 1_744_748_685_000_000_000  # 2025-04-15T20:24:45Z


def span(
    name: str,
    *,
    trace: int,
    span_id: int,
    parent: int | None = None,
    start_ms: int = 0,
    duration_ms: int = 10,
    attributes: dict[str, Any] | None = None,
    status: str = "UNSET",
    kind: str = "INTERNAL",
    inherited: int = 0,
) -> Trace:
    """An ended span with the given ids (as ints) and times (ms after ``BASE_NS``)."""
    items = list((attributes or {}).items())
    own = len(items) - inherited  # the last ``inherited`` attributes were inherited
    return ended_span(
        name,
        trace_id=trace,
        span_id=span_id,
        parent_id=parent,
        start_ns=BASE_NS + start_ms * 1_000_000,
        duration_ns=duration_ms * 1_000_000,
        attributes=dict(items[:own]),
        inherited=dict(items[own:]),
        status=status,
        kind=kind,
        resource={"service.name": "MyAgent"},
    )


def conversation(
    conversation_id: Any, auth: str, *, trace: int, start_ms: int, error: bool = False
) -> list[Trace]:
    """A turn: a converse root span with an llm and a tool child, children first (end order)."""
    root = trace * 100
    inherited = {"ai.conversation.id": conversation_id, "ai.auth.context": auth}
    llm = span(
        "llm",
        trace=trace,
        span_id=root + 1,
        parent=root,
        start_ms=start_ms + 1,
        duration_ms=3,
        kind="CLIENT",
        attributes={
            "ai.trace.type": "llm-invocation",
            "ai.llm.request.messages": [{"role": "user", "content": "Hi"}],
            "ai.llm.response.output": "calling a tool",
            **inherited,
        },
        inherited=2,
    )
    tool = span(
        "tool",
        trace=trace,
        span_id=root + 2,
        parent=root,
        start_ms=start_ms + 5,
        duration_ms=2,
        attributes={
            "ai.trace.type": "tool-invocation",
            "ai.tool.name": "lookup",
            "ai.tool.input": {"q": "x"},
            ("ai.tool.error" if error else "ai.tool.output"): "boom" if error else "found",
            **inherited,
        },
        status="ERROR" if error else "UNSET",
        inherited=2,
    )
    converse = span(
        "converse",
        trace=trace,
        span_id=root,
        start_ms=start_ms,
        duration_ms=10,
        kind="SERVER",
        attributes={
            "ai.trace.type": "converse",
            "ai.user.input": "Hello",
            "ai.agent.response": "Bye",
            **inherited,
        },
    )
    return [llm, tool, converse]


def sample_spans() -> list[Trace]:
    """Three conversations (one with an int id, one with an error) and a span outside any."""
    return [
        *conversation("c-1", "alice", trace=1, start_ms=0),
        *conversation("c-1", "alice", trace=2, start_ms=100),
        *conversation(488044, "bob", trace=3, start_ms=200, error=True),
        *conversation("c-3", "alice", trace=4, start_ms=300),
        span("loose", trace=5, span_id=500, start_ms=400, attributes={"flag": True, "n": 1}),
    ]


def make_version_2_file(path: Path, spans: list[Trace]) -> None:
    """A file as version 2 of the library wrote it: ids as hex text."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    MIGRATIONS[0](conn)
    writer = SqliteSpanWriter(path)
    rows = []
    for s in spans:
        row = writer._row(s)
        rows.append((s.trace_id, s.span_id, s.parent_span_id, *row[3:15]))  # no `open` yet
    conn.executemany(
        "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, status, start_ns, "
        "end_ns, conversation_id, auth_context, attributes, inherited_keys, resource, "
        "scope_name, scope_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
