"""``gat-traces``: the argument parser and ``main``.

Errors are one line on stderr with exit status 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from .._pricing import PRICING_ENV, Pricing, PricingError
from ..sqlite import DB_PATH_ENV, TraceDatabaseError
from ._commands import (
    AGE_PATTERN,
    TIME_HELP,
    cmd_export,
    cmd_list,
    cmd_show,
    cmd_tail,
    parse_time,
)
from ._import import DEFAULT_TIMEOUT, cmd_import
from ._migrate import add_dynamodb_command
from ._serve import add_serve_command
from ._sources import DEFAULT_GSI, PROG, CliError, Source, one_line
from ._warnings import HANDLER_NAME, LIBRARY_LOGGER, WarningsOnce


def add_source_options(
    parser: argparse.ArgumentParser,
    *,
    dynamodb: bool = True,
    jsonl: bool = True,
    color: bool = True,
    pricing: bool = False,
    title: str = "source",
) -> None:
    """Add the source options a command supports (and ``-v``, ``--color`` when it prints, and
    ``--pricing`` when it shows costs)."""
    group = parser.add_argument_group(f"{title} (one of; default: the SQLite file)")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"SQLite trace database (default: ${DB_PATH_ENV} or ./traces.sqlite3)",
    )
    if dynamodb:
        exclusive.add_argument(
            "--dynamodb", metavar="TABLE", help="DynamoDB table (uses boto3's AWS set-up)"
        )
    if jsonl:
        exclusive.add_argument(
            "--jsonl", type=Path, metavar="FILE", help="JSON-lines file of StructuredLogsTracer"
        )
    if dynamodb:
        group.add_argument(
            "--gsi", default=DEFAULT_GSI, help=f"DynamoDB conversation index ({DEFAULT_GSI})"
        )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the library's log messages on stderr"
    )
    if pricing:
        add_pricing_option(parser)
    if color:
        parser.add_argument(
            "--color",
            choices=("auto", "always", "never"),
            default="auto",
            help="colour output (auto: on a terminal, unless NO_COLOR is set)",
        )
    # What a command does not offer still reads as "not given".
    absent = {"dynamodb": None, "gsi": DEFAULT_GSI} if not dynamodb else {}
    absent |= {"jsonl": None} if not jsonl else {}
    absent |= {"color": "never"} if not color else {}
    parser.set_defaults(**absent)


def build_parser() -> argparse.ArgumentParser:
    """The ``gat-traces`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find and read traces of LLM agents stored by SqliteTracer, DynamoDbTracer "
        "or StructuredLogsTracer.",
        epilog="Run `gat-traces COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("list", help="list conversations, newest first")
    p.description = f"List conversations, most recently active first. TIME is {TIME_HELP}."
    p.add_argument("--auth-context", help="only this auth context (exact)")
    p.add_argument("--auth-search", help="auth context contains this text, in any case")
    p.add_argument(
        "--since",
        type=parse_time,
        metavar="TIME",
        help="active at or after TIME (ISO, or an age: 30s, 15m, 2h, 7d, 1w)",
    )
    p.add_argument(
        "--until", type=parse_time, metavar="TIME", help="started at or before TIME (ISO or age)"
    )
    p.add_argument("--errors", action="store_true", help="only conversations with errors")
    p.add_argument("--search", help="conversation id contains this text, in any case")
    p.add_argument("--limit", type=_positive, default=50, help="at most N (default 50)")
    p.add_argument("--offset", type=_natural, default=0, help="skip the first N")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    add_source_options(p, pricing=True)
    p.set_defaults(handler=cmd_list)

    _add_show_and_tail(commands)

    p = commands.add_parser("export", help="write spans as JSON lines")
    p.description = "Write spans as JSON lines in the StructuredLogsTracer format."
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    p.add_argument("--conversation", help="only this conversation")
    p.add_argument("--trace-id", help="only this trace")
    p.add_argument("--scan", action="store_true", help="DynamoDB: every span (scans the table)")
    add_source_options(p, color=False)
    p.set_defaults(handler=cmd_export)

    p = commands.add_parser("import", help="store spans from StructuredLogsTracer JSON lines")
    p.description = (
        "Store the spans of a JSON-lines file (StructuredLogsTracer output, or `export`) in the "
        "SQLite file or DynamoDB table. Spans already stored are skipped (SQLite)."
    )
    p.add_argument("file", type=Path, help="JSON-lines file, or - for stdin")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"give up when no span could be stored for S seconds ({DEFAULT_TIMEOUT:g})",
    )
    add_source_options(p, jsonl=False, color=False, title="where to store")
    p.set_defaults(handler=cmd_import)

    add_serve_command(commands, add_source_options)
    add_dynamodb_command(commands)
    return parser


