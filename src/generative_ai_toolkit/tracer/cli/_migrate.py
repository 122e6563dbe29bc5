"""``gat-traces dynamodb migrate``: add the conversation summary indexes to a traces table and
backfill the summaries from the spans already stored (resumable, with a progress bar)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from ._progress import Progress
from ._sources import DEFAULT_GSI, CliError, one_line


def add_dynamodb_command(commands: Any) -> None:
    """Add ``dynamodb migrate`` to the ``gat-traces`` subcommands."""
    group = commands.add_parser("dynamodb", help="maintain a DynamoDB traces table")
    group.description = "Maintain a DynamoDB traces table."
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "migrate", help="add the conversation summary indexes and backfill the summaries"
    )
    p.description = (
        "Add the conversation summary indexes (conversation_activity, auth_activity) to a "
        "traces table and backfill a summary per conversation from the spans already stored. "
        "Resumable: a run that is stopped continues from its checkpoint file; running it "
        "again recomputes the same summaries, nothing is counted twice."
    )
    p.add_argument("--table", required=True, help="the DynamoDB traces table")
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="where progress is saved (default: ./gat-traces-migrate-TABLE.json)",
    )
    p.add_argument("--page-size", type=int, default=1000, help="items per Scan request (1000)")
    p.add_argument(
        "--pause", type=float, default=0.0, help="seconds between Scan requests (spares capacity)"
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show the library's log messages on stderr"
    )
    p.set_defaults(handler=run_migrate, db=None, dynamodb=None, gsi=DEFAULT_GSI, jsonl=None)


def run_migrate(args: argparse.Namespace, out: TextIO) -> int:
    """Create the indexes, then scan and write the summaries; progress on stderr."""
    try:
        from ..dynamodb import dynamodb_client  # noqa: PLC0415 - boto3 only when asked for
        from ..dynamodb._migrate import Backfill, add_summary_indexes  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(f"DynamoDB is not available: {exc}") from None
    if args.page_size < 1:
        raise CliError("--page-size must be at least 1")
    table: str = args.table
    checkpoint: Path = args.checkpoint or Path(f"gat-traces-migrate-{table}.json")
    client = dynamodb_client()
    try:
        created = add_summary_indexes(client, table)
        for name in created:
            print(f"created index {name} on {table}", file=sys.stderr)
        backfill = Backfill(
            client, table, checkpoint=checkpoint, page_size=args.page_size, pause=args.pause
        )
        if backfill.resumed:
            print(
                f"resuming from {checkpoint}: {backfill.state.scanned} items scanned before",
                file=sys.stderr,
            )
        total = client.describe_table(TableName=table)["Table"].get("ItemCount")
        scanning = Progress(f"scanning {table}", total or None, sys.stderr)
        scanning.advance(backfill.state.scanned)
        backfill.scan(lambda count: scanning.advance(count, items=count))
        scanning.finish()
        writing = Progress("writing summaries", None, sys.stderr)
        written = backfill.write(lambda: writing.advance(items=1))
        writing.finish()
    except (CliError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - botocore errors: one line, the checkpoint stays
        raise CliError(f"migrating {table!r}: {type(exc).__name__}: {one_line(exc)}") from None
    finally:
        client.close()
    out.write(
        f"{table}: {backfill.state.scanned} items scanned, {written} conversation summaries "
        f"written\n"
    )
    return 0
