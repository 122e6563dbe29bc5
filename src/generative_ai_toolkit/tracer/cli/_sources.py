"""Where the command line reads spans from: a SQLite file, a DynamoDB table or a JSON-lines file.

Every source is opened as a ``TraceQuery``; the commands read through nothing else.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._base import BaseTracer
from .._query import SpanListQuery, TraceQuery
from ..sqlite import DB_PATH_ENV, SqliteQuery, SqliteTracer, TraceDatabaseError, default_db_path
from ._errors import PROG, CliError, one_line
from ._jsonl import open_jsonl, read_jsonl

__all__ = ["PROG", "CliError", "Source", "one_line", "open_dynamodb", "read_jsonl"]

DEFAULT_GSI: Final = "conversation_index"


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
            query: TraceQuery = open_dynamodb(self.dynamodb, self.gsi)
            return query
        if self.jsonl:
            return SpanListQuery(open_jsonl(self.jsonl).spans)
        path = self.db or default_db_path()
        try:
            return SqliteQuery(path, create=False)
        except FileNotFoundError:
            raise CliError(
                f"no trace database at {path} (run the demo, pass --db, or set {DB_PATH_ENV})"
            ) from None
        except TraceDatabaseError as exc:
            raise CliError(str(exc)) from None


def open_dynamodb(table: str, gsi: str, **options: Any) -> Any:
    """A ``DynamoDbTracer`` on ``table`` (``options`` go to it); ``CliError`` when unavailable."""
    try:
        from ..dynamodb import DynamoDbTracer  # noqa: PLC0415 - boto3 only when asked for
    except ImportError as exc:
        raise CliError(f"DynamoDB is not available: {exc}") from None
    try:
        return DynamoDbTracer(table_name=table, conversation_id_gsi_name=gsi, **options)
    except ImportError as exc:
        raise CliError(f"DynamoDB is not available: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - botocore errors, a missing table: one line
        raise CliError(f"cannot read DynamoDB table {table!r}: {one_line(exc)}") from None


def open_store(source: Source, **options: Any) -> BaseTracer:
    """A tracer writing into ``source``'s SQLite file or DynamoDB table (``options`` go to it);
    ``CliError`` when it cannot be opened. The caller refuses JSON-lines sources."""
    if source.dynamodb:
        tracer: BaseTracer = open_dynamodb(source.dynamodb, source.gsi, **options)
        return tracer
    try:
        return SqliteTracer(source.db or default_db_path(), **options)
    except (TraceDatabaseError, sqlite3.Error, OSError) as exc:
        raise CliError(one_line(exc)) from None
