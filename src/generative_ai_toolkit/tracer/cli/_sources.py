"""Where the command line reads spans from: a SQLite file, a DynamoDB table or a JSON-lines file.

Every source is opened as a ``TraceQuery``; the commands read through nothing else.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from .._query import SpanListQuery, TraceQuery
from .._trace import Trace
from ..sqlite import DB_PATH_ENV, SqliteQuery, TraceDatabaseError, default_db_path
from ._progress import Progress

PROG: Final = "gat-traces"
DEFAULT_GSI: Final = "conversation_index"


class CliError(Exception):
    """A failure to report as one line, exit status 1."""


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
                raise CliError(f"{path}:{number}: not a span in JSON: {one_line(exc)}") from None


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


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (its type's name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
