"""``SqliteSpanWriter``: the ``SpanWriter`` that stores batches of spans in a trace database,
and the retention sweep that deletes old spans.

One batch is one write transaction (``BEGIN IMMEDIATE``): the spans and the ``conversations``
summary rows change together. Another process holding the write lock longer than the busy
timeout makes the write a ``RetryableError``, so the engine retries it and nothing is lost. A
failure that does not depend on the spans (a read-only file, a full disk, a file that is not
a database) is a ``BatchRejectedError``: the engine drops the batch in one log line.

After each batch the writer checks that the file at the path is still the one it wrote to
(device and inode): when it was deleted or replaced, it logs that once, opens (or creates) the
file now at the path and writes the batch again there (a span already stored is kept once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from .._codec import encode_attributes, encode_attributes_within
from .._query import AUTH_CONTEXT, CONVERSATION_ID, conversation_key
from .._snapshot import snapshot_time
from .._text import valid_text
from .._trace import Trace
from .._usage import UsageTally, span_usage
from .._writer import BatchRejectedError, RetryableError
from ._connect import (
    FileIdentity,
    database_error,
    error_kind,
    file_identity,
    open_for_writing,
)
from ._schema import (
    BUSY_TIMEOUT_MS,
    UPSERT_USAGE,
    TraceDatabaseError,
    ensure_touched_table,
    rebuild_conversations,
    usage_rows,
)

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: Attributes of one span are cut down to this many bytes of JSON by default (see
#: ``_codec.encode_attributes_within``).
DEFAULT_MAX_SPAN_BYTES: Final = 1_000_000

_INSERT: Final = (
    "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, status, "
    "start_ns, end_ns, conversation_id, auth_context, attributes, inherited_keys, resource, "
    "scope_name, scope_version, open) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: Removes the open row an incoming row replaces: any snapshot for an ended span, an older one
#: for a snapshot. An ended row is never removed, so a late snapshot is then not inserted.
_REPLACE_OPEN: Final = (
    "DELETE FROM spans WHERE span_id = ? AND open = 1 AND start_ns = ? AND trace_id = ? "
    "AND (? = 0 OR end_ns < ?)"
)
_ANY_OPEN: Final = "SELECT 1 FROM spans WHERE open = 1 LIMIT 1"
_UPSERT_CONVERSATION: Final = """
INSERT INTO conversations (conversation_id, auth_context, first_start_ns, last_end_ns,
                           span_count, error_count)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (conversation_id) DO UPDATE SET
    auth_context = coalesce(auth_context, excluded.auth_context),
    first_start_ns = min(first_start_ns, excluded.first_start_ns),
    last_end_ns = max(last_end_ns, excluded.last_end_ns),
    span_count = span_count + excluded.span_count,
    error_count = error_count + excluded.error_count
