"""Where and how ``OtlpTracer`` sends: arguments and ``OTEL_EXPORTER_OTLP_*`` variables.

Precedence follows the OpenTelemetry specification: an explicit argument, else the
traces-specific variable (``OTEL_EXPORTER_OTLP_TRACES_*``), else the generic one
(``OTEL_EXPORTER_OTLP_*``), else the default. The generic endpoint is a base URL to which
``/v1/traces`` is appended; the traces-specific one is used as it is. Timeouts in variables are
milliseconds (as the specification says); the ``timeout`` argument is seconds. Invalid variable
values are logged and ignored; invalid arguments raise ``ValueError``.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

_log = logging.getLogger("generative_ai_toolkit.tracer")

DEFAULT_HOST: Final = "localhost"
DEFAULT_PORT: Final = 4318
TRACES_PATH: Final = "/v1/traces"
DEFAULT_TIMEOUT: Final = 10.0
#: 4 MiB: what gRPC receivers accept by default, well below HTTP receivers' usual limits.
DEFAULT_MAX_REQUEST_BYTES: Final = 4 * 1024 * 1024
_PREFIXES: Final = ("OTEL_EXPORTER_OTLP_TRACES_", "OTEL_EXPORTER_OTLP_")


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    """The resolved destination and request options."""

    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    compression: str | None = None
    certificate: str | None = None


def resolve_settings(
    *,
    host: str | None = None,
    port: int | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    compression: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> OtlpSettings:
    """Combine arguments and environment variables into ``OtlpSettings``."""
    env = os.environ if environ is None else environ
    if endpoint is not None and (host is not None or port is not None):
        raise ValueError("give either endpoint= or host=/port=, not both")
    if endpoint is not None:
        _check_url(endpoint, "endpoint")
        resolved = endpoint
    elif host is not None or port is not None:
        resolved = url_for(host or DEFAULT_HOST, DEFAULT_PORT if port is None else port)
    else:
        resolved = _endpoint_from(env) or url_for(DEFAULT_HOST, DEFAULT_PORT)
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if compression not in (None, "gzip", "none"):
        raise ValueError(f"compression must be 'gzip', 'none' or None, not {compression!r}")
    return OtlpSettings(
        endpoint=resolved,
        headers=dict(headers) if headers is not None else _headers_from(env),
        timeout=float(timeout) if timeout is not None else _timeout_from(env),
        compression=_compression_from(env) if compression is None else _off_if_none(compression),
        certificate=_variable(env, "CERTIFICATE"),
    )


def url_for(host: str, port: int) -> str:
    """``http://host:port/v1/traces`` (IPv6 literals bracketed)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an int from 1 to 65535, not {port!r}")
    if not host or any(c in host for c in "/?#@ "):
        raise ValueError(f"host must be a host name or address, not {host!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}{TRACES_PATH}"


def _check_url(url: str, what: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL, not {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ValueError(f"{what} has an invalid port: {url!r}") from None


def _variable(env: Mapping[str, str], name: str) -> str | None:
    for prefix in _PREFIXES:
        value = env.get(prefix + name, "").strip()
        if value:
            return value
    return None


def _endpoint_from(env: Mapping[str, str]) -> str | None:
    for name, suffix in (
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", TRACES_PATH),
    ):
        value = env.get(name, "").strip()
        if not value:
            continue
        url = value.rstrip("/") + suffix if suffix else value
        try:
            _check_url(url, name)
        except ValueError as exc:
            _log.warning("ignoring %s: %s", name, exc)
            continue
        return url
    return None


def parse_headers(text: str) -> dict[str, str]:
    """``key1=value1,key2=value2`` (values percent-encoded) as a dict; bad pairs are skipped."""
    headers: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        key = urllib.parse.unquote(key).strip()
        if not sep or not key:
            if pair.strip():
                _log.warning("ignoring malformed OTLP header %r (expected key=value)", pair)
            continue
        headers[key] = urllib.parse.unquote(value).strip()
    return headers


def _headers_from(env: Mapping[str, str]) -> dict[str, str]:
    value = _variable(env, "HEADERS")
    return parse_headers(value) if value else {}


def _timeout_from(env: Mapping[str, str]) -> float:
    value = _variable(env, "TIMEOUT")
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        millis = float(value)
    except ValueError:
        millis = -1.0
    if not millis > 0:
        _log.warning("ignoring OTLP timeout %r (expected milliseconds > 0)", value)
        return DEFAULT_TIMEOUT
    return millis / 1000.0


def _compression_from(env: Mapping[str, str]) -> str | None:
    value = _variable(env, "COMPRESSION")
    if value is None:
        return None
    if value.lower() not in ("gzip", "none"):
        _log.warning("ignoring OTLP compression %r (expected gzip or none)", value)
        return None
    return _off_if_none(value.lower())


def _off_if_none(value: str) -> str | None:
    return None if value == "none" else value
