"""``OtlpReceiver``: an OTLP/HTTP trace endpoint that writes what it receives into a store.

Any OpenTelemetry-instrumented agent pointed at ``http://127.0.0.1:4318`` lands in the store
(a ``SqliteTracer``, a ``DynamoDbTracer``, any tracer) and so in ``gat-traces`` and the viewer.

The protocol, as the OTLP specification says: ``POST /v1/traces`` with
``application/x-protobuf`` or ``application/json`` bodies, optionally gzip-compressed; 200
with a partial-success response naming spans it could not take; 400 for a body it cannot
decode, 413 above ``max_body_bytes`` (compressed or not), 415 for other content types, and 429
with ``Retry-After`` while the store's queue holds ``max_pending`` spans or more, or 503 while
``max_concurrent`` requests are already being decoded, which OpenTelemetry exporters retry.
So a sender that outruns the store is slowed down, and the receiver's memory stays bounded.
Error bodies are ``google.rpc.Status`` messages in the request's format.

Spans whose trace has not named its conversation yet wait (up to ``hold_seconds``) for a span
that does, or for the trace's root: see ``_assemble``. ``close()`` stores what still waits.

It listens on a loopback address unless ``allow_remote=True``, and answers only requests whose
``Host`` names a loopback address (the viewer's rules).
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final

from .._base import Tracer
from .._loopback import check_bind_address, is_loopback_host

if TYPE_CHECKING:
    from .._trace import Trace
    from ._decode import DecodedBatch

_log = logging.getLogger("generative_ai_toolkit.tracer")

DEFAULT_PORT: Final = 4318
DEFAULT_MAX_BODY_BYTES: Final = 32 * 1024 * 1024
PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
#: gRPC status codes for the error bodies.
_INVALID_ARGUMENT: Final = 3
_RESOURCE_EXHAUSTED: Final = 8
_UNAVAILABLE: Final = 14
INSTALL_HINT: Final = (
    "OtlpReceiver needs protobuf and opentelemetry-proto: "
    "pip install 'generative-ai-toolkit-tracing[otlp]'"
)


class OtlpReceiver(ThreadingHTTPServer):
    """Receives OTLP/HTTP trace requests and hands each span to ``store.persist``.

    ``start()`` serves from a daemon thread; ``close()`` stops (it does not shut the store
    down: the caller owns it). ``stats`` counts requests and spans.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        store: Tracer,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        allow_remote: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_pending: int = 10_000,
        max_concurrent: int = 4,
        retry_after: float = 1.0,
        hold_seconds: float = 30.0,
    ) -> None:
        check_bind_address(host, allow_remote=allow_remote, what="the OTLP receiver")
        try:
            from . import _assemble, _decode  # noqa: PLC0415 - protobuf is an optional dependency
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        self._decode = _decode
        if max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be at least 1024, not {max_body_bytes}")
        self.store = store
        self.allow_remote = allow_remote
        self.max_body_bytes = max_body_bytes
        self.max_pending = max_pending
        self.retry_after = retry_after
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._assembler = _assemble.TraceAssembler(max_age=hold_seconds)
        self._stopping = threading.Event()
        self._sweep_interval = min(1.0, hold_seconds / 4) if hold_seconds > 0 else 1.0
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("requests", "spans", "rejected", "throttled", "bad_requests"), 0
        )
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        """The endpoint to point exporters at: ``http://127.0.0.1:<port>/v1/traces``."""
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/v1/traces"

    @property
    def stats(self) -> dict[str, int]:
        """``requests`` answered 200, ``spans`` stored, ``rejected`` spans, ``throttled``
        requests (429/503), ``bad_requests`` (400/413/415) and ``held`` spans (waiting for
        their trace's conversation)."""
        with self._lock:
            return {**self._counts, "held": self._assembler.held}

    def start(self) -> OtlpReceiver:
        """Serve in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="otlp-receiver", daemon=True
        )
        self._thread.start()
        threading.Thread(target=self._sweep, name="otlp-receiver-sweep", daemon=True).start()
        return self

    def close(self) -> None:
        """Stop serving, store the spans still held for their conversation, close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
        self.count("spans", self._store(self._assembler.release_all())[0])

    # -- used by the handler

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def store_is_full(self) -> bool:
        stats = getattr(self.store, "stats", None)
        pending = stats.get("pending", 0) if isinstance(stats, dict) else 0
        return isinstance(pending, int) and pending >= self.max_pending

    def ingest(self, body: bytes, *, json_body: bool) -> DecodedBatch:
        """Decode a request body and store its spans (some may wait for their conversation)."""
        batch = self._decode.decode_spans(self._decode.parse_request(body, json_body=json_body))
        stored, failed = self._store(self._assembler.add(batch.drafts))
        if failed:
            batch.rejected += failed
            batch.errors.append("the store failed to take a span (see the log)")
        self.count("spans", stored)
        self.count("rejected", batch.rejected)
        return batch

    def _store(self, spans: list[Trace]) -> tuple[int, int]:
        stored = failed = 0
        for span in spans:
            try:
                self.store.persist(span)
                stored += 1
            except Exception:  # noqa: BLE001 - a failing store rejects spans, never the server
                failed += 1
                _log.exception("OTLP receiver: the store failed to take span %r", span.span_name)
        return stored, failed

    def _sweep(self) -> None:
        while not self._stopping.wait(self._sweep_interval):
            self.count("spans", self._store(self._assembler.release_expired())[0])


