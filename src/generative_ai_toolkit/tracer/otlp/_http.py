"""Moving OTLP request bodies over HTTP(S): one kept-alive ``http.client`` connection.

Knows nothing of spans. Failures that may heal (HTTP 429/502/503/504, refused connections,
timeouts, resets) raise ``RetryableError`` with the server's ``Retry-After``; any other non-2xx
answer raises ``OtlpHttpError``. After any failure the connection is thrown away, so the next
request starts on a fresh one: a connection left half-used can never wedge the exporter.
"""

from __future__ import annotations

import gzip
import http.client
import io
import logging
import math
import os
import socket
import ssl
import time
import urllib.parse
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Final

from .._writer import BatchRejectedError, RetryableError

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: The HTTP statuses the OTLP specification says to retry.
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
_MAX_ERROR_BODY: Final = 300


class OtlpHttpError(Exception):
    """The receiver answered with a status that retrying will not fix (e.g. 400, 401, 404)."""

    def __init__(self, status: int, reason: str, body: bytes) -> None:
        detail = body[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip()
        super().__init__(f"HTTP {status} {reason}" + (f": {detail}" if detail else ""))
        self.status = status


class OtlpEndpointRejectedError(OtlpHttpError, BatchRejectedError):
    """The receiver refuses the request as a whole: 400 (it cannot read it: a wrong protocol or
    encoding for this receiver, say), 401, 403, 404, 405, 407 (a wrong path or credentials).
    The batch is dropped in one piece rather than split span by span."""


#: Statuses that refuse the request as a whole ("not here / not you / not this way"): splitting
#: the batch would only send each span once more to the same refusal.
ENDPOINT_STATUSES: Final = frozenset({400, 401, 403, 404, 405, 407})


class _StaleConnectionError(Exception):
    """A kept-alive connection turned out closed by the receiver before it answered."""


class OtlpHttpTransport:
    """POSTs protobuf bodies to one OTLP/HTTP endpoint (``http://`` or ``https://``).

    Not thread-safe: the export worker is its only user. ``timeout`` (seconds) bounds each
    request as a whole: connecting, sending and reading the answer. ``compression="gzip"``
    compresses bodies; ``ssl_context`` defaults to ``ssl.create_default_context()`` (system
    CAs) for https endpoints.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        compression: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "generative-ai-toolkit-tracing",
    ) -> None:
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint must be an http:// or https:// URL, not {endpoint!r}")
        if compression not in (None, "gzip"):
            raise ValueError(f"compression must be 'gzip' or None, not {compression!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self.endpoint = endpoint
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._timeout = timeout
        self._gzip = compression == "gzip"
        self._ssl_context = ssl_context
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": user_agent,
            **dict(headers or {}),
        }
        if self._gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._connection: http.client.HTTPConnection | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"OtlpHttpTransport({self.endpoint!r})"

    def send(self, body: bytes) -> bytes:
        """POST ``body``; return the response body of a 2xx answer.

        Raises ``RetryableError`` when trying again later may work and ``OtlpHttpError`` when it
        will not.
        """
        if self._gzip:
            body = gzip.compress(body, compresslevel=6, mtime=0)
        if self._pid != os.getpid():
            # A forked child must not talk on its parent's kept-alive socket: the two streams
            # would interleave. Forget it unclosed (closing could disturb the parent's).
            self._pid = os.getpid()
            self._connection = None
        if self._connection is not None:
            try:
                return self._post(body, reused=True)
            except _StaleConnectionError:
                # The receiver closed the idle kept-alive connection: retry on a fresh one.
                _log.debug("%s: the kept-alive connection was closed; reconnecting", self)
        return self._post(body, reused=False)

    def _post(self, body: bytes, *, reused: bool) -> bytes:
        # One deadline for the whole request: a receiver trickling a byte at a time would
        # otherwise keep each read under the timeout, and hold the only worker forever.
        deadline = time.monotonic() + self._timeout
        connection = self._connection or self._connect()
        try:
            sock = connection.sock
            if not isinstance(sock, _DeadlineSocket):
                connection.connect()
                sock = _DeadlineSocket(connection.sock)
                wrapped: Any = connection  # http.client only needs the socket's methods
                wrapped.sock = sock
            sock.deadline = deadline
            connection.request("POST", self._path, body, self._headers)
            response = connection.getresponse()
            payload = response.read()
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            self._discard()
            if reused:
                raise _StaleConnectionError from None
            raise RetryableError(f"{self.endpoint}: connection reset") from None
        except TimeoutError:
            self._discard()
            raise RetryableError(f"{self.endpoint}: timed out after {self._timeout}s") from None
        except ssl.SSLCertVerificationError:
            self._discard()
            raise  # a certificate that does not verify will not start to by waiting
        except (OSError, http.client.HTTPException) as exc:
            # Refused, unreachable, DNS failure, half-read answer: all may heal.
            self._discard()
            raise RetryableError(f"{self.endpoint}: {type(exc).__name__}: {exc}") from None
        if response.will_close:
            self._discard()
        status = response.status
        if 200 <= status < 300:
            return payload
        if status in RETRYABLE_STATUSES:
            retry_after = parse_retry_after(response.getheader("Retry-After"))
            raise RetryableError(
                f"{self.endpoint} answered HTTP {status} {response.reason}",
                retry_after=retry_after,
            )
        if status in ENDPOINT_STATUSES:
            raise OtlpEndpointRejectedError(status, response.reason, payload)
        raise OtlpHttpError(status, response.reason, payload)

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            context = self._ssl_context or ssl.create_default_context()
            self._ssl_context = context
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        self._connection = connection
        return connection

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Close the connection (a later ``send`` opens a new one)."""
        self._discard()


class _DeadlineSocket:
    """A connected socket whose sends and receives must all finish by ``deadline``.

    Each send or receive gets what is left of the request's time as its timeout, so the
    timeout bounds the whole request, not each read; past the deadline they raise
    ``TimeoutError``. Everything else is the wrapped socket's.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline = math.inf

    def _time_left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        return left

    def sendall(self, data: Any) -> None:
        # sendall's timeout bounds the whole call (not each chunk) since Python 3.5.
        self._sock.settimeout(self._time_left())
        self._sock.sendall(data)

    def recv_into(self, buffer: Any) -> int:
        self._sock.settimeout(self._time_left())
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb", buffering: int | None = None) -> io.BufferedReader:
        # http.client reads the answer through this file: every read goes through recv_into.
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
