"""gat-traces against a real DynamoDB Local: a table that does not exist, and one that does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Run

pytestmark = pytest.mark.integration

dynamodb_local = pytest.importorskip("services.dynamodb_local")


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    """One DynamoDB Local for this module; skipped when it cannot be installed here."""
    try:
        local = dynamodb_local.DynamoDbLocal()
        local.start()
    except Exception as exc:  # noqa: BLE001 - no Java or no npm cache: skip, say why
        pytest.skip(f"DynamoDB Local is not available: {exc}")
    yield local
    local.stop()


def test_a_table_that_does_not_exist_is_a_one_line_error(run: Run, server: object) -> None:
    """--dynamodb with a missing table exits 1 with one line naming the table."""
    result = run("list", "--dynamodb", "NoSuchTable", env=server.env())  # type: ignore[attr-defined]
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "NoSuchTable" in result.stderr


def test_list_and_show_read_the_notebook_table(run: Run, server: object, tmp_path: Path) -> None:
    """Spans imported into the notebook's table are listed and shown like SQLite ones."""
    client = server.client()  # type: ignore[attr-defined]
    dynamodb_local.create_notebook_table(client, "CliTraces")
    env = server.env()  # type: ignore[attr-defined]
    line = (
        '{"logger":"TraceLogger","level":"INFO","message":"Trace","trace":{"span_name":"parent",'
        '"span_kind":"SERVER","trace_id":"44c831615e08cf51a102c23610c863e6","span_id":'
        '"7a666bc31ee3ec08","parent_span_id":null,"started_at":"2025-04-15 20:24:45.426000+00:00",'
        '"ended_at":"2025-04-15 20:24:45.636000+00:00","attributes":{"ai.conversation.id":488044,'
        '"ai.auth.context":"user123"},"span_status":"UNSET","resource_attributes":{},'
        '"scope":{"name":"generative-ai-toolkit","version":"current"}}}\n'
    )
    (tmp_path / "spans.jsonl").write_text(line)
    imported = run("import", "spans.jsonl", "--dynamodb", "CliTraces", env=env)
    assert imported.returncode == 0, imported.stderr
    listed = run("list", "--dynamodb", "CliTraces", env=env)
    assert "488044" in listed.stdout, listed.stderr
    # The notebook's table has no summary indexes: said once, with what to run, without -v.
    hint = [line for line in listed.stderr.splitlines() if "dynamodb migrate" in line]
    assert 1 == len(hint), listed.stderr
    assert hint[0].startswith("gat-traces: warning: ")
    shown = run("show", "488044", "--dynamodb", "CliTraces", env=env)
    assert "parent  SERVER" in shown.stdout, shown.stderr