def _add_show_and_tail(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("show", help="show a conversation or a trace as a tree")
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
    _add_unfinished_after(p)
    add_source_options(p, pricing=True)
    p.set_defaults(handler=cmd_show)

    p = commands.add_parser("tail", help="follow new spans as they are written")
    p.description = "Print spans as they are written, like `tail -f` (Ctrl-C to stop)."
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument(
        "--all",
        action="store_true",
        help="start with the spans already stored (with --count N: print the last N, then stop)",
    )
    p.add_argument("--count", type=_positive, help="stop after N spans")
    p.add_argument("--interval", type=float, default=0.5, help="poll every S seconds (0.5)")
    _add_unfinished_after(p)
    add_source_options(p, dynamodb=False)
    p.set_defaults(handler=cmd_tail)


def _add_unfinished_after(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--unfinished-after",
        type=_positive,
        metavar="S",
        help="show an open span with no snapshot for S seconds as unfinished (default 600)",
    )


def add_pricing_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--pricing FILE`` (default ``$GAT_PRICING``); ``main`` loads it into
    ``args.pricing``."""
    parser.add_argument(
        "--pricing",
        dest="pricing_file",
        type=Path,
        metavar="FILE",
        help=f"pricing table (JSON or TOML) to show costs with (default: ${PRICING_ENV})",
    )


def _load_pricing(args: argparse.Namespace) -> Pricing | None:
    if getattr(args, "pricing_file", None) is not None:
        return Pricing.load(args.pricing_file)
    if hasattr(args, "pricing_file"):
        return Pricing.from_env()
    return None


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


def _version() -> str:
    try:
        return importlib.metadata.version("generative-ai-toolkit-tracing")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _configure_logging(*, verbose: bool) -> WarningsOnce | None:
    # The library logs retries, warnings and errors; the CLI reports failures as one line
    # itself, so without -v only the warnings are shown (once each, see _warnings).
    logger = logging.getLogger(LIBRARY_LOGGER)
    logger.propagate = False
    if verbose:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
        logger.setLevel(logging.INFO)
    else:
        handler = WarningsOnce(sys.stderr)
    # One CLI handler at a time: main() may run many times in one process (tests, embedding).
    for old in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
        logger.removeHandler(old)
    handler.set_name(HANDLER_NAME)
    logger.addHandler(handler)
    return handler if isinstance(handler, WarningsOnce) else None


def _attach_negative_ages(argv: Sequence[str]) -> list[str]:
    # argparse takes `-5m` for an option; `--since -5m` means `--since=-5m`.
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in ("--since", "--until") and AGE_PATTERN.fullmatch(arg):
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gat-traces``; returns the exit status."""
    argv = _attach_negative_ages(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    warnings = _configure_logging(verbose=args.verbose)
    args.source = Source(db=args.db, dynamodb=args.dynamodb, gsi=args.gsi, jsonl=args.jsonl)
    out = sys.stdout
    try:
        args.pricing = _load_pricing(args)
        status = int(args.handler(args, out))
    except BaseException as exc:  # noqa: BLE001 - each is turned into its exit status by _failed
        if warnings is not None:
            warnings.drop()  # the failure is said in one line: they would only repeat it
        return _failed(exc)
    if warnings is not None:
        warnings.show_now()
    return status


def _failed(exc: BaseException) -> int:
    """The exit status for ``exc``, which is said in one line on stderr (nothing is said for
    Ctrl-C or a closed pipe); anything else (``SystemExit``) is raised again."""
    if isinstance(exc, CliError):
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, BrokenPipeError):
        # Piped into `head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, TraceDatabaseError | sqlite3.Error | OSError | ValueError):
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, PricingError) else 1  # a bad --pricing is a usage error
    if isinstance(exc, Exception):  # a store's own errors (botocore ...): one line
        print(f"{PROG}: error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1
    raise exc
