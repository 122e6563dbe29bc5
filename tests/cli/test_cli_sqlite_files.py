"""gat-traces and the SQLite file it reads: reading never writes, and every error names the
file and what to do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sqlite.faults import damage_pages, read_only_directory

from .conftest import Run, gat_traces_command


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert (1, "") == (result.returncode, result.stdout)
    [line] = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    "args", [["list", "--db", "empty.jsonl"], ["serve", "--port", "0", "--db", "empty.jsonl"]]
)
def test_an_empty_file_is_refused_and_left_empty(run: Run, tmp_path: Path, args: list[str]) -> None:
    """A 0-byte file is never turned into a database (no schema, no -wal, no -shm)."""
    (tmp_path / "empty.jsonl").touch()
    line = _error_line(run(*args))
    assert line.startswith(f"gat-traces: error: {tmp_path / 'empty.jsonl'} is an empty file")
    assert 0 == (tmp_path / "empty.jsonl").stat().st_size
    assert ["empty.jsonl"] == sorted(p.name for p in tmp_path.iterdir())


def test_a_database_in_a_read_only_directory_is_listed(sample_db: Path) -> None:
    """No 'attempt to write a readonly database': the file is read as it is."""
    with read_only_directory(sample_db.parent) as wrap:
        result = subprocess.run(
            wrap([*gat_traces_command(), "list", "--json", "--db", str(sample_db)]),
            capture_output=True,
            text=True,
            check=False,
        )
    assert (0, "") == (result.returncode, result.stderr)
    assert 3 == len(result.stdout.splitlines())


def test_a_directory_as_the_database_names_it_with_a_hint(run: Run, tmp_path: Path) -> None:
    """--db DIR says it is a directory and suggests a file in it."""
    line = _error_line(run("list", "--db", str(tmp_path)))
    assert (
        f"gat-traces: error: {tmp_path} is a directory, not a trace database: pass a file path "
        f"(e.g. {tmp_path / 'traces.sqlite3'})"
    ) == line


def test_a_damaged_database_names_the_file_and_what_to_do(run: Run, sample_db: Path) -> None:
    """'database disk image is malformed' comes with the file and a hint, on one line."""
    damage_pages(sample_db)
    line = _error_line(run("show", "c-1", "--db", str(sample_db)))
    assert line.startswith(f"gat-traces: error: {sample_db} is not a readable trace database")
    assert "restore it from a backup" in line
