"""Opening a trace database file: for writing (created and migrated) or for reading (read-only),
the file's identity, and SQLite errors turned into messages that name the file and say what
to do.

Writers open ``mode=rwc`` and bring the schema up to date. Readers open ``mode=ro`` and never
create, initialise or migrate a file; in a directory they may not write to, with no ``-wal``
file (so no writer can be active), they open it ``immutable=1``, which needs no ``-shm`` file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Final

from ._schema import (
    BUSY_TIMEOUT_MS,
    DEFAULT_DB_NAME,
    MIN_READABLE_VERSION,
    SCHEMA_VERSION,
    TraceDatabaseError,
    check_version,
    prepare_for_writing,
)

_SQLITE_HEADER: Final = b"SQLite format 3\x00"

#: A file's identity: it changes when the file is deleted and created again, or replaced.
FileIdentity = tuple[int, int]


def absolute_path(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute against the current directory now, once, so a later
    ``os.chdir()`` never moves the database."""
    return Path(os.path.abspath(path))


def file_identity(path: Path) -> FileIdentity | None:
    """``(st_dev, st_ino)`` of ``path``, or ``None`` when there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _error_name(exc: BaseException) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def error_kind(exc: BaseException) -> str:
    """The family of a SQLite error: ``BUSY``, ``READONLY``, ``FULL``, ``CORRUPT`` ... or ``""``."""
    name = _error_name(exc).removeprefix("SQLITE_")
    kind = name.split("_", 1)[0]
    if kind == "LOCKED":
        return "BUSY"
    if kind == "NOTADB":
        return "CORRUPT"
    return kind


def database_error(path: Path, exc: BaseException) -> TraceDatabaseError:
    """``TraceDatabaseError`` for a SQLite failure on ``path``: the file, what went wrong and
    what to do, on one line."""
    detail = " ".join(str(exc).split())
    kind = error_kind(exc)
    if kind == "CANTOPEN" and path.is_dir():
        return TraceDatabaseError(_directory_message(path))
    hints = {
        "BUSY": f"{path} is locked by another process ({detail}): try again",
        "READONLY": f"{path} cannot be written ({detail}): make the file and its directory "
        "writable, or use another path",
        "FULL": f"{path}: the disk is full ({detail}): free some space, or set max_age / "
        "max_spans to bound the file",
        "CORRUPT": f"{path} is not a readable trace database ({detail}): it is damaged or not "
        "a database; restore it from a backup, or move it aside to start a new one",
        "CANTOPEN": f"cannot open {path} ({detail}): check that its directory exists and that "
        "you may read it (and, to write, create files in its directory)",
        "IOERR": f"{path}: {detail}: check the disk and the file's permissions",
        "PERM": f"{path}: {detail}: check the file's permissions",
    }
    return TraceDatabaseError(hints.get(kind, f"{path}: {detail}"))


def _directory_message(path: Path) -> str:
    return (
        f"{path} is a directory, not a trace database: pass a file path "
        f"(e.g. {path / DEFAULT_DB_NAME})"
    )


def open_for_writing(path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection to the trace database at ``path``, created if missing (and its directory),
    its schema migrated to ``SCHEMA_VERSION``.

    Raises ``TraceDatabaseError`` naming the file and a fix when it cannot be opened or is not
    a trace database (or a newer one), ``sqlite3.OperationalError`` when another process held
    the lock past ``busy_timeout_ms``. Connections are in autocommit mode: callers open
    transactions explicitly.
    """
    if path.is_dir():
        raise TraceDatabaseError(_directory_message(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TraceDatabaseError(
            f"cannot create the directory of {path} ({exc.strerror or exc}): create it, or "
            "use another path"
        ) from None
    try:
        conn = _connect(f"{path.as_uri()}?mode=rwc", busy_timeout_ms)
    except sqlite3.Error as exc:
        raise database_error(path, exc) from None
    try:
        prepare_for_writing(conn, path, busy_timeout_ms)
    except sqlite3.Error as exc:
        conn.close()
        if error_kind(exc) == "BUSY":
            raise
        raise database_error(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


def open_for_reading(path: Path) -> tuple[sqlite3.Connection, int]:
    """A read-only connection to the trace database at ``path`` and its schema version.

    Never creates, initialises or migrates a file. ``FileNotFoundError`` when there is no
    file; ``TraceDatabaseError`` naming the file and a fix for a directory, an empty file, a
    file that is not a SQLite database, another application's database, or a schema this
    version cannot read.
    """
    _check_file(path)
    wal_exists = Path(f"{path}-wal").exists()
    immutable = not wal_exists and not os.access(path.parent, os.W_OK)
    try:
        return _open_read_only(path, immutable=immutable)
    except sqlite3.Error as exc:
        if not immutable and not wal_exists and error_kind(exc) in ("CANTOPEN", "READONLY"):
            # The -wal/-shm files cannot be created here, so no writer is active: read the
            # file as it is.
            try:
                return _open_read_only(path, immutable=True)
            except sqlite3.Error as retry:
                raise database_error(path, retry) from None
        raise database_error(path, exc) from None


def _check_file(path: Path) -> None:
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise TraceDatabaseError(_directory_message(path))
        if st.st_size == 0:
            raise TraceDatabaseError(
                f"{path} is an empty file, not a trace database: pass the file SqliteTracer "
                "writes (it is never created by reading)"
            )
        with path.open("rb") as stream:
            header = stream.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        raise FileNotFoundError(f"no trace database at {path}") from None
    except OSError as exc:
        raise TraceDatabaseError(
            f"cannot read {path} ({exc.strerror or exc}): check its permissions"
        ) from None
    if header != _SQLITE_HEADER:
        raise TraceDatabaseError(
            f"{path} is not a SQLite database: pass the file SqliteTracer writes (JSON lines "
            "are read with SpanListQuery, or gat-traces --jsonl)"
        )


def _open_read_only(path: Path, *, immutable: bool) -> tuple[sqlite3.Connection, int]:
    uri = f"{path.as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    conn = _connect(uri, BUSY_TIMEOUT_MS)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        check_version(conn, path, version)
        if version == 0:
            raise TraceDatabaseError(f"{path} is a SQLite database, but not a trace database")
        if version < MIN_READABLE_VERSION:
            raise TraceDatabaseError(
                f"{path} has schema version {version}, older than this reader reads "
                f"({MIN_READABLE_VERSION} to {SCHEMA_VERSION}): open it once with SqliteTracer, "
                "which migrates it"
            )
    except BaseException:
        conn.close()
        raise
    return conn, version


def _connect(uri: str, busy_timeout_ms: int) -> sqlite3.Connection:
    return sqlite3.connect(
        uri,
        uri=True,
        isolation_level=None,
        check_same_thread=False,
        timeout=busy_timeout_ms / 1000,
    )
