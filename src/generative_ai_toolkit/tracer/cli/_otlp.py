"""``serve --otlp``: an OTLP/HTTP receiver beside the viewer, storing into the served source.

So an agent instrumented with OpenTelemetry, pointed at ``http://127.0.0.1:4318``, shows up in
the viewer (live) and in every other command, with no collector and no other backend.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from .._base import BaseTracer
from ..otlp import OtlpReceiver
from ..sqlite import SqliteTracer, default_db_path
from ._sources import CliError, Source, one_line, open_dynamodb

DEFAULT_OTLP_PORT = 4318


def add_otlp_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--otlp [PORT]`` to the ``serve`` command."""
    parser.add_argument(
        "--otlp",
        nargs="?",
        const=DEFAULT_OTLP_PORT,
        type=_port,
        metavar="PORT",
        help=f"also receive OTLP/HTTP traces on PORT ({DEFAULT_OTLP_PORT}) at /v1/traces, "
        "stored in the SQLite file or DynamoDB table served",
    )


def start_receiver(args: argparse.Namespace, out: TextIO) -> tuple[OtlpReceiver, BaseTracer]:
    """The started receiver and the store it writes to (the caller closes both)."""
    store = _store(args.source)
    try:
        receiver = OtlpReceiver(
            store, host=args.host, port=args.otlp, allow_remote=args.allow_remote
        ).start()
    except OSError as exc:
        store.shutdown()
        raise CliError(
            f"cannot receive OTLP on {args.host}:{args.otlp}: {exc.strerror or exc} "
            "(is a collector or Phoenix already listening there? pick another with --otlp PORT)"
        ) from None
    except ImportError as exc:
        store.shutdown()
        raise CliError(str(exc)) from None
    print(f"Receiving OTLP/HTTP traces at {receiver.url}", file=out)
    return receiver, store


def _store(source: Source) -> BaseTracer:
    if source.jsonl is not None:
        raise CliError("--otlp stores into a SQLite file (--db) or a DynamoDB table (--dynamodb)")
    if source.dynamodb:
        tracer: BaseTracer = open_dynamodb(source.dynamodb, source.gsi)
        return tracer
    try:
        return SqliteTracer(source.db or default_db_path())
    except Exception as exc:  # noqa: BLE001 - an unwritable path, a corrupt file: one line
        raise CliError(one_line(exc)) from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text}")
    return port
