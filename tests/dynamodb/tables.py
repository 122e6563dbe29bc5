"""Traces tables for the tests: the notebook's layout plus the conversation summary indexes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from generative_ai_toolkit.tracer.dynamodb._summary_item import index_definitions

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def create_table_with_summaries(client: DynamoDBClient, table_name: str) -> None:
    """Create the table with every index (conversation, activity, auth activity); wait for it."""
    attributes, indexes = index_definitions()
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "conversation_id", "AttributeType": "S"},
            *attributes,  # type: ignore[list-item]
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
            },
            *indexes,  # type: ignore[list-item]
        ],
    )
    wait_until_active(client, table_name)


def wait_until_active(client: DynamoDBClient, table_name: str, timeout: float = 60.0) -> None:
    """Wait until the table and every index are ACTIVE."""
    deadline = time.monotonic() + timeout
    while True:
        table = client.describe_table(TableName=table_name)["Table"]
        statuses = [table.get("TableStatus")]
        statuses += [index.get("IndexStatus") for index in table.get("GlobalSecondaryIndexes", [])]
        if all(status == "ACTIVE" for status in statuses):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table_name} is not ACTIVE after {timeout:g} s")
        time.sleep(0.05)
