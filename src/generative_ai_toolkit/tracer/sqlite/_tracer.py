"""``SqliteTracer``: spans stored in a local SQLite file; the embedded default store.

No server to run: ``SqliteTracer()`` writes to ``$GAT_TRACES_DB`` or ``./traces.sqlite3``, and
``gat-traces`` reads the same file. Writes go through the shared background engine in batches;
reads (``TraceQuery``) use a connection of their own.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

from .._clock import Clock
from .._export import DEFAULT_SCHEDULE_DELAY
from .._exporting import StoringTracer
from .._ids import IdGenerator
from .._redact import Redact
from .._sampling import Sampler
from .._snapshot import DEFAULT_SNAPSHOT_INTERVAL
from .._span import Scope
from .._spanqueue import QueueFullPolicy
from ._connect import absolute_path, database_error, open_for_writing
from ._query import SqliteQuery
from ._schema import BUSY_TIMEOUT_MS, default_db_path
from ._writer import DEFAULT_MAX_SPAN_BYTES, SqliteSpanWriter, apply_retention

_log = logging.getLogger("generative_ai_toolkit.tracer")


def _age_ns(max_age: timedelta | float | None) -> int | None:
    if max_age is None:
        return None
    seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else float(max_age)
    if seconds <= 0:
        raise ValueError(f"max_age must be positive, not {max_age!r}")
    return int(seconds * 1_000_000_000)


class SqliteTracer(StoringTracer):
    """Stores spans in the SQLite file ``db_path`` (default: ``$GAT_TRACES_DB``, else
    ``./traces.sqlite3``), created with its schema on first use.

    - The traced code only queues the span; a background worker writes batches (one
      transaction each). Several processes may write one file at once (WAL mode; a writer
      waiting for another's lock retries, losing nothing).
    - When the writer falls behind and the queue (``max_queue_size``) is full, the traced code
      waits for room (``on_queue_full="block"``, the default here: at most ``block_timeout``
      seconds, then the span is dropped and counted) rather than lose spans; ``"drop"`` never
      waits.
    - ``get_traces`` and the other ``TraceQuery`` methods flush first (waiting at most
      ``read_flush_timeout`` seconds) so they see every span ended before the call.
    - Retention: ``max_age`` (a ``timedelta`` or seconds) and ``max_spans`` delete the oldest
      spans, checked at most every ``retention_interval`` seconds while writing, or on demand
      with ``apply_retention()``; freed space is returned to the file system.
    - ``busy_timeout``: seconds a write waits for another process's lock before it is retried
      (with backoff, by the export engine).
    - A span whose attributes exceed ``max_span_bytes`` of JSON is stored with its largest
      values cut down and listed in ``ai.storage.truncated_keys``, never dropped.
    - Open spans: a span still open a moment after it opened is stored as a snapshot (one row,
      marked open), taken again every ``snapshot_interval`` seconds (``None``: off) and
      replaced by the ended span; reads return open spans only with ``include_open=True``.

    Raises ``TraceDatabaseError`` at construction when ``db_path`` is not a trace database, and
    ``ValueError`` for bad options.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        max_age: timedelta | float | None = None,
        max_spans: int | None = None,
        retention_interval: float = 60.0,
        max_span_bytes: int = DEFAULT_MAX_SPAN_BYTES,
        read_flush_timeout: float = 10.0,
        busy_timeout: float = BUSY_TIMEOUT_MS / 1000,
        max_queue_size: int = 20_000,
        max_batch_size: int = 2000,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        max_retry_delay: float = 5.0,
        shutdown_timeout: float = 10.0,
        on_queue_full: QueueFullPolicy = "block",
        block_timeout: float = 5.0,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = DEFAULT_SNAPSHOT_INTERVAL,
    ) -> None:
        if max_spans is not None and (isinstance(max_spans, bool) or max_spans < 1):
            raise ValueError(f"max_spans must be a positive int, not {max_spans!r}")
        if max_span_bytes < 1024:
            raise ValueError(f"max_span_bytes must be at least 1024, not {max_span_bytes!r}")
        if retention_interval < 0 or read_flush_timeout < 0:
            raise ValueError("retention_interval and read_flush_timeout must not be negative")
        # Resolved once: a later os.chdir() must not send spans to one file and reads to another.
        self._path = absolute_path(db_path if db_path is not None else default_db_path())
        self._max_age_ns = _age_ns(max_age)
        self._max_spans = max_spans
        self._read_flush_timeout = read_flush_timeout
        # Creates and migrates the file, or fails now rather than in the background writer.
        try:
            open_for_writing(self._path, busy_timeout_ms=int(busy_timeout * 1000)).close()
        except sqlite3.OperationalError as exc:  # locked by another process past busy_timeout
            raise database_error(self._path, exc) from None
        self._query = SqliteQuery(self._path, create=False)
        self._reader = self._query
        self._writer = SqliteSpanWriter(
            self._path,
            max_span_bytes=max_span_bytes,
            max_age_ns=self._max_age_ns,
            max_spans=max_spans,
            retention_interval=retention_interval,
            busy_timeout_ms=int(busy_timeout * 1000),
            now_ns=self.now_ns,
        )
        super().__init__(
            self._writer,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay=schedule_delay,
            max_retry_delay=max_retry_delay,
            shutdown_timeout=shutdown_timeout,
            on_queue_full=on_queue_full,
            block_timeout=block_timeout,
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )

    @property
    def db_path(self) -> Path:
        """The database file (an absolute path)."""
        return self._path

    # -- maintenance ---------------------------------------------------------------------------

    def apply_retention(self) -> int:
        """Apply ``max_age`` / ``max_spans`` now (after a flush); how many spans were deleted."""
        self._flush_before_read()
        if self._max_age_ns is None and self._max_spans is None:
            return 0
        conn = open_for_writing(self._path)
        try:
            return apply_retention(
                conn, max_age_ns=self._max_age_ns, max_spans=self._max_spans, now_ns=self.now_ns
            )
        finally:
            conn.close()

    def shutdown(self) -> None:
        """Flush, stop the writer and close the read connection (first, so the writer's
        connection is the last: closing it folds the write-ahead log into the file)."""
        self._query.close()
        super().shutdown()

    @property
    def stats(self) -> dict[str, int]:
        """The exporter's counts plus ``truncated`` (spans stored cut down) and
        ``deleted_by_retention``."""
        return {
            **super().stats,
            "truncated": self._writer.truncated,
            "deleted_by_retention": self._writer.deleted,
        }
