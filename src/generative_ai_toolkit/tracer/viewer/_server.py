"""The web viewer: a read-only page and JSON API over any ``TraceQuery``, on 127.0.0.1.

``gat-traces serve`` runs it over the CLI's sources (a SQLite file, a DynamoDB table, a
JSON-lines file); ``ViewerServer(query)`` serves any other ``TraceQuery`` (an
``InMemoryTracer`` in a notebook, say). Only ``TraceQuery`` methods are called, so every store
looks the same. The server answers GET and HEAD only; every other method gets 405. It listens
on a loopback address unless ``allow_remote=True``, and then also accepts only requests whose
``Host`` header names a loopback address (no DNS rebinding).

Endpoints (all GET):

- ``/api/conversations?search=&auth_context=&auth_search=&errors=1&since=&until=&limit=&offset=``
  - one page of ``list_conversations``, most recently active first, with ``has_more``;
- ``/api/conversations/<id>`` - a conversation's spans in outline, by start time;
- ``/api/traces/<trace id>`` - one trace as trees of full spans;
- ``/api/traces/<trace id>/spans/<span id>`` - one span in full;
- ``/api/updates?conversation=<id>&mark=<mark>&since_us=<epoch µs>`` - what the page polls:
  the list's mark and, when the conversation's mark changed, its recent spans (stateless, so
  any number of tabs share the browser's few connections to the server);
- ``/api/events?conversation=<id>&since_us=<epoch µs>`` - Server-Sent Events: ``spans`` (new
  spans of that conversation) and ``conversations`` (the list changed), for other clients;
- ``/`` and ``/static/...`` - the page, shipped in the package (no outside resources).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from .._human_format import value_text
from .._loopback import check_bind_address, is_loopback_host
from .._pricing import PricingSource, as_pricing
from .._query import AUTH_CONTEXT, TraceQuery
from ._json import (
    BadRequest,
    conversation_filter,
    hex_id,
    page,
    span_detail,
    span_outline,
    summary_json,
    tree_json,
    turns_json,
)
from ._live import LiveFeed, spans_mark, updates

_log = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8484
_HEARTBEAT_S: Final = 15.0

#: Strict: only this server's own script, styles and API; no inline code, frames or forms.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STATIC_TYPES: Final = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "extras.js": "text/javascript; charset=utf-8",
    "compare.js": "text/javascript; charset=utf-8",
    "extras.css": "text/css; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def _load_static() -> dict[str, bytes]:
    folder = resources.files(__package__ or "generative_ai_toolkit.tracer.viewer") / "static"
    return {name: folder.joinpath(name).read_bytes() for name in _STATIC_TYPES}


# -- the server ------------------------------------------------------------------------------------


class ViewerServer(ThreadingHTTPServer):
    """The viewer over ``query``, listening on ``host:port`` (port 0: any free port).

    Raises ``ValueError`` for a non-loopback ``host`` unless ``allow_remote``; ``OSError`` when
    the port is taken. Call ``serve_forever()`` (or use ``start()`` for a background thread) and
    ``close()``. Each request runs in its own daemon thread; ``query`` must be thread-safe (the
    toolkit's stores are).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        query: TraceQuery,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        allow_remote: bool = False,
        poll_interval: float = 1.0,
        title: str = "",
        pricing: PricingSource = None,
    ) -> None:
        check_bind_address(host, allow_remote=allow_remote)
        self.pricing = as_pricing(pricing)
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.query = query
        self.allow_remote = allow_remote
        self.poll_interval = poll_interval
        self.title = title
        self.static = _load_static()
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), ViewerHandler)

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:8484/``."""
        host, port = self.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{text}]" if ":" in text else text
        return f"http://{shown}:{port}/"

    def start(self) -> ViewerServer:
        """Serve from a daemon thread; returns ``self``."""
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="gat-viewer",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and free the port; open connections (kept alive between a page's
        requests, or holding an event stream) are closed too, so pages see the server gone."""
        self.stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class ViewerHandler(BaseHTTPRequestHandler):
    """Routes GET/HEAD requests; refuses every method that could change anything."""

    server: ViewerServer
    protocol_version = "HTTP/1.1"
    server_version = "gat-traces-viewer"

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the HTTP machinery answers itself (a bad request line, 414, 501) as JSON,
        with the same security headers as every other response."""
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        body = _dumps({"error": message or self.responses.get(code, ("error",))[0]}).encode()
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self._common_headers(cache=False)
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- methods ---------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def _refuse(self) -> None:
        self._send_json({"error": "read-only: only GET and HEAD"}, HTTPStatus.METHOD_NOT_ALLOWED)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    # -- routing ---------------------------------------------------------------------------------

    def _handle(self, *, head: bool) -> None:
        self._head = head
        if not self.server.allow_remote and not is_loopback_host(self.headers.get("Host", "")):
            self._send_json({"error": "unexpected Host header"}, HTTPStatus.MISDIRECTED_REQUEST)
            return
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        try:
            self._route(parts, params)
        except BadRequest as exc:
            self._send_json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - a store's failure is the page's 500, not a crash
            _log.exception("viewer request %s failed", self.path)
            self._send_json({"error": f"{type(exc).__name__}: {exc}"}, HTTPStatus.BAD_GATEWAY)

    def _route(self, parts: list[str], params: dict[str, str]) -> None:  # noqa: PLR0911
        match parts:
            case [""] | ["index.html"]:
                return self._send_static("index.html")
            case ["static", name] if name in self.server.static:
                return self._send_static(name)
            case ["api", "info"]:
                return self._send_json(
                    {
                        "title": self.server.title,
                        "read_only": True,
                        "poll_s": self.server.poll_interval,
                    }
                )
            case ["api", "updates"]:
                return self._updates(params)
            case ["api", "conversations"]:
                return self._conversations(params)
            case ["api", "conversations", conversation_id]:  # "" is an id some agents use
                return self._conversation(conversation_id, params)
            case ["api", "traces", trace_id]:
                trace = hex_id(trace_id, 32, "trace id")
                nodes = self.server.query.trace_tree(trace, include_open=True)
                if not nodes:
                    return self._not_found("no such trace")
                return self._send_json(
                    {"trace_id": trace_id.lower(), "roots": tree_json(nodes, self.server.pricing)}
                )
            case ["api", "traces", trace_id, "spans", span_id]:
                return self._span(hex_id(trace_id, 32, "trace id"), hex_id(span_id, 16, "span id"))
            case ["api", "events"]:
                return self._events(params)
        return self._not_found("no such page")

    def _conversations(self, params: dict[str, str]) -> None:
        limit, offset = page(params)
        where = conversation_filter(params)
        found = self.server.query.list_conversations(where, limit=limit + 1, offset=offset)
        self._send_json(
            {
                "conversations": [summary_json(s, self.server.pricing) for s in found[:limit]],
                "limit": limit,
                "offset": offset,
                "has_more": len(found) > limit,
            }
        )

    def _conversation(self, conversation_id: str, params: dict[str, str]) -> None:
        spans = self.server.query.conversation_spans(
            conversation_id, auth_context=params.get("auth_context") or None, include_open=True
        )
        if not spans:
            return self._not_found("no such conversation")
        auth = next(
            (s._attrs[AUTH_CONTEXT] for s in spans if s._attrs.get(AUTH_CONTEXT) is not None), None
        )
        return self._send_json(
            {
                "conversation_id": conversation_id,
                "auth_context": None if auth is None else value_text(auth),
                "mark": spans_mark(spans),
                "spans": [span_outline(s, self.server.pricing) for s in spans],
                **turns_json(spans, self.server.pricing),
            }
        )

    def _span(self, trace_id: str, span_id: str) -> None:
        wanted = int(span_id, 16)
        for span in self.server.query.get_traces(trace_id=trace_id, include_open=True):
            if span._span_id == wanted:
                return self._send_json(span_detail(span, self.server.pricing))
        return self._not_found("no such span")

    def _updates(self, params: dict[str, str]) -> None:
        answer = updates(
            self.server.query,
            params.get("conversation"),
            mark=params.get("mark", ""),
            since_us=_since_us(params),
            pricing=self.server.pricing,
        )
        self._send_json(answer)

    def _events(self, params: dict[str, str]) -> None:
        since_us = _since_us(params)
        feed = LiveFeed(
            self.server.query,
            params.get("conversation"),
            since_us=since_us,
            pricing=self.server.pricing,
        )
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self._common_headers(cache=False)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self._head:
            return
        self._write(b"retry: 2000\n\n")
        quiet_since = time.monotonic()
        while not self.server.stopping.is_set():
            try:
                events = feed.poll()
            except Exception:  # noqa: BLE001 - a store hiccup: keep the stream, try next time
                _log.exception("live update poll failed")
                events = []
            for event, data in events:
                self._write(f"event: {event}\ndata: {_dumps(data)}\n\n".encode())
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > _HEARTBEAT_S:
                self._write(b": still here\n\n")  # also notices a closed page
                quiet_since = time.monotonic()
            self.server.stopping.wait(self.server.poll_interval)

    # -- responses -------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def _common_headers(self, *, cache: bool) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache" if cache else "no-store")

    def _send(self, body: bytes, content_type: str, status: HTTPStatus, *, cache: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self._common_headers(cache=cache)
        self.end_headers()
        if not getattr(self, "_head", False) and self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, data: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(_dumps(data).encode(), "application/json; charset=utf-8", status, cache=False)

    def _send_static(self, name: str) -> None:
        self._send(self.server.static[name], _STATIC_TYPES[name], HTTPStatus.OK, cache=True)

    def _not_found(self, message: str) -> None:
        self._send_json({"error": message}, HTTPStatus.NOT_FOUND)


def _since_us(params: dict[str, str]) -> int:
    try:
        return int(params.get("since_us") or 0)
    except ValueError:
        raise BadRequest("since_us is not a number") from None


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
