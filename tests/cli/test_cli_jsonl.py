"""--jsonl on a real log: lines that are not spans, a line still being written, the wrong file."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer.cli._jsonl import JsonlFile

from .conftest import Run, gat_traces_command

FOREIGN = [
    b"2025-04-15 20:24:45 INFO starting the agent\n",
    b'{"logger": "app", "level": "INFO", "message": "hello"}\n',
    b"caf\xe9 au lait\n",  # Latin-1, not UTF-8
]


@pytest.fixture
def span_lines(run: Run, sample_db: Path, tmp_path: Path) -> list[bytes]:
    """The 13 sample spans as StructuredLogsTracer lines."""
    run("export", "--db", sample_db.name, "-o", "spans.jsonl")
    return (tmp_path / "spans.jsonl").read_bytes().splitlines(keepends=True)


@pytest.fixture
def mixed_log(span_lines: list[bytes], tmp_path: Path) -> Path:
    """app.log: other log lines before, among and after the spans, and a half-written last line."""
    path = tmp_path / "app.log"
    lines = [FOREIGN[0], *span_lines[:5], FOREIGN[1], *span_lines[5:], FOREIGN[2]]
    path.write_bytes(b"".join(lines) + span_lines[0][:40])
    return path


def test_lines_that_are_not_spans_are_skipped_and_counted_once(
    run: Run, mixed_log: Path, sample_db: Path
) -> None:
    """Every span is read; one stderr line counts the others and names the first."""
    result = run("list", "--jsonl", mixed_log.name, "--json")
    assert run("list", "--db", sample_db.name, "--json").stdout == result.stdout
    assert result.stderr.startswith(
        "gat-traces: skipped 3 lines of app.log that are not spans (the first: line 1, not JSON ("
    )
    assert 1 == len(result.stderr.splitlines())


@pytest.mark.parametrize(
    "args",
    [["show", "488044"], ["export", "--conversation", "488044"], ["tail", "--all", "--count", "3"]],
)
def test_every_reading_command_reads_a_mixed_log(
    run: Run, mixed_log: Path, args: list[str]
) -> None:
    """show, export and tail read the spans of a mixed log too (exit 0)."""
    result = run(*args, "--jsonl", mixed_log.name, timeout=30)
    assert (0, True) == (result.returncode, "skipped 3 lines" in result.stderr), result.stderr
    assert result.stdout


def test_a_whole_last_span_without_its_newline_is_read(
    run: Run, span_lines: list[bytes], tmp_path: Path
) -> None:
    """A last line that holds a complete span counts, newline or not; a half one is no error."""
    (tmp_path / "a.jsonl").write_bytes(b"".join(span_lines).rstrip(b"\n"))
    result = run("export", "--jsonl", "a.jsonl")
    assert (0, 13, "") == (result.returncode, len(result.stdout.splitlines()), result.stderr)


def test_a_sqlite_file_as_jsonl_says_to_use_db(run: Run, sample_db: Path) -> None:
    """--jsonl on a trace database names the file and the option to use."""
    result = run("list", "--jsonl", sample_db.name)
    expected = (
        "gat-traces: error: sample.sqlite3 is a SQLite database, not JSON lines: read it with "
        "--db sample.sqlite3\n"
    )
    assert (1, expected) == (result.returncode, result.stderr)


def test_a_binary_file_as_jsonl_names_the_line(run: Run, tmp_path: Path) -> None:
    """A file of bytes that are not UTF-8 names the file, the line and what to pass instead."""
    (tmp_path / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    result = run("list", "--jsonl", "blob.bin")
    expected = (
        "gat-traces: error: blob.bin:1: not UTF-8 text (byte 1): not a JSON-lines file of "
        "StructuredLogsTracer; pass such a file to --jsonl, or a trace database to --db\n"
    )
    assert (1, expected) == (result.returncode, result.stderr)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n", "gat-traces: error: blob.bin:1: not UTF-8 text (byte 1)\n"),
        (
            b"SQLite format 3\x00\x10\x00",
            "gat-traces: error: blob.bin is a SQLite database, not JSON lines (export it with "
            "`gat-traces export --db blob.bin`)\n",
        ),
    ],
)
def test_importing_a_binary_file_names_it(
    run: Run, tmp_path: Path, content: bytes, expected: str
) -> None:
    """import of a binary file: the file, the line, what it is; not a codec error."""
    (tmp_path / "blob.bin").write_bytes(content)
    result = run("import", "blob.bin", "--db", "t.sqlite3")
    assert (1, expected) == (result.returncode, result.stderr)


def test_a_growing_file_is_read_from_where_the_last_read_stopped(
    span_lines: list[bytes], tmp_path: Path
) -> None:
    """After the first read only appended bytes are read: what is before them is not re-read."""
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(span_lines[:3]) + span_lines[3][:30])
    spans = JsonlFile(path)
    first = spans.read()
    with path.open("r+b") as stream:  # same size in place: a re-read would lose the first span
        stream.write(b"x" * (len(span_lines[0]) - 1))
        stream.seek(0, 2)
        stream.write(span_lines[3][30:] + FOREIGN[0] + span_lines[4])
    second = spans.read()
    assert (3, 2, 5, 5) == (
        len(first),
        len(second),
        len(spans.spans),
        spans.first_skipped[0] if spans.first_skipped else None,
    )


def test_a_replaced_or_shrunk_file_is_read_again_from_the_start(
    span_lines: list[bytes], tmp_path: Path
) -> None:
    """A log rotated (replaced by a shorter file) is read whole again, without the old spans."""
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(span_lines[:4]))
    spans = JsonlFile(path)
    spans.read()
    (tmp_path / "new.log").write_bytes(span_lines[5])
    (tmp_path / "new.log").replace(path)
    assert (1, 1) == (len(spans.read()), len(spans.spans))


def _get(port: int, path: str) -> object:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_serve_keeps_updating_a_mixed_log(mixed_log: Path, span_lines: list[bytes]) -> None:
    """serve starts on a mixed log with a half-written last line; spans appended after a
    foreign line still show up, and the skipped lines are reported once."""
    process = subprocess.Popen(
        [*gat_traces_command(), "serve", "--jsonl", str(mixed_log), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        match = re.search(r"127\.0\.0\.1:(\d+)/", process.stdout.readline())
        assert match, process.stderr.read() if process.stderr else ""
        port = int(match[1])
        before = _get(port, "/api/conversations")
        extra = span_lines[0].replace(b'"ai.conversation.id":"c-1"', b'"ai.conversation.id":"new"')
        with mixed_log.open("ab") as stream:  # completes the half line, then more lines
            stream.write(span_lines[0][40:] + b"a foreign line\n" + extra)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = _get(port, "/api/conversations")["conversations"]  # type: ignore[index]
            if any(row["conversation_id"] == "new" for row in rows):
                break
            time.sleep(0.1)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert 3 == len(before["conversations"])  # type: ignore[index]
    assert "new" in [row["conversation_id"] for row in rows]
    assert 1 == err.count("that are not spans"), err


def test_a_file_rewritten_in_place_is_read_again_from_the_start(
    span_lines: list[bytes], tmp_path: Path
) -> None:
    """Truncated and written again (`> app.log`), longer than before: read from the start."""
    path = tmp_path / "app.log"
    path.write_bytes(span_lines[0])
    spans = JsonlFile(path)
    spans.read()
    with path.open("r+b") as stream:  # same file, new contents, the old end inside a line
        stream.write(FOREIGN[0][:10] + b"\n" + span_lines[1] + span_lines[2])
    assert (2, 2, 1) == (len(spans.read()), len(spans.spans), spans.skipped)


def test_one_skipped_line_of_standard_input_is_reported_in_words(
    span_lines: list[bytes], tmp_path: Path
) -> None:
    """`--jsonl -` reads standard input; one foreign line is "1 line ... that is not a span"."""
    result = subprocess.run(
        [*gat_traces_command(), "list", "--jsonl", "-", "--json"],
        input=FOREIGN[0] + b"".join(span_lines),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert (0, 3) == (result.returncode, len(result.stdout.splitlines()))
    assert result.stderr.decode().startswith(
        "gat-traces: skipped 1 line of standard input that is not a span (the first: line 1, "
    )
