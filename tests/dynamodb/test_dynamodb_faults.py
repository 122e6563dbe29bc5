"""DynamoDB endpoints that misbehave at construction: the agent is never held up."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer


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
