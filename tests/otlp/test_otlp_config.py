"""Where OtlpTracer sends: arguments, then OTEL_EXPORTER_OTLP_* variables, then defaults."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from generative_ai_toolkit.tracer.otlp import OtlpTracer
from generative_ai_toolkit.tracer.otlp._config import parse_headers, resolve_settings


def test_default_is_localhost_4318() -> None:
    """With nothing set, spans go to http://localhost:4318/v1/traces, 10 s, uncompressed."""
    settings = resolve_settings(environ={})
    assert "http://localhost:4318/v1/traces" == settings.endpoint
    assert ({}, 10.0, None) == (settings.headers, settings.timeout, settings.compression)


def test_host_and_port_build_the_url() -> None:
    """OtlpTracer(host=..., port=...) as in the notebook."""
    assert "http://collector:4319/v1/traces" == (
        resolve_settings(host="collector", port=4319, environ={}).endpoint
    )
    assert "http://[::1]:4318/v1/traces" == resolve_settings(host="::1", environ={}).endpoint


def test_traces_endpoint_variable_is_used_as_is() -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the full URL."""
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c:443/custom"}
    assert "https://c:443/custom" == resolve_settings(environ=env).endpoint


@pytest.mark.parametrize("base", ["http://c:4318", "http://c:4318/"])
def test_generic_endpoint_variable_gets_the_traces_path(base: str) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: /v1/traces is appended."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": base}
    assert "http://c:4318/v1/traces" == resolve_settings(environ=env).endpoint


def test_precedence_argument_then_signal_variable_then_generic_variable() -> None:
    """Explicit argument > traces-specific variable > generic variable > default."""
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:1/v1/traces",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:2",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=traces",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=generic",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "9000",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
    }
    from_env = resolve_settings(environ=env)
    assert "http://traces:1/v1/traces" == from_env.endpoint
    assert {"a": "traces"} == from_env.headers
    assert 2.5 == from_env.timeout
    assert "gzip" == from_env.compression
    generic = {k: v for k, v in env.items() if "_TRACES_" not in k}
    from_generic = resolve_settings(environ=generic)
    assert "http://generic:2/v1/traces" == from_generic.endpoint
    assert ({"a": "generic"}, 9.0, None) == (
        from_generic.headers,
        from_generic.timeout,
        from_generic.compression,
    )
    explicit = resolve_settings(
        endpoint="http://arg:3/x", headers={"a": "arg"}, timeout=1, compression="none", environ=env
    )
    assert ("http://arg:3/x", {"a": "arg"}, 1.0, None) == (
        explicit.endpoint,
        explicit.headers,
        explicit.timeout,
        explicit.compression,
    )
    assert "http://h:4318/v1/traces" == resolve_settings(host="h", environ=env).endpoint


def test_headers_variable_is_percent_decoded() -> None:
    """key=value pairs, comma separated, values URL-encoded, blanks trimmed."""
    assert {"Authorization": "Basic a b", "x-team": "ai"} == parse_headers(
        "Authorization=Basic%20a%20b , x-team=ai"
    )


def test_invalid_variables_are_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    """A bad variable never stops the agent: warned about, default used."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "soon",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "brotli",
        "OTEL_EXPORTER_OTLP_HEADERS": "novalue",
    }
    with caplog.at_level(logging.WARNING, "generative_ai_toolkit.tracer"):
        settings = resolve_settings(environ=env)
    assert ("http://localhost:4318/v1/traces", {}, 10.0, None) == (
        settings.endpoint,
        settings.headers,
        settings.timeout,
        settings.compression,
    )
    assert 4 == len(caplog.records)


@pytest.mark.parametrize(
    "options",
    [
        {"endpoint": "localhost:4318"},
        {"endpoint": "ftp://c/v1/traces"},
        {"endpoint": "http://c:4318/v1/traces", "host": "c"},
        {"port": 0},
        {"port": "4318"},
        {"host": "a/b"},
        {"timeout": 0},
        {"compression": "brotli"},
        {"xray_ids": True, "id_generator": object()},
        {"max_request_bytes": 100},
    ],
)
def test_bad_arguments_fail_at_construction(options: dict[str, object]) -> None:
    """Misconfiguration raises ValueError when the tracer is made, not later."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        OtlpTracer(**options)  # type: ignore[arg-type]


def test_tracer_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """OtlpTracer() picks the endpoint up from the standard variables."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    tracer = OtlpTracer()
    try:
        assert "http://127.0.0.1:9/v1/traces" == tracer.endpoint
        assert "OtlpTracer(endpoint='http://127.0.0.1:9/v1/traces')" == repr(tracer)
    finally:
        tracer.shutdown()


def test_xray_ids_start_with_the_epoch_seconds() -> None:
    """xray_ids=True makes trace ids whose first 8 hex digits are the current epoch seconds."""
    import time  # noqa: PLC0415

    tracer = OtlpTracer(port=9, xray_ids=True, shutdown_timeout=0.1)
    try:
        with tracer.trace("x") as span:
            pass
        assert abs(int(span.trace_id[:8], 16) - time.time()) < 60
    finally:
        tracer.shutdown()


_BLOCK_PROTOBUF = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("google", "opentelemetry"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from generative_ai_toolkit.tracer.otlp import OtlpTracer
try:
    OtlpTracer()
except ImportError as exc:
    print(exc)
"""


def test_module_imports_without_protobuf_and_hints_at_the_extra() -> None:
    """The notebook's import works on a plain install; constructing says what to install."""
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK_PROTOBUF], capture_output=True, text=True, check=True
    )
    assert "pip install 'generative-ai-toolkit-tracing[otlp]'" in result.stdout
