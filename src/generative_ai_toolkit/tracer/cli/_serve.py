"""The ``serve`` command: the web viewer over the command line's sources."""

from __future__ import annotations

import argparse
import webbrowser
from pathlib import Path
from typing import Any, TextIO

from .._query import TraceQuery
from ..viewer import ReloadingQuery, ViewerServer, check_bind_address
from ..viewer._server import DEFAULT_HOST, DEFAULT_PORT
from ._otlp import add_otlp_option, start_receiver


def add_serve_command(commands: Any, source: argparse.ArgumentParser) -> None:
    """Add ``serve`` to the ``gat-traces`` subcommands; ``source`` holds the source options."""
    p = commands.add_parser(
        "serve", parents=[source], help="browse conversations in a local web page"
    )
    p.description = (
        "Serve a read-only web page for browsing conversations and traces, with live updates, "
        f"on {DEFAULT_HOST} (Ctrl-C to stop)."
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0: any)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host: anyone who reaches it can read your traces",
    )
    p.add_argument("--poll", type=float, default=1.0, help="live updates every S seconds (1)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    add_otlp_option(p)
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
        query = ReloadingQuery(source.open, lambda: _file_version(path))
    else:
        query = source.open()
    server = ViewerServer(
        query,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        poll_interval=args.poll,
        title=source.describe(),
    )
    print(f"Serving {source.describe()} at {server.url} (read-only; Ctrl-C to stop)", file=out)
    out.flush()
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


def _file_version(path: Path) -> object:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)
