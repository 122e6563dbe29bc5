"""``gat-traces``: find and read stored traces from the terminal.

Reads through the ``TraceQuery`` interface only, from a SQLite file (default), a DynamoDB table
or a JSON-lines file. Errors are one line on stderr with exit status 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final, TextIO

from ._base import BaseTracer
from ._cli_render import (
    JsonLines,
    Style,
    conversation_header,
    conversations_table,
    render_trees,
    summary_json,
)
from ._query import ConversationFilter, SpanListQuery, TraceQuery, build_tree
from ._sqlite_query import SqliteQuery
from ._sqlite_schema import DB_PATH_ENV, TraceDatabaseError, default_db_path
from ._trace import Trace
from ._viewer import add_serve_command

PROG: Final = "gat-traces"
DEFAULT_GSI: Final = "conversation_index"


class CliError(Exception):
    """A failure to report as one line, exit status 1."""


# -- sources -------------------------------------------------------------------------------------


@dataclass
class Source:
    """Where spans are read from: exactly one of a SQLite file, a DynamoDB table, a file."""

    db: Path | None
    dynamodb: str | None
    gsi: str
    jsonl: Path | None

    def describe(self) -> str:
        if self.dynamodb:
            return f"DynamoDB table {self.dynamodb}"
        if self.jsonl:
            return str(self.jsonl)
        return str(self.db or default_db_path())

    def open(self) -> TraceQuery:
        """The query interface of this source; ``CliError`` when it cannot be read."""
        if self.dynamodb:
            query: TraceQuery = _open_dynamodb(self.dynamodb, self.gsi)
            return query
        if self.jsonl:
            return SpanListQuery(read_jsonl(self.jsonl))
        path = self.db or default_db_path()
        try:
            return SqliteQuery(path, create=False)
        except FileNotFoundError:
            raise CliError(
                f"no trace database at {path} (run the demo, pass --db, or set {DB_PATH_ENV})"
            ) from None
        except TraceDatabaseError as exc:
            raise CliError(str(exc)) from None


def _open_dynamodb(table: str, gsi: str) -> Any:
    try:
        from .dynamodb import DynamoDbTracer  # noqa: PLC0415 - boto3 only when asked for
    except ImportError as exc:
        raise CliError(f"DynamoDB is not available: {exc}") from None
    try:
        return DynamoDbTracer(table_name=table, conversation_id_gsi_name=gsi)
    except ImportError as exc:
        raise CliError(f"DynamoDB is not available: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - botocore errors, a missing table: one line
        raise CliError(f"cannot read DynamoDB table {table!r}: {_one_line(exc)}") from None


def read_jsonl(path: Path, *, progress: Progress | None = None) -> Iterator[Trace]:
    """Spans from ``StructuredLogsTracer`` lines (or bare span objects), ``-`` for stdin."""
    import json  # noqa: PLC0415

    with _open_text(path) as stream:
        for number, line in enumerate(stream, 1):
            if progress is not None:
                progress.advance(len(line.encode()))
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if isinstance(data, dict) and isinstance(data.get("trace"), dict):
                    data = data["trace"]
                yield Trace.from_dict(data)
            except Exception as exc:  # noqa: BLE001 - any malformed line: say which one
                raise CliError(f"{path}:{number}: not a span in JSON: {_one_line(exc)}") from None


@contextlib.contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    if str(path) == "-":
        yield sys.stdin
        return
    try:
        with path.open(encoding="utf-8") as stream:
            yield stream
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CliError(f"{path} is a directory") from None


# -- progress --------------------------------------------------------------------------------------


class Progress:
    """A one-line progress indicator on ``stream``, shown only when it is a terminal."""

    def __init__(self, label: str, total: int | None, stream: TextIO) -> None:
        self._label = label
        self._total = total
        self._stream = stream
        self._on = _isatty(stream)
        self._done = 0
        self._count = 0
        self._shown = 0.0

    def advance(self, amount: int = 1, *, items: int = 0) -> None:
        self._done += amount
        self._count += items
        now = time.monotonic()
        if self._on and now - self._shown > 0.1:
            self._shown = now
            self._draw()

    def item(self) -> None:
        self._count += 1

    def _draw(self) -> None:
        if self._total:
            fraction = min(1.0, self._done / self._total)
            bar = "#" * int(fraction * 30)
            text = f"\r{self._label} [{bar:<30}] {fraction:4.0%} {self._count} spans"
        else:
            text = f"\r{self._label} {self._count} spans"
        self._stream.write(text)
        self._stream.flush()

    def finish(self) -> None:
        if self._on:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- commands --------------------------------------------------------------------------------------


def _style(args: argparse.Namespace, stream: TextIO) -> Style:
    if args.color == "always":
        return Style(color=True)
    if args.color == "never" or "NO_COLOR" in os.environ:
        return Style(color=False)
    return Style(color=_isatty(stream))


def _parse_time(text: str) -> datetime:
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
                    f"{PROG}: skipping a line that is not a span: {_one_line(exc)}", file=sys.stderr
                )


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    query = args.source.open()
    if args.conversation:
        spans = list(query.conversation_spans(args.conversation))
    elif args.trace_id:
        spans = list(query.get_traces(trace_id=args.trace_id))
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
        tracer: BaseTracer = _open_dynamodb(source.dynamodb, source.gsi)
        return tracer
    from ._sqlite import SqliteTracer  # noqa: PLC0415

    try:
        return SqliteTracer(source.db or default_db_path())
    except (TraceDatabaseError, sqlite3.Error, OSError) as exc:
        raise CliError(_one_line(exc)) from None


# -- the parser ------------------------------------------------------------------------------------


def _source_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("source (one of; default: the SQLite file)")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"SQLite trace database (default: ${DB_PATH_ENV} or ./traces.sqlite3)",
    )
    exclusive.add_argument(
        "--dynamodb", metavar="TABLE", help="DynamoDB table (uses boto3's AWS set-up)"
    )
    exclusive.add_argument(
        "--jsonl", type=Path, metavar="FILE", help="JSON-lines file written by StructuredLogsTracer"
    )
    group.add_argument(
        "--gsi", default=DEFAULT_GSI, help=f"DynamoDB conversation index (default: {DEFAULT_GSI})"
    )
    parent.add_argument(
        "-v", "--verbose", action="store_true", help="show the library's log messages on stderr"
    )
    parent.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour output (auto: on a terminal, unless NO_COLOR is set)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The ``gat-traces`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find and read traces of LLM agents stored by SqliteTracer, DynamoDbTracer "
        "or StructuredLogsTracer.",
        epilog="Run `gat-traces COMMAND --help` for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    source = _source_options()

    p = commands.add_parser("list", parents=[source], help="list conversations, newest first")
    p.description = "List conversations, most recently active first."
    p.add_argument("--auth-context", help="only this auth context")
    p.add_argument("--since", type=_parse_time, help="active at or after (ISO time or age: 2h)")
    p.add_argument("--until", type=_parse_time, help="started at or before (ISO time or age)")
    p.add_argument("--errors", action="store_true", help="only conversations with errors")
    p.add_argument("--search", help="conversation id contains this text")
    p.add_argument("--limit", type=_positive, default=50, help="at most N (default 50)")
    p.add_argument("--offset", type=_natural, default=0, help="skip the first N")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(handler=cmd_list)

    p = commands.add_parser(
        "show", parents=[source], help="show a conversation or a trace as a tree"
    )
    p.description = (
        "Show a conversation (all its traces) or one trace as an indented tree with kinds, "
        "durations, status, inputs and outputs."
    )
    p.add_argument("id", help="conversation id, or a trace id (32 hex digits)")
    p.add_argument("--trace", action="store_true", help="ID is a trace id")
    p.add_argument("--auth-context", help="only spans of this auth context")
    p.add_argument("--json", action="store_true", help="the spans as JSON lines")
    p.add_argument("--full", action="store_true", help="do not shorten long values")
    p.add_argument("--width", type=_positive, default=160, help="clip values to this width")
    p.set_defaults(handler=cmd_show)

    p = commands.add_parser("tail", parents=[source], help="follow new spans as they are written")
    p.description = "Print spans as they are written, like `tail -f` (Ctrl-C to stop)."
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument("--all", action="store_true", help="start with the spans already stored")
    p.add_argument("--count", type=_positive, help="stop after N spans")
    p.add_argument("--interval", type=float, default=0.5, help="poll every S seconds (0.5)")
    p.set_defaults(handler=cmd_tail)

    p = commands.add_parser("export", parents=[source], help="write spans as JSON lines")
    p.description = "Write spans as JSON lines in the StructuredLogsTracer format."
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    p.add_argument("--conversation", help="only this conversation")
    p.add_argument("--trace-id", help="only this trace")
    p.set_defaults(handler=cmd_export)

    p = commands.add_parser(
        "import", parents=[source], help="store spans from StructuredLogsTracer JSON lines"
    )
    p.description = (
        "Store the spans of a JSON-lines file (StructuredLogsTracer output, or `export`) in the "
        "SQLite file or DynamoDB table. Spans already stored are skipped (SQLite)."
    )
    p.add_argument("file", type=Path, help="JSON-lines file, or - for stdin")
    p.set_defaults(handler=cmd_import)

    add_serve_command(commands, source)
    return parser


def _positive(text: str) -> int:
    value = _natural(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _configure_logging(*, verbose: bool) -> None:
    # The library logs retries and warnings; the CLI reports failures as one line itself.
    logger = logging.getLogger("generative_ai_toolkit.tracer")
    logger.propagate = False
    if verbose:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
        logger.setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
    logger.addHandler(handler)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gat-traces``; returns the exit status."""
    args = build_parser().parse_args(argv)
    _configure_logging(verbose=args.verbose)
    args.source = Source(db=args.db, dynamodb=args.dynamodb, gsi=args.gsi, jsonl=args.jsonl)
    out = sys.stdout
    try:
        return int(args.handler(args, out))
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Piped into `head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except (TraceDatabaseError, sqlite3.Error, OSError, ValueError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a store's own errors (botocore ...): one line
        print(f"{PROG}: error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1
