"""``SqliteQuery``: the ``TraceQuery`` read interface over a trace database file, in SQL.

Reads use their own read-only connection (never a writer's; the file is never created,
initialised or migrated by reading), shared by threads under a lock and re-opened after
``os.fork()`` or when the file at the path was deleted and created again. Conversation ids and
auth contexts are looked up through their indexes; other attribute filters are narrowed with
SQLite's JSON functions (the key and value always bound as parameters) and then matched
exactly in Python, so ``True`` never matches ``1`` and values of any type can be filtered on.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from .._clock import datetime_from_ns, ns_from_datetime
from .._codec import decode_attributes, decode_stored_attributes
from .._query import (
    AUTH_CONTEXT,
    CONVERSATION_ID,
    ConversationFilter,
    ConversationSummary,
    SpanNode,
    build_tree,
    conversation_key,
    matches_filter,
    sorted_by_start,
)
from .._snapshot import stored_snapshot
from .._span import DEFAULT_SCOPE, Scope
from .._trace import Trace, stored_span
from .._usage import NO_USAGE, Usage, UsageByModel
from ._connect import (
    FileIdentity,
    absolute_path,
    database_error,
    file_identity,
    open_for_reading,
    open_for_writing,
)
from ._schema import OPEN_COLUMN_VERSION, default_db_path, read_usage

#: The columns every span query selects, in the order ``span_from_row`` reads them (``open``
#: last: version 5 on; earlier files hold ended spans only).
SPAN_COLUMNS: Final = (
    "seq, trace_id, span_id, parent_span_id, name, kind, status, start_ns, end_ns, "
    "attributes, inherited_keys, resource, scope_name, scope_version, open"
)
_SPAN_COLUMNS_V3: Final = SPAN_COLUMNS.replace(", open", ", 0")
_INT64: Final = (-(2**63), 2**63 - 1)
_MASK64: Final = 2**64 - 1
_NO_USAGE: Final = (NO_USAGE, ())
#: Conversation ids per usage query (well under SQLite's limit on bound parameters).
_USAGE_CHUNK: Final = 500


_resource_cache: tuple[str, dict[str, Any]] = ("", {})


def _decode_resource(text: str) -> dict[str, Any]:
    # Consecutive spans nearly always share their resource: one decoded dict serves them all
    # (spans never change it, and hand out copies).
    global _resource_cache
    cached = _resource_cache
    if cached[0] != text:
        cached = (text, decode_attributes(text))
        _resource_cache = cached
    return cached[1]


def _id(value: int | str | None) -> int:
    # Version 3 stores span ids as INTEGERs, versions 1 and 2 as hex text.
    if value is None:
        return 0
    return value & _MASK64 if isinstance(value, int) else int(value, 16)


def span_from_row(row: Sequence[Any]) -> Trace:
    """Rebuild a span from a row of ``SPAN_COLUMNS`` (of any readable schema version)."""
    inherited = row[10]
    attributes = decode_stored_attributes(row[9], inherited)
    trace_id = row[1]
    span = stored_span(
        row[4],
        row[5],
        int.from_bytes(trace_id, "big") if type(trace_id) is bytes else int(trace_id, 16),
        _id(row[2]),
        _id(row[3]),
        row[7],
        row[8],
        attributes,
        row[6],
        _decode_resource(row[11]),
        _scope(row[12], row[13]),
        inherited,
    )
    return stored_snapshot(span, row[8]) if row[14] else span


def _scope(name: str, version: str) -> Scope:
    if name == DEFAULT_SCOPE.name and version == DEFAULT_SCOPE.version:
        return DEFAULT_SCOPE
    return Scope(name, version)


def _json_path(key: str) -> str | None:
    # SQLite JSON paths quote a key as "..." with no escape for '"' itself: such keys are
    # matched in Python only.
    return None if '"' in key else f'$."{key}"'


def _value_condition(value: Any) -> tuple[str, list[Any]]:  # noqa: PLR0911 - one per type
    """SQL narrowing ``json_type(attributes, ?)`` / ``json_extract`` to ``value``'s candidates.

    The path is the first parameter; the exact match happens in Python afterwards.
    """
    if value is None:
        return "json_type(attributes, ?) = 'null'", []
    if value is True:
        return "json_type(attributes, ?) = 'true'", []
    if value is False:
        return "json_type(attributes, ?) = 'false'", []
    if type(value) is int and _INT64[0] <= value <= _INT64[1]:
        return "json_extract(attributes, ?) = ?", [value]
    if type(value) is str:
        return "json_extract(attributes, ?) = ?", [value]
    if type(value) is float and math.isfinite(value):
        return "json_type(attributes, ?) IN ('real', 'integer')", []
    return "json_type(attributes, ?) IS NOT NULL", []


class SqliteQuery:
    """``TraceQuery`` over the trace database at ``db_path`` (default: ``default_db_path()``),
    made absolute once, at construction.

    Reads never write: the file is opened read-only. With ``create=True`` a missing file is
    first created with its schema (by a writer's connection); with ``create=False`` (how the
    CLI and the viewer open files) it is a ``FileNotFoundError``. A file that cannot be read
    is a ``TraceDatabaseError`` naming it and what to do, at construction or at the read that
    fails. Thread-safe.
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, create: bool = True):
        self._path = absolute_path(db_path if db_path is not None else default_db_path())
        if create and not self._path.exists():
            open_for_writing(self._path).close()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._identity: FileIdentity | None = None
        self._pid = 0
        self._connection()  # fail now on a missing, corrupt or foreign file

    @property
    def db_path(self) -> Path:
        """The database file (an absolute path)."""
        return self._path

    def _connection(self) -> sqlite3.Connection:
        identity = file_identity(self._path)
        if self._conn is None or self._pid != os.getpid() or identity != self._identity:
            if self._conn is not None and identity is None:
                return self._conn  # the file is gone: keep reading what was there
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()  # the file was replaced: read the new one
            # After a fork the parent's connection is left alone (never closed in the child).
            self._conn = None
            self._conn, _ = open_for_reading(self._path)
            self._identity = identity
            self._pid = os.getpid()
        return self._conn

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise database_error(self._path, exc) from None

    def _version(self) -> int:
        # The file may have been migrated since it was opened: ask for its version each time.
        return int(self._rows("PRAGMA user_version")[0][0])

    def _trace_key(self, trace_id: int, version: int) -> bytes | str:
        return f"{trace_id:032x}" if version < 3 else trace_id.to_bytes(16, "big")

    def _select(self, version: int, include_open: bool) -> tuple[str, list[str]]:
        """The start of a span query, and the condition that leaves open spans out."""
        if version < OPEN_COLUMN_VERSION:
            return f"SELECT {_SPAN_COLUMNS_V3} FROM spans", []
        return f"SELECT {SPAN_COLUMNS} FROM spans", [] if include_open else ["open = 0"]

    def close(self) -> None:
        """Close the read connection (it is re-opened when needed)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # -- TraceQuery ----------------------------------------------------------------------------

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> list[Trace]:
        """Spans of ``trace_id`` matching every ``attribute_filter`` item exactly, by start.

        ``ai.conversation.id`` and ``ai.auth.context`` are looked up through indexes, other keys
        through SQLite's JSON functions; matching is exact (same type, equal value).
        """
        version = self._version()
        sql, where = self._select(version, include_open)
        params: list[Any] = []
        if trace_id is not None:
            where.append("trace_id = ?")
            params.append(self._trace_key(_trace_id_int(trace_id), version))
        for key, value in (attribute_filter or {}).items():
            if key == CONVERSATION_ID:
                where.append("conversation_id = ?")
                params.append(conversation_key(value))
            elif key == AUTH_CONTEXT and value is not None:
                where.append("auth_context = ?")
                params.append(value if isinstance(value, str) else str(value))
            elif (path := _json_path(key)) is not None:
                condition, extra = _value_condition(value)
                where.append(condition)
                params.extend([path, *extra])
        if where:
            sql += " WHERE " + " AND ".join(where)
        spans = [span_from_row(row) for row in self._rows(sql + " ORDER BY start_ns, seq", params)]
        if attribute_filter:
            spans = [s for s in spans if matches_filter(s, attribute_filter)]
        return spans

    def list_conversations(
        self, where: ConversationFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations matching ``where``, most recently active first, one page.

        Reads the maintained ``conversations`` and ``conversation_usage`` tables; trace counts
        and durations are computed for the returned page only. A file of schema version 3 (not
        yet opened by a writer of this version) lists no token usage.
        """
        where = where or ConversationFilter()
        conditions: list[str] = []
        params: list[Any] = []
        if where.auth_context is not None:
            conditions.append("auth_context = ?")
            params.append(where.auth_context)
        if where.since is not None:
            conditions.append("last_end_ns >= ?")
            params.append(_floor_us(ns_from_datetime(where.since)))
        if where.until is not None:
            conditions.append("first_start_ns <= ?")
            params.append(_ceil_us(ns_from_datetime(where.until)))
        if where.errors_only:
            conditions.append("error_count > 0")
        if where.search:
            conditions.append("instr(lower(conversation_id), lower(?)) > 0")
            params.append(where.search)
        if where.auth_search:
            conditions.append("instr(lower(auth_context), lower(?)) > 0")
            params.append(where.auth_search)
        sql = (
            "SELECT conversation_id, auth_context, first_start_ns, last_end_ns, span_count, "
            "error_count FROM conversations"
        )
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY last_end_ns DESC, conversation_id DESC LIMIT ? OFFSET ?"
        rows = self._rows(sql, [*params, max(0, limit), max(0, offset)])
        usage = self._usage([row[0] for row in rows])
        return [self._summary(row, usage.get(row[0], _NO_USAGE)) for row in rows]

    def _usage(self, conversations: list[str]) -> dict[str, Any]:
        if not conversations or self._rows("PRAGMA user_version")[0][0] < 4:
            return {}
        rows: list[Any] = []
        for i in range(0, len(conversations), _USAGE_CHUNK):
            chunk = conversations[i : i + _USAGE_CHUNK]
            rows += self._rows(
                "SELECT * FROM conversation_usage WHERE conversation_id IN "
                f"({', '.join('?' * len(chunk))}) ORDER BY conversation_id, model_id",
                chunk,
            )
        return read_usage(rows)

    def _summary(
        self, row: Sequence[Any], usage: tuple[Usage, UsageByModel] | None = None
    ) -> ConversationSummary:
        traces, duration = self._rows(
            "SELECT count(DISTINCT trace_id), coalesce(sum(CASE WHEN parent_span_id IS NULL OR "
            "parent_span_id NOT IN (SELECT span_id FROM spans WHERE conversation_id = ?1) "
            "THEN end_ns - start_ns ELSE 0 END), 0) FROM spans WHERE conversation_id = ?1",
            [row[0]],
        )[0]
        return ConversationSummary(
            conversation_id=row[0],
            auth_context=row[1],
            first_started_at=datetime_from_ns(row[2]),
            last_ended_at=datetime_from_ns(row[3]),
            span_count=row[4],
            error_count=row[5],
            trace_count=traces,
            total_duration_ns=duration,
            usage=usage[0] if usage else NO_USAGE,
            usage_by_model=usage[1] if usage else (),
        )

    def conversation_spans(
        self, conversation_id: str, *, auth_context: str | None = None, include_open: bool = False
    ) -> list[Trace]:
        """Every span of one conversation (ids compared as text), by start time: one index
        range scan. Open spans only with ``include_open``."""
        sql, where = self._select(self._version(), include_open)
        where.append("conversation_id = ?")
        params: list[Any] = [conversation_id]
        if auth_context is not None:
            where.append("auth_context = ?")
            params.append(auth_context)
        sql += " WHERE " + " AND ".join(where)
        spans = [span_from_row(r) for r in self._rows(sql + " ORDER BY start_ns, seq", params)]
        if auth_context is not None:
            spans = [s for s in spans if s._attrs.get(AUTH_CONTEXT) == auth_context]
        return spans

    def trace_tree(self, trace_id: str, *, include_open: bool = False) -> list[SpanNode]:
        """The spans of ``trace_id`` as trees."""
        return build_tree(self.get_traces(trace_id=trace_id, include_open=include_open))

    # -- beyond TraceQuery: following and counting ---------------------------------------------

    def spans_after(self, cursor: int, *, limit: int = 1000) -> tuple[list[Trace], int]:
        """Spans stored after ``cursor`` (in the order written) and the cursor to pass next;
        open spans too (a snapshot, then the ended span, each as it is stored).

        ``latest_cursor()`` starts at the end; ``0`` starts at the beginning.
        """
        sql, _ = self._select(self._version(), True)
        rows = self._rows(f"{sql} WHERE seq > ? ORDER BY seq LIMIT ?", [cursor, limit])
        if not rows:
            return [], cursor
        return [span_from_row(row) for row in rows], rows[-1][0]

    def latest_cursor(self) -> int:
        """The cursor after the newest stored span."""
        return int(self._rows("SELECT coalesce(max(seq), 0) FROM spans")[0][0])

    def span_count(self) -> int:
        """How many spans are stored (ended ones: open spans are not counted)."""
        where = " WHERE open = 0" if self._version() >= OPEN_COLUMN_VERSION else ""
        return int(self._rows("SELECT count(*) FROM spans" + where)[0][0])

    def all_spans(self) -> list[Trace]:
        """Every stored ended span, by start time."""
        sql, where = self._select(self._version(), False)
        sql += "".join(f" WHERE {w}" for w in where)
        return sorted_by_start(
            span_from_row(row) for row in self._rows(sql + " ORDER BY start_ns, seq")
        )


def _trace_id_int(trace_id: str) -> int:
    try:
        value = int(trace_id, 16)
    except (TypeError, ValueError):
        raise ValueError(f"trace_id must be 32 hex digits, not {trace_id!r}") from None
    if not 0 <= value < 2**128:
        raise ValueError(f"trace_id must be 32 hex digits, not {trace_id!r}")
    return value


def _floor_us(ns: int) -> int:
    return ns - ns % 1000


def _ceil_us(ns: int) -> int:
    return ns - ns % 1000 + 999
