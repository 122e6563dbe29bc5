"""The DynamoDB Local harness: a real DynamoDB Local, on 127.0.0.1 only, that tests can disturb."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from services.dynamodb_local import (
    DynamoDbLocal,
    DynamoDbLocalError,
    create_notebook_table,
    install,
    listening_addresses,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

pytestmark = pytest.mark.integration

# Generous timeouts, no retries: a cold JVM on a busy machine can take seconds to answer.
PATIENT = Config(connect_timeout=10, read_timeout=60, retries={"total_max_attempts": 1})
# For requests meant to hang (the server is paused): fail fast.
QUICK = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[DynamoDbLocal]:
    with DynamoDbLocal() as server:
        yield server


@pytest.fixture
def client(dynamodb: DynamoDbLocal) -> Iterator[DynamoDBClient]:
    client = dynamodb.client(PATIENT)
    yield client
    client.close()


@pytest.fixture
def table(client: DynamoDBClient) -> str:
    name = f"MyTracesTable-{uuid.uuid4().hex[:8]}"
    create_notebook_table(client, table_name=name)
    return name


def test_listens_on_loopback_only(dynamodb: DynamoDbLocal) -> None:
    """DynamoDB Local listens on 127.0.0.1 and on no other address."""
    assert {"127.0.0.1"} == listening_addresses(dynamodb.port)


def test_endpoint_is_on_loopback(dynamodb: DynamoDbLocal) -> None:
    """The endpoint URL names 127.0.0.1 and the chosen port."""
    assert f"http://127.0.0.1:{dynamodb.port}" == dynamodb.endpoint_url


def test_env_alone_points_boto3_at_the_server(
    dynamodb: DynamoDbLocal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client built from env() alone talks to the server with dummy credentials."""
    for key, value in dynamodb.env().items():
        monkeypatch.setenv(key, value)
    client = boto3.session.Session().client("dynamodb", config=PATIENT)
    try:
        assert (dynamodb.endpoint_url, "us-east-1") == (
            client.meta.endpoint_url,
            client.meta.region_name,
        )
        assert 200 == client.list_tables()["ResponseMetadata"]["HTTPStatusCode"]
    finally:
        client.close()


def test_notebook_table_has_the_conversation_index(client: DynamoDBClient, table: str) -> None:
    """The notebook table is ACTIVE with pk/sk keys and a conversation_id + sk index."""
    description = client.describe_table(TableName=table)["Table"]
    index = description["GlobalSecondaryIndexes"][0]
    assert (
        "ACTIVE",
        [("pk", "HASH"), ("sk", "RANGE")],
        "conversation_index",
        [("conversation_id", "HASH"), ("sk", "RANGE")],
        "ALL",
    ) == (
        description["TableStatus"],
        [(k["AttributeName"], k["KeyType"]) for k in description["KeySchema"]],
        index["IndexName"],
        [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]],
        index["Projection"]["ProjectionType"],
    )


def test_item_written_is_found_through_the_conversation_index(
    client: DynamoDBClient, table: str
) -> None:
    """An item written to the notebook table is returned by a query on the GSI."""
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "TRACE#1"},
            "sk": {"S": "SPAN#0001"},
            "conversation_id": {"S": "conv-1"},
            "name": {"S": "llm-call"},
        },
    )
    found = client.query(
        TableName=table,
        IndexName="conversation_index",
        KeyConditionExpression="conversation_id = :c",
        ExpressionAttributeValues={":c": {"S": "conv-1"}},
    )
    assert [("TRACE#1", "llm-call")] == [(i["pk"]["S"], i["name"]["S"]) for i in found["Items"]]


def test_batch_write_of_26_items_is_rejected(client: DynamoDBClient, table: str) -> None:
    """BatchWriteItem with 26 requests fails with ValidationException, as in AWS."""
    requests: list[WriteRequestTypeDef] = [
        {"PutRequest": {"Item": {"pk": {"S": f"TRACE#{n}"}, "sk": {"S": "SPAN#0001"}}}}
        for n in range(26)
    ]
    with pytest.raises(ClientError) as raised:
        client.batch_write_item(RequestItems={table: requests})
    assert "ValidationException" == raised.value.response["Error"]["Code"]


def test_pause_makes_requests_time_out_and_resume_keeps_the_data(
    dynamodb: DynamoDbLocal, client: DynamoDBClient, table: str
) -> None:
    """While paused requests time out; after resume the data written before is still there."""
    key = {"pk": {"S": "TRACE#1"}, "sk": {"S": "SPAN#0001"}}
    client.put_item(TableName=table, Item=key)
    impatient = dynamodb.client(QUICK)
    dynamodb.pause()
    try:
        with pytest.raises(ReadTimeoutError):
            impatient.get_item(TableName=table, Key=key)
    finally:
        dynamodb.resume()
        impatient.close()
    assert key == client.get_item(TableName=table, Key=key)["Item"]


def test_restart_keeps_the_port_loses_the_tables_and_the_old_process(
    dynamodb: DynamoDbLocal, client: DynamoDBClient, table: str
) -> None:
    """restart() serves on the same endpoint again, empty, and the old Java process is gone."""
    endpoint, old_pid = dynamodb.endpoint_url, dynamodb.pid
    dynamodb.restart()
    assert (endpoint, False, []) == (
        dynamodb.endpoint_url,
        Path(f"/proc/{old_pid}").exists(),
        client.list_tables()["TableNames"],
    )


def test_start_on_a_busy_port_fails_with_the_server_output() -> None:
    """Starting on a port already taken raises an error that quotes the bind failure."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = DynamoDbLocal(squatter.getsockname()[1])
        with pytest.raises(DynamoDbLocalError, match="Address already in use"):
            server.start()
    assert (False, None) == (server.running, server.pid)


def test_concurrent_installs_agree() -> None:
    """install() called from several threads at once returns the same jar directory."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        directories = set(pool.map(lambda _: install(), range(4)))
    assert 1 == len(directories)
    assert (next(iter(directories)) / "DynamoDBLocal.jar").is_file()
