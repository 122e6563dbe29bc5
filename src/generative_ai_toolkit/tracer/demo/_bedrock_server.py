"""A local server that speaks the ``bedrock-runtime`` wire protocol, answering by script.

Real boto3 clients talk to it with ``endpoint_url=server.endpoint_url`` (any credentials), so
botocore's own serialisers, parsers, retries and event hooks run, with no network and no model.
It serves ``POST /model/{modelId}/converse`` and ``/invoke`` (JSON), and ``/converse-stream``
and ``/invoke-with-response-stream`` (``application/vnd.amazon.eventstream``, sent chunked, one
message at a time), and real error answers (``ModelAnswer(error=throttling())``: HTTP 429 with
``x-amzn-ErrorType: ThrottlingException`` and ``{"message": ...}``).

Every request is handed to the ``responder`` callable, on the server's thread for that
connection, which returns the ``ModelAnswer``; ``requests`` keeps what was received.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

from ._bedrock_wire import (
    OPERATIONS,
    BedrockRequest,
    ModelAnswer,
    converse_body,
    converse_stream_events,
    invoke_body,
    invoke_stream_chunks,
)
from ._eventstream import event_frame, exception_frame

_log = logging.getLogger("generative_ai_toolkit.tracer.demo")

Responder = Callable[[BedrockRequest], ModelAnswer]


def echo(request: BedrockRequest) -> ModelAnswer:
    """The default responder: answers ``You said: <the last text of the request>``."""
    texts: list[str] = []
    _collect_text(request.body, texts)
    return ModelAnswer(text=f"You said: {texts[-1] if texts else ''}")


def _collect_text(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_text(item, out)
    elif isinstance(value, list):
        for item in value:
            _collect_text(item, out)


class BedrockServer:
    """A ``ThreadingHTTPServer`` on ``host`` (``127.0.0.1``) and ``port`` (0: a free one).

    Use as a context manager, or ``start()``/``stop()``. Thread-safe: each connection has its own
    thread, and the responder may be called from several at once.
    """

    def __init__(
        self, responder: Responder = echo, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.responder = responder
        self.requests: list[BedrockRequest] = []
        self._lock = threading.Lock()
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``, for ``boto3.client(..., endpoint_url=...)``."""
        if self._server is None:
            raise RuntimeError("the server is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Start listening, on a daemon thread."""
        server = _QuietServer(self._address, _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},  # so stop() returns at once
            name="bedrock-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close the socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _answer(self, request: BedrockRequest) -> ModelAnswer:
        with self._lock:
            self.requests.append(request)
        return self.responder(request)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (an abandoned stream) is normal here, not an error.
        _log.debug("bedrock server: connection from %s failed", client_address, exc_info=True)


def _handler_for(server: BedrockServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streams
    owner: BedrockServer

    def setup(self) -> None:
        super().setup()
        # Headers and each stream frame are separate writes: without this, Nagle's algorithm
        # and delayed ACKs hold every answer back by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("bedrock server: " + format, *args)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("?", 1)[0].split("/")
        if len(parts) != 4 or parts[1] != "model" or parts[3] not in OPERATIONS:
            self._error(404, "UnknownOperationException", f"no such operation: {self.path}")
            return
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = BedrockRequest(OPERATIONS[parts[3]], unquote(parts[2]), body, parsed)
        try:
            answer = self.owner._answer(request)
        except Exception as exc:  # noqa: BLE001 - a broken script answers 500, as a service would
            _log.exception("the bedrock server's responder failed")
            self._error(500, "InternalServerException", f"responder failed: {exc}")
            return
        if answer.delay:
            time.sleep(answer.delay)
        if answer.error is not None:
            self._error(answer.error.status, answer.error.type, answer.error.message)
        elif request.operation == "Converse":
            self._json(200, converse_body(request, answer))
        elif request.operation == "InvokeModel":
            self._send(200, invoke_body(request, answer), "application/json")
        elif request.operation == "ConverseStream":
            events = converse_stream_events(request, answer)
            self._stream((event_frame(kind, data) for kind, data in events), len(events), answer)
        else:
            chunks = invoke_stream_chunks(request, answer)
            frames = (
                event_frame("chunk", {"bytes": base64.b64encode(chunk).decode("ascii")})
                for chunk in chunks
            )
            self._stream(frames, len(chunks), answer)

    def _error(self, status: int, error_type: str, message: str) -> None:
        self._json(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), "application/json", headers)

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, frames: Iterable[bytes], count: int, answer: ModelAnswer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        cut = count // 2 if answer.stream_error is not None else -1
        try:
            for index, event in enumerate(frames):
                message = (
                    exception_frame("modelStreamErrorException", answer.stream_error or "")
                    if index == cut
                    else event
                )
                if index and answer.chunk_delay:
                    time.sleep(answer.chunk_delay)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(message), message))
                self.wfile.flush()
                if index == cut:
                    break
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading (a stream it abandoned)
