"""What gat-traces says when a command finds nothing, and what it says it did."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conversation", "nope"], "no conversation 'nope' in sample.sqlite3"),
        (["--trace-id", "f" * 32], f"no trace '{'f' * 32}' in sample.sqlite3"),
    ],
)
def test_exporting_an_unknown_conversation_or_trace_is_an_error(
    run: Run, sample_db: Path, args: list[str], message: str
) -> None:
    """export of an id that is not there exits 1 like show does, naming the id and the source."""
    result = run("export", "--db", sample_db.name, *args)
    assert (1, "", f"gat-traces: error: {message}\n") == (
        result.returncode,
        result.stdout,
        result.stderr,
    )


def test_list_says_when_the_filters_match_nothing(run: Run, sample_db: Path) -> None:
    """Filters that match nothing are told apart from an empty source."""
    result = run("list", "--db", sample_db.name, "--search", "nothing-like-this")
    expected = (0, "", "no conversations match these filters in sample.sqlite3\n")
    assert expected == (result.returncode, result.stdout, result.stderr)


def test_tail_all_prints_the_last_spans_of_a_jsonl_file(
    run: Run, sample_db: Path, tmp_path: Path
) -> None:
    """tail --all --count N on a JSON-lines file prints its last N lines' spans and stops."""
    run("export", "--db", sample_db.name, "-o", "spans.jsonl")
    result = run("tail", "--all", "--count", "2", "--json", "--jsonl", "spans.jsonl", timeout=20)
    assert 0 == result.returncode, result.stderr
    assert (tmp_path / "spans.jsonl").read_text().splitlines()[-2:] == result.stdout.splitlines()
