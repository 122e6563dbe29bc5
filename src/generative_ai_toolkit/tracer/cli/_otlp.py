"""``serve --otlp``: an OTLP/HTTP receiver beside the viewer, storing into the served source.

So an agent instrumented with OpenTelemetry, pointed at ``http://127.0.0.1:4318``, shows up in
the viewer (live) and in every other command, with no collector and no other backend.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable
from typing import TextIO

from .._base import BaseTracer
from ..otlp import OtlpReceiver
from ._sources import CliError, open_store

DEFAULT_OTLP_PORT = 4318


def add_otlp_option(parser: argparse.ArgumentParser, *, port: Callable[[str], int]) -> None:
    """Add ``--otlp [PORT]`` to the ``serve`` command; ``port`` parses a port number."""
    parser.add_argument(
        "--otlp",
        nargs="?",
        const=DEFAULT_OTLP_PORT,
        type=port,
        metavar="PORT",
        help=f"also receive OTLP/HTTP traces on PORT ({DEFAULT_OTLP_PORT}) at /v1/traces, "
        "stored in the SQLite file or DynamoDB table served",
    )


def start_receiver(args: argparse.Namespace, out: TextIO) -> tuple[OtlpReceiver, BaseTracer]:
    """The started receiver and the store it writes to (the caller closes both)."""
    if args.source.jsonl is not None:
        raise CliError("--otlp stores into a SQLite file (--db) or a DynamoDB table (--dynamodb)")
    # A busy port is found before the store opens, so a failed start leaves no new SQLite file.
    _check_port_free(args.host, args.otlp)
    store = open_store(args.source)
    try:
        receiver = OtlpReceiver(
            store, host=args.host, port=args.otlp, allow_remote=args.allow_remote
        ).start()
    except OSError as exc:
        store.shutdown()
        raise _port_error(args.host, args.otlp, exc) from None
    except ImportError as exc:
        store.shutdown()
        raise CliError(str(exc)) from None
    print(f"Receiving OTLP/HTTP traces at {receiver.url}", file=out)
    return receiver, store


def _check_port_free(host: str, port: int) -> None:
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        raise _port_error(host, port, exc) from None


def _port_error(host: str, port: int, exc: OSError) -> CliError:
    return CliError(
        f"cannot receive OTLP on {host}:{port}: {exc.strerror or exc} "
        "(is a collector or Phoenix already listening there? pick another with --otlp PORT)"
    )
