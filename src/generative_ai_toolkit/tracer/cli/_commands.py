"""The ``list``, ``show``, ``tail``, ``export`` and ``import`` commands."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TextIO

from .._query import ConversationFilter, build_tree
from .._trace import Trace
from ..sqlite import SqliteQuery
from ._jsonl import JsonlFile, open_jsonl
from ._progress import Progress, isatty
from ._render import (
    DEFAULT_UNFINISHED_AFTER,
    JsonLines,
    Style,
    conversation_header,
    conversations_table,
    open_label,
    render_trees,
    summary_json,
)
from ._sources import CliError, Source
from ._warnings import show_warnings_now


def _style(args: argparse.Namespace, stream: TextIO) -> Style:
    if args.color == "always":
        color = True
    elif args.color == "never" or "NO_COLOR" in os.environ:
        color = False
    else:
        color = isatty(stream)
    after = getattr(args, "unfinished_after", None)
    return Style(
        color=color,
        now_ns=time.time_ns(),
        unfinished_after=DEFAULT_UNFINISHED_AFTER if after is None else after,
    )


AGE_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
AGE_PATTERN: Final = re.compile(r"-?(\d+(?:\.\d+)?)([smhdw])")
TIME_HELP: Final = (
    "an ISO time (2025-04-15T20:24, UTC unless a zone is given) or an age: 30s, 15m, 2h, 7d, 1w"
)


def parse_time(text: str) -> datetime:
    """ISO time (``2025-04-15T20:24``, UTC when no zone) or an age: ``30s``, ``15m``, ``2h``,
    ``7d``, ``1w`` ago (``-15m`` too)."""
    age = AGE_PATTERN.fullmatch(text.strip())
    if age:
        seconds = float(age[1]) * AGE_UNITS[age[2]]
        try:
            return datetime.now(UTC) - timedelta(seconds=seconds)
        except OverflowError:
            raise argparse.ArgumentTypeError(f"too long ago: {text!r}") from None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use {TIME_HELP})") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    query = args.source.open()
    where = ConversationFilter(
        auth_context=args.auth_context,
        since=args.since,
        until=args.until,
        errors_only=args.errors,
        search=args.search,
        auth_search=args.auth_search,
    )
    summaries = query.list_conversations(where, limit=args.limit, offset=args.offset)
    if args.json:
        out.writelines(summary_json(s, args.pricing) + "\n" for s in summaries)
        return 0
    if not summaries:
        filtered = where != ConversationFilter() or args.offset
        match = " match these filters" if filtered else ""
        print(f"no conversations{match} in {args.source.describe()}", file=sys.stderr)
        return 0
    out.write(conversations_table(summaries, _style(args, out), pricing=args.pricing))
    return 0


def _looks_like_trace_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdefABCDEF" for c in text)


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    query = args.source.open()
    ident: str = args.id
    spans: list[Trace] = []
    is_trace = args.trace
    if not is_trace:
        spans = list(
            query.conversation_spans(ident, auth_context=args.auth_context, include_open=True)
        )
        is_trace = not spans and _looks_like_trace_id(ident)
    if is_trace:
        if not _looks_like_trace_id(ident):
            raise CliError(f"not a trace id: {ident!r} (32 hex digits)")
        spans = list(query.get_traces(trace_id=ident, include_open=True))
    if not spans:
        kind = "trace" if args.trace else "conversation or trace"
        raise CliError(f"no {kind} {ident!r} in {args.source.describe()}")
    if args.json:
        lines = JsonLines()
        out.writelines(lines.line(span) for span in spans)
        return 0
    style = _style(args, out)
    if not is_trace:
        out.write(conversation_header(ident, spans, style, pricing=args.pricing) + "\n")
    width = None if args.full else args.width
    out.write(render_trees(build_tree(spans), style, width=width, pricing=args.pricing))
    return 0


def cmd_tail(args: argparse.Namespace, out: TextIO) -> int:
    source: Source = args.source
    lines = JsonLines()
    style = _style(args, out)
    shown = 0

    def show(span: Trace) -> bool:
        nonlocal shown
        if args.json:
            out.write(lines.line(span))
        elif span._end_ns:
            out.write(span.as_human_readable(color=style.color) + "\n")
        else:
            now = replace(style, now_ns=time.time_ns())
            out.write(f"({open_label(span, now)}) {span.as_human_readable(color=style.color)}\n")
        shown += 1
        return args.count is not None and shown >= args.count

    if args.all and args.count is not None:
        # Like `tail -n N`: the last N spans already stored, then stop, even when there are fewer.
        for span in _last_stored(source, args.count):
            show(span)
        out.flush()
        return 0
    follow = _follow_jsonl(source.jsonl, args) if source.jsonl else _follow_sqlite(source, args)
    try:
        for batch in follow:
            show_warnings_now()  # it runs until stopped: what the store warns of, as it comes
            for span in batch:
                if show(span):
                    out.flush()
                    return 0
            out.flush()
    except KeyboardInterrupt:
        return 0
    return 0


def _last_stored(source: Source, count: int) -> list[Trace]:
    """The last ``count`` spans in the order they were written."""
    if source.jsonl:
        return open_jsonl(source.jsonl).spans[-count:]
    query = source.open()
    assert isinstance(query, SqliteQuery)
    end = query.latest_cursor()
    cursor = max(0, end - count)  # `seq` has no gaps at the end: only the oldest are deleted
    spans: list[Trace] = []
    while cursor < end:
        batch, cursor = query.spans_after(cursor)
        if not batch:
            break
        spans.extend(batch)
    return spans[-count:]


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
    spans = JsonlFile(path, keep=False)
    if not args.all:
        spans.skip_to_end()
    while True:
        batch = spans.read()
        spans.report()
        if batch:
            yield batch
        else:
            time.sleep(args.interval)


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
    if not spans and (args.conversation or args.trace_id):
        what = f"conversation {args.conversation!r}" if args.conversation else None
        what = what or f"trace {args.trace_id!r}"
        raise CliError(f"no {what} in {args.source.describe()}")
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
