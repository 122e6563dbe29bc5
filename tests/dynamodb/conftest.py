"""DynamoDB test fixtures: a fake client for fault injection, DynamoDB Local for the rest."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from services.dynamodb_local import DynamoDbLocal, create_notebook_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Short timeouts, one attempt: outages show up in tests in about a second.
QUICK = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1})
#: For setting up and inspecting tables: patient, as the machine may be busy.
PATIENT = Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 3})


def client_error(code: str, operation: str = "BatchWriteItem", status: int = 400) -> ClientError:
    """The ``ClientError`` botocore raises for ``code``."""
    response: Any = {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


class FakeDynamoDb:
    """A fake client for ``BatchWriteItem`` that stores items and fails as scripted.

    ``script`` is called with each request's items before it is stored; it may raise, or return
    the items to hand back as ``UnprocessedItems``.
    """

    def __init__(
        self,
        script: Callable[[int, list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0
        self.request_sizes: list[int] = []
        self._script = script
        self._lock = threading.Lock()

    def batch_write_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        items = [request["PutRequest"]["Item"] for request in requests]
        with self._lock:
            self.calls += 1
            call = self.calls
            self.request_sizes.append(len(items))
        if len(items) > 25:
            raise client_error("ValidationException")
        unprocessed = self._script(call, items) if self._script else []
        left = {(i["pk"]["S"], i["sk"]["S"]) for i in unprocessed}
        with self._lock:
            for item in items:
                key = (item["pk"]["S"], item["sk"]["S"])
                if key not in left:
                    self.items[key] = item
        if not unprocessed:
            return {"UnprocessedItems": {}}
        return {"UnprocessedItems": {table: [{"PutRequest": {"Item": i}} for i in unprocessed]}}


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDbLocal]:
    """One DynamoDB Local for the DynamoDB tests (tables get unique names)."""
    with DynamoDbLocal() as server:
        yield server


@pytest.fixture
def ddb_env(dynamodb_local: DynamoDbLocal, monkeypatch: pytest.MonkeyPatch) -> DynamoDbLocal:
    """The environment points boto3 at DynamoDB Local (``AWS_ENDPOINT_URL_DYNAMODB`` ...)."""
    for key, value in dynamodb_local.env().items():
        monkeypatch.setenv(key, value)
    return dynamodb_local


@pytest.fixture
def ddb_client(dynamodb_local: DynamoDbLocal) -> Iterator[DynamoDBClient]:
    client = dynamodb_local.client(PATIENT)
    yield client
    client.close()


@pytest.fixture
def table(ddb_client: DynamoDBClient) -> str:
    """A fresh table laid out as the notebook creates it (GSI ``conversation_index``)."""
    name = f"Traces-{uuid.uuid4().hex[:8]}"
    create_notebook_table(ddb_client, table_name=name)
    return name
