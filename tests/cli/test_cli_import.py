"""gat-traces import: it says what it stored, why it did not, and never waits forever."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from .conftest import Run

UNREACHABLE_AWS = {
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def spans_file(run: Run, sample_db: Path, tmp_path: Path) -> Path:
    """The 13 sample spans as StructuredLogsTracer lines."""
    run("export", "--db", sample_db.name, "-o", "spans.jsonl")
    return tmp_path / "spans.jsonl"


def test_importing_twice_says_how_many_spans_were_new(run: Run, spans_file: Path) -> None:
    """The second import of the same file stores nothing new, and says so."""
    first = run("import", spans_file.name, "--db", "copy.sqlite3")
    again = run("import", spans_file.name, "--db", "copy.sqlite3")
    assert [
        (0, "imported 13 spans into copy.sqlite3 (13 new, 0 already there)\n"),
        (0, "imported 13 spans into copy.sqlite3 (0 new, 13 already there)\n"),
    ] == [(first.returncode, first.stderr), (again.returncode, again.stderr)]


def test_an_import_stopped_by_a_bad_line_says_what_it_stored_before(
    run: Run, spans_file: Path, tmp_path: Path
) -> None:
    """Lines 1-3 are stored when line 4 is bad, and the error says so."""
    lines = spans_file.read_text().splitlines(keepends=True)
    (tmp_path / "bad.jsonl").write_text("".join([*lines[:3], "not json\n", *lines[3:]]))
    result = run("import", "bad.jsonl", "--db", "t.sqlite3")
    assert 1 == result.returncode
    assert result.stderr.startswith("gat-traces: error: bad.jsonl:4: not JSON (")
    assert result.stderr.endswith(
        "; stopped there, after importing 3 spans into t.sqlite3 (3 new, 0 already there)\n"
    )
    assert 1 == len(result.stderr.splitlines())


def test_an_import_into_a_damaged_database_says_why_without_verbose(
    run: Run, spans_file: Path, tmp_path: Path
) -> None:
    """Spans the store refuses are counted, with the store's reason, on one line."""
    db = tmp_path / "damaged.sqlite3"
    assert 0 == run("import", spans_file.name, "--db", db.name).returncode
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    data[4096 * 2 :] = b"\xab" * (len(data) - 4096 * 2)  # every page after the schema's
    db.write_bytes(bytes(data))
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text(spans_file.read_text().replace('"span_id":"0', '"span_id":"f'))
    result = run("import", fresh.name, "--db", db.name)
    assert 1 == result.returncode
    assert 1 == len(result.stderr.splitlines()), result.stderr
    assert "malformed" in result.stderr


def test_an_import_into_an_unreachable_dynamodb_gives_up(run: Run, spans_file: Path) -> None:
    """No endpoint: after --timeout seconds without progress, exit 1 saying nothing was stored."""
    result = run(
        "import", spans_file.name, "--dynamodb", "T", "--timeout", "1", env=UNREACHABLE_AWS
    )
    assert 1 == result.returncode
    assert result.stderr.startswith(
        "gat-traces: error: 13 of 13 spans could not be stored in DynamoDB table T "
        "(nothing could be stored for 1s): "
    )
    assert "EndpointConnectionError" in result.stderr
