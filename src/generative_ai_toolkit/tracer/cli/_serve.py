"""The ``serve`` command: the web viewer over the command line's sources."""

from __future__ import annotations

import argparse
import errno
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .._query import SpanListQuery, TraceQuery
from ..viewer import ReloadingQuery, ViewerServer, check_bind_address
from ..viewer._server import DEFAULT_HOST, DEFAULT_PORT
from ._jsonl import open_jsonl
from ._otlp import add_otlp_option, start_receiver
from ._sources import CliError, one_line
from ._warnings import show_warnings_now


def add_serve_command(commands: Any, add_source_options: Callable[..., None]) -> None:
    """Add ``serve`` to the ``gat-traces`` subcommands; ``add_source_options`` adds the source
    options to a command's parser."""
    p = commands.add_parser("serve", help="browse conversations in a local web page")
    p.description = (
        "Serve a read-only web page for browsing conversations and traces, with live updates, "
        f"on {DEFAULT_HOST} (Ctrl-C to stop)."
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})")
    p.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0: any free port)"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host: anyone who reaches it can read your traces",
    )
    p.add_argument("--poll", type=float, default=1.0, help="live updates every S seconds (1)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    add_otlp_option(p, port=_port)
    add_source_options(p, color=False, pricing=True)
    p.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace, out: TextIO) -> int:
    """The ``serve`` command: serve ``args.source`` until interrupted."""
    check_bind_address(args.host, allow_remote=args.allow_remote)
    receiver = start_receiver(args, out) if args.otlp is not None else None
    try:
        return _serve(args, out)
    finally:
        if receiver is not None:
            receiver[0].close()
            receiver[1].shutdown()


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    source = args.source
    query: TraceQuery
    if source.jsonl is not None and str(source.jsonl) != "-":
        path: Path = source.jsonl
        spans = open_jsonl(path)

        def appended() -> TraceQuery:
            spans.read()  # only what was appended; the whole file again once it was replaced
            spans.report()
            return SpanListQuery(spans.spans)

        query = ReloadingQuery(appended, lambda: _file_version(path))
    else:
        query = source.open()
    try:
        server = ViewerServer(
            query,
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            poll_interval=args.poll,
            title=source.describe(),
            pricing=args.pricing,
        )
    except OSError as exc:
        raise CliError(_bind_error(exc, args.host, args.port)) from None
    print(f"Serving {source.describe()} at {server.url} (read-only; Ctrl-C to stop)", file=out)
    out.flush()
    show_warnings_now()
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.server_close()
    return 0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0 to 65535): {text}")
    return value


def _bind_error(exc: OSError, host: str, port: int) -> str:
    where = f"{host} port {port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: it is in use (another `gat-traces serve`?); "
            "pass another --port, or --port 0 for any free one"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied; pass a --port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: no such local address; check --host"
    return f"cannot listen on {where}: {one_line(exc)}"


def _file_version(path: Path) -> object:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
