"""DynamoDB faults: a frozen endpoint never holds up the agent; refusals that do not depend on
the spans drop a batch in one piece."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import NoCredentialsError

from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer

from .conftest import FakeDynamoDb, client_error

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class FrozenEndpoint:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)

    def close(self) -> None:
        self._listener.close()
        for connection in self._connections:
            connection.close()
        self._thread.join(5)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[FrozenEndpoint]:
    """The environment points boto3 at an endpoint that never answers."""
    endpoint = FrozenEndpoint()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield endpoint
    endpoint.close()


@pytest.mark.timeout(10)  # the client's read timeout is 15 s: the old constructor waited it out
def test_a_frozen_endpoint_does_not_hold_up_construction(
    frozen: FrozenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """The table check waits at most ``verify_timeout``; the tracer starts and says why."""
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        tracer = DynamoDbTracer("Traces", verify_timeout=0.3, shutdown_timeout=0.5)
    assert "'Traces' not checked within 0.3s" in caplog.text
    with tracer.trace("span"):
        pass  # queued; the agent goes on
    tracer.shutdown()


def test_verify_timeout_must_be_positive() -> None:
    """A zero or negative wait is a configuration error, raised at construction."""
    with pytest.raises(ValueError, match="verify_timeout"):
        DynamoDbTracer("Traces", verify_table=True, verify_timeout=0)


@pytest.mark.parametrize(
    "error",
    [
        client_error("UnrecognizedClientException"),
        client_error("InvalidSignatureException"),
        client_error("ExpiredTokenException"),
        client_error("AccessDeniedException"),
        client_error("SomethingNew", status=403),
        NoCredentialsError(),
    ],
    ids=["unknown-key", "bad-signature", "expired", "access-denied", "403", "none"],
)
def test_a_refusal_whatever_the_spans_drops_the_batch_in_one_piece(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad credentials or a missing permission refuse every span alike: the batch is dropped,
    counted, in one log line, after one request per chunk (no span-by-span split)."""

    def refuse(call: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise error

    fake = FakeDynamoDb(refuse)
    tracer = DynamoDbTracer(
        "Traces",
        client=cast("DynamoDBClient", fake),
        verify_table=False,
        max_concurrency=1,
        schedule_delay=5,
    )
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        for i in range(40):
            with tracer.trace(f"span-{i}"):
                pass
        assert tracer.flush(10)
    assert {"written": 0, "dropped": 40, "retried": 0} == {
        k: tracer.stats[k] for k in ("written", "dropped", "retried")
    }
    assert 2 == fake.calls  # one request per chunk of 25, none per span
    assert 1 == caplog.text.count("rejected by the sink")
    tracer.shutdown()
