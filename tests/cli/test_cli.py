"""gat-traces through its real entry point: every command, every source, and bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import SqliteTracer
from sqlite.samples import span

from .conftest import Run, gat_traces_command


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_list_shows_conversations_newest_first(run: Run, sample_db: Path) -> None:
    """A table with one row per conversation, most recently active first."""
    result = run("list", "--db", str(sample_db))
    assert result.returncode == 0, result.stderr
    rows = _lines(result.stdout)
    assert rows[0].startswith("CONVERSATION")
    assert [row.split()[0] for row in rows[1:]] == ["c-3", "488044", "c-1"]
    assert "\x1b[" not in result.stdout  # piped: no colour


def test_list_filters_and_json(run: Run, sample_db: Path) -> None:
    """--errors / --auth-context (exact) / --auth-search (any case) / --search filter; --json
    gives one object per line."""
    result = run("list", "--db", str(sample_db), "--errors", "--json")
    assert result.returncode == 0, result.stderr
    [row] = [json.loads(line) for line in _lines(result.stdout)]
    assert (row["conversation_id"], row["error_count"], row["span_count"]) == ("488044", 1, 3)
    result = run("list", "--db", str(sample_db), "--auth-context", "alice", "--json")
    assert [json.loads(x)["conversation_id"] for x in _lines(result.stdout)] == ["c-3", "c-1"]
    result = run("list", "--db", str(sample_db), "--auth-context", "ALI", "--json")
    assert (result.returncode, result.stdout) == (0, "")  # exact: a tenant's scope
    result = run("list", "--db", str(sample_db), "--auth-search", "ALI", "--json")
    assert [json.loads(x)["conversation_id"] for x in _lines(result.stdout)] == ["c-3", "c-1"]
    result = run("list", "--db", str(sample_db), "--search", "nothing-like-this")
    assert (result.returncode, result.stdout) == (0, "")
    assert "no conversations" in result.stderr


def test_show_conversation_as_a_tree(run: Run, sample_db: Path) -> None:
    """Kinds, durations, status, inputs and outputs, indented under their parents."""
    result = run("show", "488044", "--db", str(sample_db))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Conversation 488044 (auth context bob): 1 trace, 3 spans, 1 error")
    assert "converse  SERVER  10.0ms" in out
    assert "├─ llm  CLIENT  llm-invocation  3.0ms" in out
    assert "└─ tool  [lookup]  INTERNAL  tool-invocation  2.0ms  ERROR" in out
    assert "Input: Hello" in out
    assert "Error: boom" in out


def test_show_a_trace_by_id_and_colour_on_request(run: Run, sample_db: Path) -> None:
    """A trace id shows that trace; --color always adds ANSI codes, NO_COLOR does not stop it."""
    trace_id = f"{2:032x}"
    result = run("show", trace_id, "--db", str(sample_db))
    assert result.returncode == 0, result.stderr
    assert f"trace {trace_id}" in result.stdout
    assert "Conversation" not in result.stdout
    coloured = run("show", trace_id, "--trace", "--db", str(sample_db), "--color", "always")
    assert "\x1b[" in coloured.stdout


def test_show_json_lines_are_structured_logs(run: Run, sample_db: Path) -> None:
    """--json prints the StructuredLogsTracer line format."""
    result = run("show", "c-1", "--db", str(sample_db), "--json")
    records = [json.loads(x) for x in _lines(result.stdout)]
    assert len(records) == 6
    assert {r["logger"] for r in records} == {"TraceLogger"}
    assert records[0]["trace"]["span_name"] == "converse"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "no-such-conversation"], "no conversation or trace 'no-such-conversation'"),
        (["show", "--trace", "abc"], "not a trace id"),
        (["show", "--trace", "f" * 32], "no trace"),
    ],
)
def test_unknown_ids_are_one_line_errors(
    run: Run, sample_db: Path, args: list[str], message: str
) -> None:
    """Unknown conversations and traces exit 1 with one line on stderr."""
    result = run(*args, "--db", str(sample_db))
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line] == [
        line for line in result.stderr.splitlines() if line.startswith("gat-traces: error:")
    ]
    assert message in result.stderr
    assert result.stdout == ""


def test_a_missing_database_is_an_error_and_not_created(run: Run, tmp_path: Path) -> None:
    """Reading a file that does not exist fails without creating it."""
    result = run("list", "--db", "missing.sqlite3")
    assert result.returncode == 1
    assert result.stderr.startswith("gat-traces: error: no trace database at missing.sqlite3")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "missing.sqlite3").exists()


def test_the_default_database_comes_from_the_environment(run: Run, sample_db: Path) -> None:
    """GAT_TRACES_DB picks the file when --db is not given."""
    result = run("list", "--json", env={"GAT_TRACES_DB": str(sample_db)})
    assert len(_lines(result.stdout)) == 3


@pytest.mark.parametrize(
    "content", [b"not a database at all" * 50, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_corrupt_database_is_a_one_line_error(run: Run, tmp_path: Path, content: bytes) -> None:
    """Garbage, or a damaged SQLite header, exits 1 with one line."""
    (tmp_path / "bad.sqlite3").write_bytes(content)
    result = run("list", "--db", "bad.sqlite3")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "gat-traces: error:" in result.stderr


def test_a_foreign_sqlite_database_is_refused(run: Run, tmp_path: Path) -> None:
    """Another application's database is named as such."""
    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    result = run("show", "x", "--db", "other.db")
    assert result.returncode == 1
    assert "not a trace database" in result.stderr


