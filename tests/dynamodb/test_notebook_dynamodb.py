"""The notebook's DynamoDB cells (6 through boto3, 7, 13, 14), verbatim, against DynamoDB Local
selected with AWS_ENDPOINT_URL_DYNAMODB, printing what the notebook shows."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.dynamodb_local import DynamoDbLocal

pytestmark = pytest.mark.integration

# Cell 1, without the OtlpTracer import (another area's cell; it changes nothing here).
CELL_1 = """\
from generative_ai_toolkit.tracer import (
    Tracer,
    NoopTracer,
    HumanReadableTracer,
    InMemoryTracer,
    StructuredLogsTracer,
    TeeTracer,
)
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer

import time
import random
"""

# Cell 6 runs `aws dynamodb create-table ...`; this is the same request made with boto3 (the
# AWS CLI is not installed here), printing the CLI's error line when the table already exists.
CELL_6_BOTO3 = """\
import boto3
from botocore.exceptions import ClientError

try:
    boto3.client("dynamodb").create_table(
        TableName="MyTracesTable",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "conversation_id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "conversation_index",
                "KeySchema": [
                    {"AttributeName": "conversation_id", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
except ClientError as error:
    print()
    print(error)
"""

CELL_7 = """\
conversation_id = random.randint(0, 1000000)
auth_context = "user123"

ddb_tracer = DynamoDbTracer(
    table_name="MyTracesTable",
    identifier="MyAgent",
    conversation_id_gsi_name="conversation_index",
)

ddb_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with ddb_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", auth_context, inheritable=True)
    time.sleep(0.1)

    with ddb_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)


for trace in ddb_tracer.get_traces(
    attribute_filter={
        "ai.conversation.id": conversation_id,
        "ai.auth.context": auth_context,
    }
):
    print(trace.as_human_readable())
    print()
"""

# Cells 4 and 12 make the tracers cell 13 adds.
CELL_4 = """\
import sys

human_readable_tracer = HumanReadableTracer(stream=sys.stdout)

human_readable_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with human_readable_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", "user123", inheritable=True)
    time.sleep(0.1)

    with human_readable_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)
"""

CELL_12 = """\
noop_tracer = NoopTracer()
with noop_tracer.trace("noop") as span:
    span.add_attribute("foo", "bar")

# nothing was logged
"""

CELL_13 = """\
tee_tracer = TeeTracer()

# E.g. the DynamoDBTracer supports get_traces(), so add that first:
tee_tracer.add_tracer(ddb_tracer)

tee_tracer.add_tracer(human_readable_tracer)

# This is of course useless, but added for the sake of the example:
tee_tracer.add_tracer(noop_tracer)
"""

CELL_14 = """\
conversation_id = random.randint(0, 1000000)
auth_context = "user456"

tee_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with tee_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", auth_context, inheritable=True)
    time.sleep(0.1)

    with tee_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)


print("==== from DynamoDB: ====")
for trace in tee_tracer.get_traces(
    attribute_filter={
        "ai.conversation.id": conversation_id,
        "ai.auth.context": auth_context,
    }
):
    print(trace)
    print()
"""

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
    """Cells 6, 7, 13 and 14 run unchanged and print in the notebook's formats."""
    ns: dict[str, Any] = {}
    exec(CELL_1, ns)

    exec(CELL_6_BOTO3, ns)  # creates the table
    assert "" == capsys.readouterr().out
    exec(CELL_6_BOTO3, ns)  # the notebook's run: the table already exists
    assert re.fullmatch(
        r"\nAn error occurred \(ResourceInUseException\) when calling the CreateTable "
        r"operation: .*\n",
        capsys.readouterr().out,
    )

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
