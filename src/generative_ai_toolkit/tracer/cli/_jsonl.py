"""Spans from a JSON-lines file that other programs may be appending to.

A ``StructuredLogsTracer`` log is often shared with other log lines, and is read while it is
written. So a line that is not a span (another logger's line, text, bytes that are not UTF-8) is
skipped and counted, the first one remembered by its line number; a last line without its newline
is left for later unless it already holds a whole span; and after the first read only what was
appended is read (the file is read again from the start only when it shrank or was replaced).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

from .._snapshot import snapshot_from_dict
from .._trace import Trace
from ._errors import PROG, CliError, one_line
from ._progress import Progress

SQLITE_HEADER: Final = b"SQLite format 3\x00"


def parse_span(raw: bytes) -> Trace:
    """The span on one line: a ``StructuredLogsTracer`` record or a bare span object.

    Raises ``ValueError`` saying why the line is not a span.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start + 1})") from None
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON ({one_line(exc)})") from None
    if isinstance(data, dict) and isinstance(data.get("trace"), dict):
        data = data["trace"]
    if not isinstance(data, dict):
        raise ValueError(f"not a span (a JSON {type(data).__name__})")
    try:
        if "ended_at" in data and data["ended_at"] is None:
            return snapshot_from_dict(data)  # an open span, written as a snapshot
        return Trace.from_dict(data)
    except KeyError as exc:
        raise ValueError(f"not a span (no {one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - any malformed span: say why
        raise ValueError(f"not a span ({one_line(exc)})") from None


class JsonlFile:
    """The spans of ``path``, read incrementally: each ``read()`` returns the spans appended
    since the previous one (all of them the first time, and again after the file was replaced).

    ``keep=True`` also keeps every span read in ``spans``. Not thread-safe: one reader.
    """

    def __init__(self, path: Path, *, keep: bool = True) -> None:
        self.path = path
        self.spans: list[Trace] = []
        self.skipped = 0
        self.first_skipped: tuple[int, str] | None = None  # (line number, why)
        self._keep = keep
        self._reported = False
        self._identity: tuple[int, int] | None = None
        self._offset = 0  # where the first line not yet read starts
        self._lines = 0  # lines before _offset
        self._took_partial = False  # the line before _offset had no newline yet

    def read(self) -> list[Trace]:
        """The spans appended since the last ``read()``; ``CliError`` when the file is gone at
        the first read."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if self._identity is None:
                raise CliError(f"no such file: {self.path}") from None
            return []
        except OSError as exc:
            raise CliError(f"cannot read {self.path}: {exc.strerror or one_line(exc)}") from None
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._identity or stat.st_size < self._offset:
            if self._identity is not None:
                self._restart()
            self._identity = identity
        if stat.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as stream:
                if self._offset and not self._took_partial:
                    stream.seek(self._offset - 1)
                    if stream.read(1) != b"\n":  # rewritten in place (`> file`): start over
                        self._restart()
                stream.seek(self._offset)
                data = stream.read()
        except IsADirectoryError:
            raise CliError(f"{self.path} is a directory") from None
        except OSError as exc:
            raise CliError(f"cannot read {self.path}: {exc.strerror or one_line(exc)}") from None
        return self._take(data)

    def read_stream(self, stream: BinaryIO) -> list[Trace]:
        """Every span of ``stream`` (standard input, say), read to its end."""
        return self._take(stream.read() + b"\n")

    def skip_to_end(self) -> None:
        """Start after the last complete line (for following only what is appended next)."""
        try:
            with open(self.path, "rb") as stream:
                data = stream.read()
                stat = os.fstat(stream.fileno())
        except FileNotFoundError:
            raise CliError(f"no such file: {self.path}") from None
        self._identity = (stat.st_dev, stat.st_ino)
        self._offset = data.rfind(b"\n") + 1
        self._lines = data.count(b"\n")

    def check_is_text(self) -> None:
        """``CliError`` when nothing read was a span and the file is binary (a SQLite file,
        bytes that are not UTF-8): the wrong file, most likely."""
        if self.spans or self.first_skipped is None:
            return
        try:
            with open(self.path, "rb") as stream:
                head = stream.read(len(SQLITE_HEADER))
        except OSError:
            head = b""
        if head == SQLITE_HEADER:
            raise CliError(
                f"{self.path} is a SQLite database, not JSON lines: read it with --db {self.path}"
            )
        number, why = self.first_skipped
        if why.startswith("not UTF-8"):
            raise CliError(
                f"{self.path}:{number}: {why}: not a JSON-lines file of StructuredLogsTracer; "
                "pass such a file to --jsonl, or a trace database to --db"
            )

    def report(self, stream: TextIO | None = None) -> None:
        """Say once, on ``stream`` (stderr), how many lines were skipped and the first one."""
        if self._reported or self.first_skipped is None:
            return
        self._reported = True
        number, why = self.first_skipped
        lines = "line" if self.skipped == 1 else "lines"
        are = "is not a span" if self.skipped == 1 else "are not spans"
        name = "standard input" if str(self.path) == "-" else str(self.path)
        print(
            f"{PROG}: skipped {self.skipped} {lines} of {name} that {are} "
            f"(the first: line {number}, {why})",
            file=stream or sys.stderr,
        )

    def _restart(self) -> None:
        self.spans = []
        self.skipped = 0
        self.first_skipped = None
        self._offset = self._lines = 0
        self._took_partial = False

    def _take(self, data: bytes) -> list[Trace]:
        start = 0
        if self._took_partial and data.startswith(b"\n"):
            start = 1  # the newline of a last line already taken whole
        self._took_partial = False
        lines = data[start:].split(b"\n")
        partial = lines.pop()
        fresh: list[Trace] = []
        for raw in lines:
            self._lines += 1
            self._take_line(raw, fresh)
        self._offset += len(data) - len(partial)
        if partial.strip():
            try:
                span = parse_span(partial)  # a whole span whose newline is still to come
            except ValueError:
                pass  # half written: read again when it is complete
            else:
                fresh.append(span)
                self._lines += 1
                self._offset += len(partial)
                self._took_partial = True
        if self._keep:
            self.spans.extend(fresh)
        return fresh

    def _take_line(self, raw: bytes, fresh: list[Trace]) -> None:
        if not raw.strip():
            return
        try:
            fresh.append(parse_span(raw))
        except ValueError as exc:
            self.skipped += 1
            if self.first_skipped is None:
                self.first_skipped = (self._lines, str(exc))


def open_jsonl(path: Path) -> JsonlFile:
    """``path`` (``-``: standard input) read once: its spans, lines that are not spans
    reported on stderr; ``CliError`` for a missing or binary file."""
    spans = JsonlFile(path)
    if str(path) == "-":
        spans.read_stream(sys.stdin.buffer)
    else:
        spans.read()
    spans.check_is_text()
    spans.report()
    return spans


def read_jsonl(path: Path, *, progress: Progress | None = None) -> Iterator[Trace]:
    """Every span of ``path`` (``-``: standard input) in order; ``CliError`` naming the first
    line that is not a span (for ``import``, which must not skip what it was asked to store)."""
    with _open_binary(path) as stream:
        for number, line in enumerate(stream, 1):
            if progress is not None:
                progress.advance(len(line))
            if not line.strip():
                continue
            try:
                yield parse_span(line)
            except ValueError as exc:
                if number == 1 and line.startswith(SQLITE_HEADER):
                    raise CliError(
                        f"{path} is a SQLite database, not JSON lines (export it with "
                        f"`{PROG} export --db {path}`)"
                    ) from None
                raise CliError(f"{path}:{number}: {exc}") from None


@contextlib.contextmanager
def _open_binary(path: Path) -> Iterator[BinaryIO]:
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        with path.open("rb") as stream:
            yield stream
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CliError(f"{path} is a directory") from None