"""
_RETENTION_CHUNK: Final = 5_000
#: SQLite error families that say nothing about the spans being written.
_NOT_ABOUT_THE_SPANS: Final = frozenset(
    {"READONLY", "FULL", "CORRUPT", "CANTOPEN", "IOERR", "PERM", "AUTH", "NOLFS"}
)


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


class SqliteSpanWriter:
    """Writes batches of spans to the trace database at ``path``; one connection, opened on the
    worker thread at the first write (and re-opened in a forked child).

    ``max_age_ns`` / ``max_spans`` enable retention, swept at most every
    ``retention_interval`` seconds after a write.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_span_bytes: int = DEFAULT_MAX_SPAN_BYTES,
        max_age_ns: int | None = None,
        max_spans: int | None = None,
        retention_interval: float = 60.0,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._max_span_bytes = max_span_bytes
        self._max_age_ns = max_age_ns
        self._max_spans = max_spans
        self._retention_interval = retention_interval
        self._now_ns = now_ns
        self._conn: sqlite3.Connection | None = None
        self._identity: FileIdentity | None = None
        self._pid = 0
        self._resource: tuple[object, str] = (None, "{}")
        self._trace: tuple[int, bytes] = (-1, b"")
        self._next_retention = 0.0
        self.truncated = 0
        self.deleted = 0

    def __repr__(self) -> str:
        return f"SqliteSpanWriter({str(self._path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self._conn = None
            conn = open_for_writing(self._path, busy_timeout_ms=self._busy_timeout_ms)
            self._identity = file_identity(self._path)
            conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: index pages stay cached
            ensure_touched_table(conn)
            self._conn = conn
            self._pid = os.getpid()
        return self._conn

    def _still_at_the_path(self) -> bool:
        """Whether the file at the path is the one the connection writes to. When not (deleted
        or replaced), the old file's write-ahead log is emptied into it (a new file at the path
        must never replay it) and the connection closed, so the next one opens the new file."""
        if file_identity(self._path) == self._identity:
            return True
        assert self._conn is not None
        busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            raise TraceDatabaseError(
                f"{self._path} was deleted or replaced while another connection still reads "
                f"the old file: its spans go to the new file once that connection closes"
            )
        _log.warning(
            "%s was deleted or replaced while spans were written to it: writing to the file "
            "now at that path (created if needed)",
            self._path,
        )
        self.close()
        return False

    def _row(self, span: Trace) -> tuple[Any, ...]:
        attrs = span._attrs
        text = encode_attributes(attrs)
        limit = self._max_span_bytes
        if len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit:
            text, cut = encode_attributes_within(attrs, limit)
            if cut:
                self.truncated += 1
                _log.warning(
                    "span %r is larger than %d bytes: stored with %s cut down",
                    span._name,
                    limit,
                    ", ".join(cut),
                )
        resource = self._resource
        if resource[0] is not span._resource:
            resource = (span._resource, encode_attributes(span.resource_attributes))
            self._resource = resource
        n_own = span._n_own
        span_id = span._span_id
        parent_id = span._parent_id
        trace = self._trace
        if trace[0] != span._trace_id:  # a batch holds runs of spans of one trace
            trace = (span._trace_id, span._trace_id.to_bytes(16, "big"))
            self._trace = trace
        end_ns = span._end_ns
        return (
            trace[1],
            span_id - ((span_id >> 63) << 64),  # id_to_sql, inlined: once per span
            parent_id - ((parent_id >> 63) << 64) if parent_id else None,
            span._name,
            span._kind,
            span._status,
            span._start_ns,
            end_ns or snapshot_time(span),  # an open span's row holds when it was last seen
            conversation_key(attrs.get(CONVERSATION_ID)),
            _text_or_none(attrs.get(AUTH_CONTEXT)),
            text,
            len(attrs) - n_own if n_own >= 0 else 0,
            resource[1],
            span._scope.name,
            span._scope.version,
            0 if end_ns else 1,
        )

    def write(self, batch: Sequence[Trace]) -> None:
        """Store ``batch`` in one transaction: ``RetryableError`` while another process holds
        the lock, ``BatchRejectedError`` when the file cannot take any spans."""
        rows = [self._row(span) for span in batch]
        usage = _usage(batch, rows)
        try:
            conn = self._connection()
            self._insert_repaired(conn, rows, usage)
            if not self._still_at_the_path():
                conn = self._connection()
                self._insert_repaired(conn, rows, usage)
        except sqlite3.Error as exc:
            kind = error_kind(exc)
            if kind == "BUSY":
                raise RetryableError(f"{self._path}: {exc}") from None
            if kind in _NOT_ABOUT_THE_SPANS:
                raise BatchRejectedError(str(database_error(self._path, exc))) from None
            raise
        except TraceDatabaseError as exc:
            raise BatchRejectedError(str(exc)) from None
        if (self._max_age_ns or self._max_spans) and time.monotonic() >= self._next_retention:
            self._next_retention = time.monotonic() + self._retention_interval
            try:
                self.deleted += apply_retention(
                    conn,
                    max_age_ns=self._max_age_ns,
                    max_spans=self._max_spans,
                    now_ns=self._now_ns,
                )
            except sqlite3.Error:
                # The spans are stored; a failed sweep is retried at the next interval.
                _log.warning("retention sweep of %s failed", self._path, exc_info=True)

    def _insert_repaired(
        self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]], usage: list[tuple[Any, ...]]
    ) -> None:
        try:
            self._insert(conn, rows, usage)
        except UnicodeEncodeError:
            # A lone surrogate (json.loads makes one of "\ud83d"): store U+FFFD instead.
            self._insert(
                conn, [_valid_row(row) for row in rows], [_valid_row(row) for row in usage]
            )

    def _insert(
        self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]], usage: list[tuple[Any, ...]]
    ) -> None:
        has_open = any(row[15] for row in rows)
        if has_open:
            rows = _one_row_per_span(rows)
        conversations: dict[str, list[Any]] = {}
        for row in rows:
            key = row[8]
            if key is None:
                continue
            ended = not row[15]  # a snapshot is activity, but the span is counted when it ends
            summary = conversations.get(key)
            if summary is None:
                error = ended and row[5] == "ERROR"
                conversations[key] = [key, row[9], row[6], row[7], int(ended), error, row[6]]
                continue
            if row[9] is not None and (summary[1] is None or row[6] < summary[6]):
                summary[1], summary[6] = row[9], row[6]
            summary[2] = min(summary[2], row[6])
            summary[3] = max(summary[3], row[7])
            summary[4] += ended
            summary[5] += ended and row[5] == "ERROR"
        with _write_transaction(conn):
            if has_open or conn.execute(_ANY_OPEN).fetchone() is not None:
                conn.executemany(_REPLACE_OPEN, [(r[1], r[6], r[0], r[15], r[7]) for r in rows])
            inserted = conn.executemany(_INSERT, rows).rowcount
            if inserted == len(rows):
                conn.executemany(_UPSERT_CONVERSATION, [s[:6] for s in conversations.values()])
                conn.executemany(UPSERT_USAGE, usage)
            else:
                # Some spans were stored before (an import run twice): recount from the table.
                conn.executemany(
                    "INSERT OR IGNORE INTO temp.touched VALUES (?)",
                    [(key,) for key in conversations],
                )
                rebuild_conversations(conn)

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


