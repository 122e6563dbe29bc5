"""The SQLite trace database: schema, migrations, and preparing a writer's connection
(``_connect`` opens the files).

The schema version lives in ``PRAGMA user_version``. ``MIGRATIONS[n]`` brings a database from
version ``n`` to ``n + 1``; a writer opening a database applies what is missing, in one write
transaction, so several processes opening the same new file at once agree on one schema.
Readers never migrate: they read versions ``MIN_READABLE_VERSION`` to ``SCHEMA_VERSION``.

Tables:

- ``spans``: one row per span. The trace id as a 16-byte big-endian BLOB, span ids as 64-bit
  INTEGERs (the unsigned id's bits read as signed: ``id_to_sql``), times as epoch nanoseconds,
  ``attributes`` and ``resource`` as ``_codec.encode_attributes`` JSON (types round-trip),
  ``conversation_id`` as text (``conversation_key``), ``auth_context`` as text. ``seq``
  (insertion order) lets a reader follow new spans. Versions 1 and 2 held ids as hex text,
  with a unique index on them; random trace ids made that index the cost of every write.
- ``conversations``: one row per conversation id, kept up to date in the same transaction as
  the spans, so listing conversations never aggregates the spans table.
- ``conversation_usage`` (version 4): token usage per conversation id and model id (``_usage``),
  kept up to date like ``conversations``; version 3 files get it filled from their spans.

Version 5 adds ``open``: 1 for a snapshot of a span still open (``end_ns`` is then the time of
the snapshot), 0 for an ended span. A span has at most one row; the writer replaces an open
row by a newer snapshot or by the ended span, never the other way round. Conversation
summaries and usage count ended spans only; a snapshot moves ``last_end_ns`` (the last
activity) on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from .._codec import decode_stored_attributes
from .._genai_semconv import USAGE_ATTRIBUTE
from .._usage import USAGE_FIELDS, Usage, UsageTally, span_usage

#: Where traces go when no path is given: ``$GAT_TRACES_DB``, else this file in the current
#: directory (next to the project being traced, like ``.git`` or a virtualenv).
DEFAULT_DB_NAME: Final = "traces.sqlite3"
DB_PATH_ENV: Final = "GAT_TRACES_DB"

#: How long a connection waits for another process's write lock before giving up (ms).
BUSY_TIMEOUT_MS: Final = 5_000


class TraceDatabaseError(Exception):
    """The file cannot be used as a trace database (a directory, corrupt, foreign, newer,
    read-only, on a full disk ...); the message names the file and what to do."""


def default_db_path() -> Path:
    """``$GAT_TRACES_DB`` when set, else ``./traces.sqlite3``."""
    return Path(os.environ.get(DB_PATH_ENV) or DEFAULT_DB_NAME)


_V1: Final = """
CREATE TABLE spans (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    conversation_id TEXT,
    auth_context TEXT,
    attributes TEXT NOT NULL,
    inherited_keys INTEGER NOT NULL DEFAULT 0,
    resource TEXT NOT NULL DEFAULT '{}',
    scope_name TEXT NOT NULL,
    scope_version TEXT NOT NULL
);
CREATE UNIQUE INDEX spans_by_trace ON spans (trace_id, span_id);
CREATE INDEX spans_by_conversation ON spans (conversation_id, start_ns)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX spans_by_auth_context ON spans (auth_context, start_ns)
    WHERE auth_context IS NOT NULL;
CREATE INDEX spans_by_start ON spans (start_ns);
"""

_V2: Final = """
CREATE TABLE conversations (
    conversation_id TEXT PRIMARY KEY,
    auth_context TEXT,
    first_start_ns INTEGER NOT NULL,
    last_end_ns INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_by_last_end ON conversations (last_end_ns);
"""

#: The rebuild as versions 2 to 4 had it (no ``open`` column yet): used by the migration to 2.
_REBUILD_V2: Final = """
DELETE FROM conversations WHERE conversation_id IN (SELECT conversation_id FROM temp.touched);
INSERT INTO conversations
SELECT s.conversation_id,
       (SELECT a.auth_context FROM spans a
         WHERE a.conversation_id = s.conversation_id AND a.auth_context IS NOT NULL
         ORDER BY a.start_ns LIMIT 1),
       min(s.start_ns), max(s.end_ns), count(*), sum(s.status = 'ERROR')
FROM spans s
WHERE s.conversation_id IN (SELECT conversation_id FROM temp.touched)
GROUP BY s.conversation_id;
DELETE FROM temp.touched;
"""


_V3: Final = """
CREATE TABLE spans_v3 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id BLOB NOT NULL,
    span_id INTEGER NOT NULL,
    parent_span_id INTEGER,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    conversation_id TEXT,
    auth_context TEXT,
    attributes TEXT NOT NULL,
    inherited_keys INTEGER NOT NULL DEFAULT 0,
    resource TEXT NOT NULL DEFAULT '{}',
    scope_name TEXT NOT NULL,
    scope_version TEXT NOT NULL
);
INSERT INTO spans_v3
SELECT seq, gat_hex_blob(trace_id), gat_hex_int(span_id), gat_hex_int(parent_span_id), name, kind,
       status, start_ns, end_ns, conversation_id, auth_context, attributes, inherited_keys,
       resource, scope_name, scope_version
