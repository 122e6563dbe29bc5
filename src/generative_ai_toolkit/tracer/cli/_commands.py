"""The ``list``, ``show``, ``tail``, ``export`` and ``import`` commands."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from .._base import BaseTracer
from .._query import ConversationFilter, build_tree
from .._trace import Trace
from ..sqlite import SqliteQuery, TraceDatabaseError, default_db_path
from ._progress import Progress, isatty
from ._render import (
    JsonLines,
    Style,
    conversation_header,
    conversations_table,
    render_trees,
    summary_json,
)
from ._sources import PROG, CliError, Source, one_line, open_dynamodb, read_jsonl


def _style(args: argparse.Namespace, stream: TextIO) -> Style:
    if args.color == "always":
        return Style(color=True)
    if args.color == "never" or "NO_COLOR" in os.environ:
        return Style(color=False)
    return Style(color=isatty(stream))


def parse_time(text: str) -> datetime:
    """ISO time (``2025-04-15T20:24``, UTC when no zone) or an age: ``30s``, ``15m``, ``2h``,
    ``7d``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return datetime.now(UTC) - timedelta(seconds=float(text[:-1]) * units[text[-1]])
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use ISO like 2025-04-15T20:24 or an age like 2h)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    query = args.source.open()
    where = ConversationFilter(
        auth_context=args.auth_context,
        since=args.since,
        until=args.until,
        errors_only=args.errors,
        search=args.search,
    )
    summaries = query.list_conversations(where, limit=args.limit, offset=args.offset)
    if args.json:
        out.writelines(summary_json(s) + "\n" for s in summaries)
        return 0
    if not summaries:
        print(f"no conversations in {args.source.describe()}", file=sys.stderr)
        return 0
    out.write(conversations_table(summaries, _style(args, out)))
    return 0


def _looks_like_trace_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdefABCDEF" for c in text)


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    query = args.source.open()
    ident: str = args.id
    spans: list[Trace] = []
    is_trace = args.trace
    if not is_trace:
        spans = list(query.conversation_spans(ident, auth_context=args.auth_context))
        is_trace = not spans and _looks_like_trace_id(ident)
    if is_trace:
        if not _looks_like_trace_id(ident):
            raise CliError(f"not a trace id: {ident!r} (32 hex digits)")
        spans = list(query.get_traces(trace_id=ident))
    if not spans:
        kind = "trace" if args.trace else "conversation or trace"
        raise CliError(f"no {kind} {ident!r} in {args.source.describe()}")
    if args.json:
        lines = JsonLines()
        out.writelines(lines.line(span) for span in spans)
        return 0
    style = _style(args, out)
    if not is_trace:
        out.write(conversation_header(ident, spans, style) + "\n")
    out.write(render_trees(build_tree(spans), style, width=None if args.full else args.width))
    return 0


def cmd_tail(args: argparse.Namespace, out: TextIO) -> int:
    source: Source = args.source
    if source.dynamodb:
        raise CliError("tail follows a SQLite file or a JSON-lines file, not a DynamoDB table")
    lines = JsonLines()
    style = _style(args, out)
    shown = 0

    def show(span: Trace) -> bool:
        nonlocal shown
        if args.json:
            out.write(lines.line(span))
        else:
            out.write(span.as_human_readable(color=style.color) + "\n")
        shown += 1
        return args.count is not None and shown >= args.count

    follow = _follow_jsonl(source.jsonl, args) if source.jsonl else _follow_sqlite(source, args)
    try:
        for batch in follow:
            for span in batch:
                if show(span):
                    out.flush()
                    return 0
            out.flush()
    except KeyboardInterrupt:
        return 0
    return 0


def _follow_sqlite(source: Source, args: argparse.Namespace) -> Iterator[list[Trace]]:
    query = source.open()
    assert isinstance(query, SqliteQuery)
    cursor = 0 if args.all else query.latest_cursor()
    while True:
        spans, cursor = query.spans_after(cursor)
        if spans:
            yield spans
        else:
            time.sleep(args.interval)


def _follow_jsonl(path: Path, args: argparse.Namespace) -> Iterator[list[Trace]]:
    import json  # noqa: PLC0415

    try:
        stream = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    with stream:
        if not args.all:
            stream.seek(0, io.SEEK_END)
        pending = ""
        while True:
            chunk = stream.readline()
            if not chunk:
                time.sleep(args.interval)
                continue
            pending += chunk
            if not pending.endswith("\n"):
                continue  # a line still being written
            line, pending = pending, ""
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                yield [Trace.from_dict(data.get("trace", data))]
            except Exception as exc:  # noqa: BLE001
                print(
                    f"{PROG}: skipping a line that is not a span: {one_line(exc)}", file=sys.stderr
                )


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    keyed = args.conversation or args.trace_id
    if args.source.dynamodb and not keyed and not args.scan:
        raise CliError(
            "exporting every span of a DynamoDB table scans the whole table: pass "
            "--conversation or --trace-id, or --scan to scan it anyway"
        )
    query = args.source.open()
    if args.conversation:
        spans = list(query.conversation_spans(args.conversation))
    elif args.trace_id:
        spans = list(query.get_traces(trace_id=args.trace_id))
    elif args.source.dynamodb:
        spans = list(query.get_traces(allow_scan=True))
    else:
        spans = list(query.get_traces())
    progress = Progress("exporting", len(spans), sys.stderr)
    lines = JsonLines()
    target: TextIO
    with contextlib.ExitStack() as stack:
        if args.output and str(args.output) != "-":
            try:
                target = stack.enter_context(Path(args.output).open("w", encoding="utf-8"))
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        else:
            target = out
        for span in spans:
            target.write(lines.line(span))
            progress.advance(items=1)
        progress.finish()
    if args.output and str(args.output) != "-":
        print(f"exported {len(spans)} spans to {args.output}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    source: Source = args.source
    if source.jsonl:
        raise CliError("import writes to a SQLite file (--db) or a DynamoDB table (--dynamodb)")
    path: Path = args.file
    total = path.stat().st_size if str(path) != "-" and path.is_file() else None
    progress = Progress(f"importing {path}", total, sys.stderr)
    tracer = _import_target(source)
    count = 0
    try:
        for span in read_jsonl(path, progress=progress):
            tracer._emit(span)
            count += 1
            progress.item()
            if count % 5000 == 0:
                tracer.flush()  # keep the bounded queue from overflowing
        tracer.flush()
    finally:
        tracer.shutdown()
        progress.finish()
    dropped = tracer.stats.get("dropped", 0)
    if dropped:
        raise CliError(f"{dropped} of {count} spans could not be stored (see the log above)")
    print(f"imported {count} spans into {source.describe()}", file=sys.stderr)
    return 0


def _import_target(source: Source) -> BaseTracer:
    if source.dynamodb:
        tracer: BaseTracer = open_dynamodb(source.dynamodb, source.gsi)
        return tracer
    from ..sqlite import SqliteTracer  # noqa: PLC0415

    try:
        return SqliteTracer(source.db or default_db_path())
    except (TraceDatabaseError, sqlite3.Error, OSError) as exc:
        raise CliError(one_line(exc)) from None