def _one_row_per_span(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The batch with one row per span: the ended one, else the latest snapshot."""
    best: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        key = (row[0], row[1], row[6])
        held = best.get(key)
        if held is None or (held[15] and (not row[15] or row[7] > held[7])):
            best[key] = row
    return list(best.values())


def _usage(batch: Sequence[Trace], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``UPSERT_USAGE`` parameters of the batch: usage per conversation and model."""
    tallies: dict[str, UsageTally] = {}
    for span, row in zip(batch, rows, strict=True):
        if row[8] is None or row[15]:
            continue  # no conversation, or an open span (counted when it ends)
        found = span_usage(span._attrs)
        if found is not None:
            tallies.setdefault(row[8], UsageTally()).add(*found)
    return usage_rows(tallies)


def _valid_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(valid_text(value) if type(value) is str else value for value in row)


class _write_transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                # A failed COMMIT (a full disk) may leave the transaction open, and every later
                # BEGIN would then fail for a reason that hides the real one.
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the error being raised says more
                self._conn.execute("ROLLBACK")


def apply_retention(
    conn: sqlite3.Connection,
    *,
    max_age_ns: int | None,
    max_spans: int | None,
    now_ns: Callable[[], int] = time.time_ns,
) -> int:
    """Delete spans that started more than ``max_age_ns`` ago and the oldest beyond
    ``max_spans``; keep the conversation summaries right; give the freed pages back to the
    file system. Deletes in short transactions so writers in other processes keep going.
    Returns how many spans were deleted."""
    ensure_touched_table(conn)
    deleted = 0
    if max_age_ns is not None:
        cutoff = now_ns() - max_age_ns
        while n := _delete_chunk(conn, "start_ns < ?", [cutoff], _RETENTION_CHUNK):
            deleted += n
    if max_spans is not None:
        excess = conn.execute("SELECT count(*) FROM spans").fetchone()[0] - max_spans
        while excess > 0:
            n = _delete_chunk(conn, "1", [], min(excess, _RETENTION_CHUNK))
            if not n:
                break
            deleted += n
            excess -= n
    if deleted:
        # executescript steps the pragma to the end; execute() would free a single page.
        conn.executescript("PRAGMA incremental_vacuum;")
        # The file only shrinks once the WAL is checkpointed; readers may delay that (no error).
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        _log.info("retention deleted %d span(s)", deleted)
    return deleted


def _delete_chunk(conn: sqlite3.Connection, condition: str, params: list[Any], limit: int) -> int:
    with _write_transaction(conn):
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (seq INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.doomed")
        conn.execute(
            f"INSERT INTO temp.doomed SELECT seq FROM spans WHERE {condition} "
            "ORDER BY start_ns, seq LIMIT ?",
            [*params, limit],
        )
        conn.execute(
            "INSERT OR IGNORE INTO temp.touched SELECT DISTINCT conversation_id FROM spans "
            "WHERE seq IN (SELECT seq FROM temp.doomed) AND conversation_id IS NOT NULL"
        )
        count: int = conn.execute(
            "DELETE FROM spans WHERE seq IN (SELECT seq FROM temp.doomed)"
        ).rowcount
        rebuild_conversations(conn)
    return count