FROM spans ORDER BY seq;
DROP TABLE spans;
ALTER TABLE spans_v3 RENAME TO spans;
CREATE UNIQUE INDEX spans_by_start ON spans (start_ns, span_id, trace_id);
CREATE INDEX spans_by_trace ON spans (trace_id);
CREATE INDEX spans_by_conversation ON spans (conversation_id, start_ns)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX spans_by_auth_context ON spans (auth_context, start_ns)
    WHERE auth_context IS NOT NULL;
"""

#: SQL that rebuilds the ``conversations`` rows of the conversation ids in temp table ``touched``
#: from the spans table (after a retention sweep, a duplicate import or a replaced snapshot).
REBUILD_CONVERSATIONS: Final = """
DELETE FROM conversations WHERE conversation_id IN (SELECT conversation_id FROM temp.touched);
INSERT INTO conversations
SELECT s.conversation_id,
       (SELECT a.auth_context FROM spans a
         WHERE a.conversation_id = s.conversation_id AND a.auth_context IS NOT NULL
         ORDER BY a.start_ns LIMIT 1),
       min(s.start_ns), max(s.end_ns), sum(s.open = 0), sum(s.status = 'ERROR' AND s.open = 0)
FROM spans s
WHERE s.conversation_id IN (SELECT conversation_id FROM temp.touched)
GROUP BY s.conversation_id;
DELETE FROM temp.touched;
"""

_V5: Final = """
ALTER TABLE spans ADD COLUMN open INTEGER NOT NULL DEFAULT 0;
CREATE INDEX spans_open ON spans (span_id) WHERE open = 1
"""

_V4: Final = """
CREATE TABLE conversation_usage (
    conversation_id TEXT NOT NULL,
    model_id TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    llm_calls INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, model_id)
) WITHOUT ROWID;
"""
#: Adds one batch's usage of one (conversation id, model id) to its row.
UPSERT_USAGE: Final = (
    "INSERT INTO conversation_usage (conversation_id, model_id, "
    + ", ".join(USAGE_FIELDS)
    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, model_id) DO UPDATE SET "
    + ", ".join(f"{f} = {f} + excluded.{f}" for f in USAGE_FIELDS)
)

_MASK64: Final = (1 << 64) - 1


def id_to_sql(value: int) -> int:
    """A 64-bit unsigned id as the SQLite INTEGER with the same bits."""
    return value - ((value >> 63) << 64)


def id_from_sql(value: int) -> int:
    """The unsigned id an ``id_to_sql`` INTEGER stands for."""
    return value & _MASK64


def _hex_int(text: str | None) -> int | None:
    return None if not text else id_to_sql(int(text, 16))


def _hex_blob(text: str) -> bytes:
    return int(text, 16).to_bytes(16, "big")


def _migrate_to_v3(conn: sqlite3.Connection) -> None:
    # Ids become integers and BLOBs. The unique index moves from the random ids to start time
    # (a span stored twice has the same start, span and trace id), which grows at its end.
    conn.create_function("gat_hex_int", 1, _hex_int, deterministic=True)
    conn.create_function("gat_hex_blob", 1, _hex_blob, deterministic=True)
    last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'spans'").fetchone()
    run_script(conn, _V3)
    if last is not None:  # ``tail`` cursors stay valid: seq never goes back
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'spans'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('spans', ?)", last)


def _migrate_to_v2(conn: sqlite3.Connection) -> None:
    run_script(conn, _V2)
    ensure_touched_table(conn)
    conn.execute(
        "INSERT OR IGNORE INTO temp.touched SELECT DISTINCT conversation_id FROM spans "
        "WHERE conversation_id IS NOT NULL"
    )
    run_script(conn, _REBUILD_V2)


def _migrate_to_v4(conn: sqlite3.Connection) -> None:
    run_script(conn, _V4)
    ensure_touched_table(conn)
    conn.execute("INSERT OR IGNORE INTO temp.touched SELECT conversation_id FROM conversations")
    rebuild_usage(conn, ended_only=False)  # no `open` column yet: every row has ended
    conn.execute("DELETE FROM temp.touched")


def usage_rows(tallies: dict[str, UsageTally]) -> list[tuple[Any, ...]]:
    """``UPSERT_USAGE`` parameters of per-conversation tallies."""
    return [
        (conversation, model, *usage.as_tuple())
        for conversation, tally in tallies.items()
        for model, usage in tally.by_model()
    ]


def rebuild_usage(conn: sqlite3.Connection, *, ended_only: bool = True) -> None:
    """Recount the ``conversation_usage`` rows of the conversations in temp table ``touched``
    from their spans (decoding only spans whose text mentions usage; ended ones only, unless
    ``ended_only`` is false for a file from before the ``open`` column)."""
    conn.execute(
        "DELETE FROM conversation_usage "
        "WHERE conversation_id IN (SELECT conversation_id FROM temp.touched)"
    )
    tallies: dict[str, UsageTally] = {}
    rows = conn.execute(
        "SELECT conversation_id, attributes, inherited_keys FROM spans "
        "WHERE conversation_id IN (SELECT conversation_id FROM temp.touched) "
        "AND instr(attributes, ?) > 0" + (" AND open = 0" if ended_only else ""),
        [f'"{USAGE_ATTRIBUTE}"'],
    )
    for conversation, text, inherited in rows:
        found = span_usage(decode_stored_attributes(text, inherited))
        if found is not None:
            tallies.setdefault(conversation, UsageTally()).add(*found)
    conn.executemany(UPSERT_USAGE, usage_rows(tallies))


def rebuild_conversations(conn: sqlite3.Connection) -> None:
    """Rebuild the ``conversations`` and ``conversation_usage`` rows of the conversation ids in
    temp table ``touched`` from the spans, and empty ``touched``."""
    rebuild_usage(conn)
    run_script(conn, REBUILD_CONVERSATIONS)


def read_usage(rows: list[Any]) -> dict[str, tuple[Usage, tuple[tuple[str, Usage], ...]]]:
    """Per conversation id, the usage in total and per model, from ``conversation_usage`` rows
    (conversation id, model id, then ``USAGE_FIELDS``) in primary key order."""
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        group = grouped.get(row[0])
        if group is None:
            grouped[row[0]] = [row]
        else:
            group.append(row)
    found: dict[str, tuple[Usage, tuple[tuple[str, Usage], ...]]] = {}
    for key, group in grouped.items():
        if len(group) == 1:  # one model (the usual case) is its own total
            usage = Usage(*group[0][2:])
            found[key] = (usage, ((group[0][1], usage),))
            continue
        # Plain sums, no Usage arithmetic: this runs for every page of the list.
        totals = list(group[0][2:])
        for row in group[1:]:
            for i, value in enumerate(row[2:]):
                totals[i] += value
        found[key] = (Usage(*totals), tuple([(row[1], Usage(*row[2:])) for row in group]))
    return found


def run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the open transaction; run statement by statement instead.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def ensure_touched_table(conn: sqlite3.Connection) -> None:
    """Create the connection's scratch table of conversation ids to rebuild."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS touched (conversation_id TEXT PRIMARY KEY) WITHOUT ROWID"
    )


