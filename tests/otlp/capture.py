"""A small real OTLP/HTTP receiver on 127.0.0.1 for wire-level and fault tests.

It decodes every ``ExportTraceServiceRequest`` with ``opentelemetry-proto`` and keeps it, and
can be told to answer the next requests with an error status (``fail_next(503, times=2)``,
with ``Retry-After``), to reject spans through OTLP partial success, or to stop listening
altogether (``stop()``) and come back on the same port (``start()``): a refused connection.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes  # as sent (compressed when Content-Encoding says so)
    request: ExportTraceServiceRequest
    status: int


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: str | None
    body: bytes = b""
    after: int = 0


@dataclass
class CaptureServer:
    """An OTLP/HTTP endpoint on ``127.0.0.1:port`` (a free port unless given)."""

    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    received: list[Received] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _reject: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connections: set[socket.socket] = field(default_factory=set)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    @property
    def endpoint(self) -> str:
        """The ``/v1/traces`` URL."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> Self:
        """Listen (again) on ``port``; a free one the first time when it is 0."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start()``."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:  # kept-alive connections too: the receiver is really gone
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- behaviour

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        body: bytes = b"",
        after: int = 0,
    ) -> None:
        """Answer ``times`` requests with ``status`` (and ``Retry-After``), once ``after`` more
        have been accepted."""
        with self._lock:
            self._failures.append(_Failure(status, times, retry_after, body, after))

    def reject_next(self, count: int) -> None:
        """Accept the next request but report ``count`` rejected spans (partial success)."""
        with self._lock:
            self._reject = count

    # -- reading what came in

    def spans(self) -> list[Span]:
        """Every span of every accepted request, in arrival order."""
        with self._lock:
            return [
                span
                for received in self.received
                if received.status == 200
                for resource_spans in received.request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]

    def accepted(self) -> list[Received]:
        """The requests answered with 200."""
        with self._lock:
            return [r for r in self.received if r.status == 200]

    def wait_until(self, predicate: Callable[[CaptureServer], bool], timeout: float = 10) -> None:
        """Block until ``predicate(self)`` holds; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            with self._changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; received {len(self.received)} request(s)")
                self._changed.wait(min(remaining, 0.1))

    # -- the HTTP side

    def _respond(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raw = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
        request = ExportTraceServiceRequest.FromString(raw)
        with self._changed:
            failure = self._failures[0] if self._failures else None
            if failure is not None and failure.after > 0:
                failure.after -= 1
                failure = None
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
                status = failure.status
                reply_headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                reply = failure.body
            else:
                status, reply_headers, response = 200, {}, ExportTraceServiceResponse()
                if self._reject:
                    response.partial_success.rejected_spans = self._reject
                    response.partial_success.error_message = "spans too old"
                    self._reject = 0
                reply = response.SerializeToString()
            self.received.append(Received(path, headers, body, request, status))
            self._changed.notify_all()
        return status, reply_headers, reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

            def setup(self) -> None:
                super().setup()
                with capture._lock:
                    capture._connections.add(self.connection)

            def finish(self) -> None:
                with capture._lock:
                    capture._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply_headers, reply = capture._respond(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                for key, value in reply_headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
