"""The notebook's DynamoDB cells (6 through boto3, 7, 13, 14), verbatim, against DynamoDB Local
selected with AWS_ENDPOINT_URL_DYNAMODB, printing what the notebook shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notebook import CELL_1, CELL_4, CELL_6, CELL_7, CELL_12, CELL_13, CELL_14
from services.dynamodb_local import DynamoDbLocal

pytestmark = pytest.mark.integration


def run_shell_cell(cell: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A `!command` cell as the notebook runs it: through the shell, with the AWS CLI."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        cell,
        shell=True,
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


HEX32, HEX16 = "[0-9a-f]{32}", "[0-9a-f]{16}"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
DT = r"datetime\.datetime\(\d{4}, \d+, \d+, \d+, \d+, \d+, \d+, tzinfo=datetime\.timezone\.utc\)"


def _human(parent: str, kind: str, name: str, conversation: int, auth: str) -> str:
    header = (
        rf"\[{HEX32}/{parent}/{HEX16}\] MyAgent {kind} {STAMP} - {name} \("
        + ("ai\\.trace\\.type='tool-invocation' " if name == "child" else "")
        + rf"ai\.conversation\.id='{conversation}' ai\.auth\.context='{auth}'\)\n"
    )
    if name == "child":
        header += r"       Input: Hello, world!\n      Output: World, hello!\n"
    return header


def _repr(name: str, kind: str, parent: str, attributes: str) -> str:
    return (
        rf"Trace\(span_name='{name}', span_kind='{kind}', trace_id='{HEX32}', "
        rf"span_id='{HEX16}', parent_span_id={parent}, started_at={DT}, ended_at={DT}, "
        rf"attributes=\{{{attributes}\}}, span_status='UNSET', "
        r"resource_attributes=\{'service.name': 'MyAgent'\}, "
        r"scope=generative-ai-toolkit@current\)"
    )


def test_notebook_dynamodb_cells(
    ddb_env: DynamoDbLocal, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cells 6 (the AWS CLI), 7, 13 and 14 run unchanged and print in the notebook's formats."""
    ns: dict[str, Any] = {}
    exec(CELL_1, ns)

    created = run_shell_cell(CELL_6, ddb_env.env())
    assert 0 == created.returncode, created.stderr
    assert '"TableName": "MyTracesTable"' in created.stdout
    again = run_shell_cell(CELL_6, ddb_env.env())  # the notebook's run: the table exists
    assert re.fullmatch(
        r"\nAn error occurred \(ResourceInUseException\) when calling the CreateTable "
        r"operation: .*\n",  # DynamoDB Local words the reason differently from AWS
        again.stderr,
    ), again.stderr

    exec(CELL_7, ns)
    out = capsys.readouterr().out
    conversation = ns["conversation_id"]
    expected = (
        _human("root", "SERVER", "parent", conversation, "user123")
        + r"\n\n"
        + _human(HEX16, "INTERNAL", "child", conversation, "user123")
        + r"\n\n"
    )
    assert re.fullmatch(expected, out), out

    exec(CELL_4, ns)
    exec(CELL_12, ns)
    capsys.readouterr()
    exec(CELL_13, ns)
    assert "" == capsys.readouterr().out

    exec(CELL_14, ns)
    out = capsys.readouterr().out
    conversation = ns["conversation_id"]
    attrs = rf"'ai.conversation.id': {conversation}, 'ai.auth.context': 'user456'"
    child_attrs = (
        r"'ai.trace.type': 'tool-invocation', 'ai.tool.input': 'Hello, world!', "
        rf"'ai.tool.output': 'World, hello!', {attrs}"
    )
    expected = (
        _human(HEX16, "INTERNAL", "child", conversation, "user456")
        + r"\n"
        + _human("root", "SERVER", "parent", conversation, "user456")
        + r"\n==== from DynamoDB: ====\n"
        + _repr("parent", "SERVER", "None", attrs)
        + r"\n\n"
        + _repr("child", "INTERNAL", f"'{HEX16}'", child_attrs)
        + r"\n\n"
    )
    assert re.fullmatch(expected, out), out
    assert 0 == ns["ddb_tracer"].stats["dropped"]
    ns["ddb_tracer"].shutdown()
