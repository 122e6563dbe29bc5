"""OTLP transport faults: receivers that trickle, and refusals that say nothing about spans."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from generative_ai_toolkit.tracer._writer import RetryableError
from generative_ai_toolkit.tracer.otlp._http import OtlpHttpTransport

#: A complete, valid answer, sent one byte at a time.
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"x" * 20


class TricklingReceiver:
    """A TCP server on 127.0.0.1 that reads each request, then answers one byte every
    ``interval`` seconds: every single read is quick, the whole answer is not."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.answers_finished = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1/traces"

    def __enter__(self) -> TricklingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(10)

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            for byte in ANSWER:
                if self._stop.wait(self._interval):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up: what the test wants
            self.answers_finished += 1


@pytest.fixture
def trickling() -> Iterator[TricklingReceiver]:
    """A receiver that needs about six seconds for a 60-byte answer."""
    with TricklingReceiver(interval=0.1) as receiver:
        yield receiver


def test_a_trickling_receiver_is_cut_off_at_the_timeout(trickling: TricklingReceiver) -> None:
    """The timeout bounds the whole request: a byte every 0.1 s never finishes a 60-byte answer
    within 0.5 s, so the send fails retryably instead of holding the worker for six seconds."""
    transport = OtlpHttpTransport(trickling.endpoint, timeout=0.5)
    with pytest.raises(RetryableError, match="timed out"):
        transport.send(b"spans")
    transport.close()
    assert 0 == trickling.answers_finished