MIGRATIONS: Final[list[Callable[[sqlite3.Connection], None]]] = [
    lambda conn: run_script(conn, _V1),
    _migrate_to_v2,
    _migrate_to_v3,
    _migrate_to_v4,
    lambda conn: run_script(conn, _V5),
]
SCHEMA_VERSION: Final = len(MIGRATIONS)
#: The version that added the ``open`` column (snapshots of open spans).
OPEN_COLUMN_VERSION: Final = 5
#: The oldest schema a reader reads without migrating it (older files are opened once by a
#: writer, which migrates them).
MIN_READABLE_VERSION: Final = 2


def check_version(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Refuse a newer schema, and another application's database (tables but no version)."""
    if version > SCHEMA_VERSION:
        raise TraceDatabaseError(
            f"{path} has schema version {version}; this version of the library reads up to "
            f"{SCHEMA_VERSION}: upgrade generative-ai-toolkit-tracing"
        )
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise TraceDatabaseError(f"{path} is an SQLite database, but not a trace database")


def prepare_for_writing(conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
    """Set a writer's connection up: busy timeout, WAL, and the schema brought up to date (a
    new file gets it whole). Raises ``TraceDatabaseError`` for a file it must not touch."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    check_version(conn, path, version)
    if version == 0:
        # Only takes effect before the first table exists: lets retention shrink the file.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    if version < SCHEMA_VERSION:
        migrate(conn)


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> None:
    """Apply the missing migrations up to ``target`` in one write transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, target):
            MIGRATIONS[step](conn)
        if version < target:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