class _Handler(BaseHTTPRequestHandler):
    server: OtlpReceiver
    protocol_version = "HTTP/1.1"
    server_version = "gat-otlp"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("otlp receiver: " + format, *args)

    def do_POST(self) -> None:
        server = self.server
        json_body = self.headers.get_content_type() == JSON
        refusal = self._refusal()
        if refusal is not None:
            status, message = refusal
            if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                self.close_connection = True  # the body stays unread: no reuse
            self._bad(status, message, json_body)
            return
        length = int(self.headers["Content-Length"])
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if server.store_is_full():
            self._throttled(HTTPStatus.TOO_MANY_REQUESTS, "the store is busy", json_body, length)
        elif not server._slots.acquire(blocking=False):
            self._throttled(HTTPStatus.SERVICE_UNAVAILABLE, "too busy", json_body, length)
        else:
            try:
                self._receive(length, encoding=encoding, json_body=json_body)
            finally:
                server._slots.release()

    def _refusal(self) -> tuple[HTTPStatus, str] | None:  # noqa: PLR0911 - one per check
        """Why this request is refused before its body is read, if it is."""
        if not self.server.allow_remote and not is_loopback_host(self.headers.get("Host", "")):
            return HTTPStatus.FORBIDDEN, "the Host header must name a loopback address"
        if self.path.split("?", 1)[0] != "/v1/traces":
            return HTTPStatus.NOT_FOUND, "traces are received at /v1/traces"
        if self.headers.get_content_type() not in {PROTOBUF, JSON}:
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"use {PROTOBUF} or {JSON}"
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in {"identity", "gzip"}:
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported encoding {encoding!r}"
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if length < 0:
            return HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required"
        if length > self.server.max_body_bytes:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._too_large()
        return None

    def _receive(self, length: int, *, encoding: str, json_body: bool) -> None:
        body = self.rfile.read(length)
        if encoding == "gzip":
            try:
                body = _gunzip(body, limit=self.server.max_body_bytes)
            except _TooLargeError:
                self._bad(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._too_large(), json_body)
                return
            except (OSError, EOFError, zlib.error) as exc:
                self._bad(HTTPStatus.BAD_REQUEST, f"not valid gzip: {exc}", json_body)
                return
        try:
            batch = self.server.ingest(body, json_body=json_body)
        except self.server._decode.UndecodableError as exc:
            self._bad(HTTPStatus.BAD_REQUEST, str(exc), json_body)
            return
        self.server.count("requests")
        self._success(batch, json_body)

    # -- answers

    def _success(self, batch: DecodedBatch, json_body: bool) -> None:
        if json_body:
            data: dict[str, Any] = {}
            if batch.rejected:
                data["partialSuccess"] = {
                    "rejectedSpans": str(batch.rejected),
                    "errorMessage": batch.error_message,
                }
            self._send(HTTPStatus.OK, json.dumps(data).encode(), JSON)
            return
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: PLC0415
            ExportTraceServiceResponse,
        )

        response = ExportTraceServiceResponse()
        if batch.rejected:
            response.partial_success.rejected_spans = batch.rejected
            response.partial_success.error_message = batch.error_message
        self._send(HTTPStatus.OK, response.SerializeToString(), PROTOBUF)

    def _bad(self, status: HTTPStatus, message: str, json_body: bool) -> None:
        self.server.count("bad_requests")
        self._error(status, _INVALID_ARGUMENT, message, json_body)

    def _throttled(self, status: HTTPStatus, message: str, json_body: bool, length: int) -> None:
        self.server.count("throttled")
        self.rfile.read(length)  # drain the body so the connection can be reused
        code = _RESOURCE_EXHAUSTED if status == HTTPStatus.TOO_MANY_REQUESTS else _UNAVAILABLE
        retry = f"{max(1, round(self.server.retry_after))}"
        self._error(status, code, message, json_body, headers={"Retry-After": retry})

    def _error(
        self,
        status: HTTPStatus,
        code: int,
        message: str,
        json_body: bool,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        if json_body:
            body = json.dumps({"code": code, "message": message}).encode()
        else:
            from ._wire import field, varint  # noqa: PLC0415 - protobuf is optional

            body = b"\x08" + varint(code) + field(b"\x12", message.encode("utf-8", "replace"))
        self._send(status, body, JSON if json_body else PROTOBUF, headers=headers)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _too_large(self) -> str:
        return f"the body exceeds {self.server.max_body_bytes} bytes: send smaller batches"

    def do_GET(self) -> None:
        self._error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            _INVALID_ARGUMENT,
            "POST /v1/traces",
            False,
            headers={"Allow": "POST"},
        )

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET


class _TooLargeError(Exception):
    pass


def _gunzip(body: bytes, *, limit: int) -> bytes:
    """``body`` decompressed, refusing to grow past ``limit`` bytes (no gzip bombs)."""
    decompressor = zlib.decompressobj(wbits=31)
    out = decompressor.decompress(body, limit + 1)
    if len(out) > limit or decompressor.unconsumed_tail:
        raise _TooLargeError
    out += decompressor.flush()
    if len(out) > limit:
        raise _TooLargeError
    if not decompressor.eof:
        raise EOFError("the gzip stream is truncated")
    return out
