"""The ``import`` command: spans from JSON lines into a SQLite file or a DynamoDB table.

It never waits forever (a store that accepts nothing for ``--timeout`` seconds is given up on),
and it always says what it stored: how many spans were new, how many were there already, and
when it stopped early, which line stopped it and what had been stored before.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import time
from pathlib import Path
from typing import TextIO

from .._base import BaseTracer
from ..sqlite import SqliteQuery, TraceDatabaseError, default_db_path
from ._progress import Progress
from ._sources import CliError, Source, one_line, open_store, read_jsonl

_LIBRARY_LOGGER = "generative_ai_toolkit.tracer"
DEFAULT_TIMEOUT = 10.0


class _LastProblem(logging.Handler):
    """Keeps why the library last failed (its exception, else its warning), to say why spans
    were not stored without ``-v``."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.cause: str | None = None
        self.warning: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                self.cause = f"{type(exc).__name__}: {one_line(exc)}"
            else:
                self.warning = one_line(Exception(record.getMessage()))
        except Exception:  # noqa: BLE001 - a bad log call must not stop the import
            pass

    @property
    def message(self) -> str | None:
        return self.cause or self.warning


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    """Store the spans of ``args.file`` in ``args.source``; see the module docstring."""
    source: Source = args.source
    path: Path = args.file
    timeout: float = args.timeout
    total = path.stat().st_size if str(path) != "-" and path.is_file() else None
    problems = _LastProblem()
    logger = logging.getLogger(_LIBRARY_LOGGER)
    logger.addHandler(problems)
    try:
        before = _span_count(source)
        tracer = open_store(source, shutdown_timeout=1.0)
        progress = Progress(f"importing {path}", total, sys.stderr)
        count, stopped_by, complete = 0, None, True
        try:
            try:
                for span in read_jsonl(path, progress=progress):
                    tracer._emit(span)
                    count += 1
                    progress.item()
                    if count % 5000 == 0 and not _flush(tracer, timeout):
                        complete = False  # keep the bounded queue from overflowing
                        break
            except CliError as exc:
                stopped_by = exc
            complete = complete and _flush(tracer, timeout)
        finally:
            tracer.shutdown()
            progress.finish()
    finally:
        logger.removeHandler(problems)
    stats = tracer.stats
    not_stored = stats.get("dropped", 0) + stats.get("pending", 0)
    stored_count = count - not_stored
    stored = f"{stored_count} spans into {source.describe()}{_news(source, before, stored_count)}"
    if not_stored or not complete:
        why = f": {problems.message}" if problems.message else ""
        gave_up = "" if complete else f" (nothing could be stored for {timeout:g}s)"
        raise CliError(
            f"{not_stored} of {count} spans could not be stored in {source.describe()}"
            f"{gave_up}{why}"
        )
    if stopped_by is not None and count == 0:
        raise stopped_by
    if stopped_by is not None:
        raise CliError(f"{stopped_by}; stopped there, after importing {stored}")
    print(f"imported {stored}", file=sys.stderr)
    return 0


def _flush(tracer: BaseTracer, timeout: float) -> bool:
    """Wait while spans are being stored; ``False`` once none was for ``timeout`` seconds."""
    written = tracer.stats.get("written", 0)
    progress_at = time.monotonic()
    while not tracer.flush(min(0.25, timeout)):
        now_written = tracer.stats.get("written", 0)
        if now_written != written:
            written, progress_at = now_written, time.monotonic()
        elif time.monotonic() - progress_at >= timeout:
            return False
    return True


def _span_count(source: Source) -> int | None:
    """Spans stored in the SQLite target now (``None`` for DynamoDB or a file not there yet)."""
    if source.dynamodb:
        return None
    try:
        query = SqliteQuery(source.db or default_db_path(), create=False)
    except (FileNotFoundError, TraceDatabaseError, sqlite3.Error, OSError):
        return None
    try:
        return query.span_count()
    except sqlite3.Error:
        return None
    finally:
        query.close()


def _news(source: Source, before: int | None, stored: int) -> str:
    """``" (3 new, 1 already there)"`` for SQLite, which keeps a span stored twice once."""
    after = _span_count(source)
    if source.dynamodb or after is None:
        return ""
    new = after - (before or 0)
    return f" ({new} new, {stored - new} already there)"