@pytest.mark.parametrize("command", ["list", "show", "tail", "export", "import"])
def test_every_command_has_help(run: Run, command: str) -> None:
    """--help works for each command and names its options."""
    result = run(command, "--help")
    assert result.returncode == 0
    assert f"usage: gat-traces {command}" in result.stdout
    assert "--db" in result.stdout


def test_usage_errors_exit_2(run: Run) -> None:
    """No command, or a bad option value, is a usage error."""
    assert run().returncode == 2
    assert run("list", "--limit", "zero").returncode == 2
    assert run("list", "--since", "yesterday-ish").returncode == 2


def test_export_then_import_round_trips(run: Run, sample_db: Path, tmp_path: Path) -> None:
    """export writes StructuredLogs lines; import stores them in another database."""
    exported = run("export", "--db", str(sample_db), "-o", "spans.jsonl")
    assert exported.returncode == 0, exported.stderr
    assert len(_lines((tmp_path / "spans.jsonl").read_text())) == 13
    imported = run("import", "spans.jsonl", "--db", "copy.sqlite3")
    assert imported.returncode == 0, imported.stderr
    assert "imported 13 spans" in imported.stderr
    again = run("import", "spans.jsonl", "--db", "copy.sqlite3")  # duplicates are skipped
    assert again.returncode == 0
    original = run("list", "--db", str(sample_db), "--json").stdout
    assert run("list", "--db", "copy.sqlite3", "--json").stdout == original


def test_a_jsonl_file_is_a_source(run: Run, sample_db: Path, tmp_path: Path) -> None:
    """--jsonl reads a StructuredLogsTracer file with the same commands."""
    run("export", "--db", str(sample_db), "-o", "spans.jsonl")
    listed = run("list", "--jsonl", "spans.jsonl", "--json")
    assert listed.stdout == run("list", "--db", str(sample_db), "--json").stdout
    shown = run("show", "488044", "--jsonl", "spans.jsonl")
    assert "Error: boom" in shown.stdout


def test_importing_a_bad_line_names_it(run: Run, tmp_path: Path) -> None:
    """A line that is not a span is an error with its line number."""
    (tmp_path / "bad.jsonl").write_text('{"trace": {"span_name": "x"}}\n')
    result = run("import", "bad.jsonl", "--db", "t.sqlite3")
    assert result.returncode == 1
    assert "bad.jsonl:1: not a span" in result.stderr
    assert run("import", "nope.jsonl", "--db", "t.sqlite3").returncode == 1


@pytest.mark.parametrize(
    ("count", "expected"),
    [("2", ["converse", "loose"]), ("50", ["llm", "tool", "converse"] * 4 + ["loose"])],
)
def test_tail_all_prints_the_last_stored_spans(
    run: Run, sample_db: Path, count: str, expected: list[str]
) -> None:
    """tail --all --count N prints the last N spans in the order written, then stops (all of
    them when there are fewer)."""
    result = run("tail", "--all", "--count", count, "--json", "--db", str(sample_db), timeout=20)
    assert result.returncode == 0, result.stderr
    names = [json.loads(x)["trace"]["span_name"] for x in _lines(result.stdout)]
    assert expected == names


def test_tail_follows_new_spans(sample_db: Path, tmp_path: Path) -> None:
    """tail prints spans written after it started, as they arrive."""
    tail = subprocess.Popen(
        [
            *gat_traces_command(),
            "tail",
            "--db",
            str(sample_db),
            "--count",
            "2",
            "--interval",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # let it start and take its position at the end
        tracer = SqliteTracer(sample_db)
        for i, name in enumerate(["new-1", "new-2"]):
            tracer._emit(span(name, trace=90, span_id=900 + i, start_ms=1000 + i))
        tracer.shutdown()
        out, err = tail.communicate(timeout=30)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    assert "- new-1" in out
    assert "- new-2" in out
    assert "- converse" not in out


def test_a_dynamodb_source_without_access_is_a_one_line_error(run: Run) -> None:
    """With no reachable DynamoDB, --dynamodb fails with one line, not a traceback."""
    result = run(
        "list",
        "--dynamodb",
        "NoSuchTable",
        env={
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("gat-traces: error:")
