"""OtlpTracer against a real OTLP/HTTP endpoint on 127.0.0.1 that can fail on demand."""

from __future__ import annotations

import gzip
import logging
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from generative_ai_toolkit.tracer._writer import RetryableError
from generative_ai_toolkit.tracer.otlp import OtlpTracer
from generative_ai_toolkit.tracer.otlp._http import (
    OtlpHttpError,
    OtlpHttpTransport,
    parse_retry_after,
)
from otlp.capture import CaptureServer
from otlp.wire import attributes_of

FAST: dict[str, Any] = {"schedule_delay": 0.05, "max_retry_delay": 0.2}
# For tests that expect both notebook spans in one request: the engine exports only on flush(),
# so a loaded machine cannot split them between two scheduled batches.
ONE_BATCH: dict[str, Any] = {"schedule_delay": 60}


@pytest.fixture
def tracers() -> Iterator[list[OtlpTracer]]:
    """Tracers made by a test, shut down after it."""
    made: list[OtlpTracer] = []
    yield made
    for tracer in made:
        tracer.shutdown()


def make(tracers: list[OtlpTracer], capture: CaptureServer, **options: Any) -> OtlpTracer:
    tracer = OtlpTracer(endpoint=capture.endpoint, **{**FAST, **options})
    tracers.append(tracer)
    return tracer


def notebook_spans(tracer: OtlpTracer) -> None:
    """The notebook's OTLP cell, without the sleeps."""
    tracer.set_context(resource_attributes={"service.name": "MyAgent"})
    with tracer.trace("parent", span_kind="SERVER") as parent_span:
        parent_span.add_attribute("ai.conversation.id", "123456", inheritable=True)
        parent_span.add_attribute("ai.auth.context", "user123", inheritable=True)
        with tracer.trace("child") as child_span:
            child_span.add_attribute("ai.trace.type", "tool-invocation")
            child_span.add_attribute("ai.tool.input", "Hello, world!")
            child_span.add_attribute("ai.tool.output", "World, hello!")


def names(spans: list[Span]) -> list[str]:
    return sorted(span.name for span in spans)


def test_notebook_spans_arrive_with_resource_scope_and_kind(
    capture: CaptureServer, tracers: list[OtlpTracer]
) -> None:
    """One POST to /v1/traces carrying both spans, their resource, scope, kind and links."""
    tracer = make(tracers, capture, **ONE_BATCH)
    notebook_spans(tracer)
    assert tracer.flush(10)
    (received,) = capture.accepted()
    assert "/v1/traces" == received.path
    assert "application/x-protobuf" == received.headers["content-type"]
    assert received.headers["user-agent"].startswith("generative-ai-toolkit-tracing/")
    (resource_spans,) = received.request.resource_spans
    assert {"service.name": "MyAgent"} == attributes_of(resource_spans.resource)
    (scope_spans,) = resource_spans.scope_spans
    assert ("generative-ai-toolkit", "current") == (
        scope_spans.scope.name,
        scope_spans.scope.version,
    )
    child, parent = scope_spans.spans  # children end first
    assert ("child", Span.SPAN_KIND_INTERNAL) == (child.name, child.kind)
    assert ("parent", Span.SPAN_KIND_SERVER) == (parent.name, parent.kind)
    assert parent.span_id == child.parent_span_id
    assert parent.trace_id == child.trace_id
    assert {
        "ai.trace.type": "tool-invocation",
        "ai.tool.input": "Hello, world!",
        "ai.tool.output": "World, hello!",
        "ai.conversation.id": "123456",
        "ai.auth.context": "user123",
        "gen_ai.conversation.id": "123456",
        "gen_ai.tool.call.arguments": "Hello, world!",
        "gen_ai.tool.call.result": "World, hello!",
        "gen_ai.operation.name": "execute_tool",
    } == attributes_of(child)
    assert {"written": 2, "dropped": 0, "rejected": 0} == {
        k: tracer.stats[k] for k in ("written", "dropped", "rejected")
    }


def test_gzip_and_headers(capture: CaptureServer, tracers: list[OtlpTracer]) -> None:
    """compression='gzip' compresses the body; headers= are sent on every request."""
    tracer = make(
        tracers, capture, compression="gzip", headers={"Authorization": "Bearer t"}, **ONE_BATCH
    )
    notebook_spans(tracer)
    assert tracer.flush(10)
    (received,) = capture.accepted()
    assert "gzip" == received.headers["content-encoding"]
    assert "Bearer t" == received.headers["authorization"]
    assert received.request.SerializeToString() == gzip.decompress(received.body)


def test_environment_variables_configure_the_tracer(
    capture: CaptureServer, tracers: list[OtlpTracer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_* variables alone point OtlpTracer() at the receiver."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{capture.port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=s%3Dcret")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    tracer = OtlpTracer(**{**FAST, **ONE_BATCH})
    tracers.append(tracer)
    notebook_spans(tracer)
    assert tracer.flush(10)
    (received,) = capture.accepted()
    assert ("s=cret", "gzip") == (
        received.headers["x-api-key"],
        received.headers["content-encoding"],
    )


def test_outage_and_recovery_deliver_everything_queued(
    capture: CaptureServer, tracers: list[OtlpTracer]
) -> None:
    """Receiver down: spans wait in the queue; receiver back: every one arrives, once."""
    tracer = make(tracers, capture)
    notebook_spans(tracer)
    assert tracer.flush(10)
    capture.stop()
    for i in range(20):
        with tracer.trace(f"during-outage-{i}"):
            pass
    assert not tracer.flush(0.5)
    assert tracer.stats["retried"] >= 1
    capture.start()
    for i in range(5):
        with tracer.trace(f"after-{i}"):
            pass
    assert tracer.flush(10)
    received = names(capture.spans())
    expected = sorted(
        ["child", "parent"]
        + [f"during-outage-{i}" for i in range(20)]
        + [f"after-{i}" for i in range(5)]
    )
    assert expected == received
    assert (0, 27) == (tracer.stats["dropped"], tracer.stats["written"])


def test_receiver_not_up_yet_at_start(tracers: list[OtlpTracer]) -> None:
    """A tracer made before its receiver listens delivers once the receiver comes up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    capture = CaptureServer(port=port)
    tracer = make(tracers, capture)
    notebook_spans(tracer)
    assert not tracer.flush(0.3)
    with capture:
        assert tracer.flush(10)
        assert ["child", "parent"] == names(capture.spans())


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_are_retried(
    capture: CaptureServer, tracers: list[OtlpTracer], status: int
) -> None:
    """429/502/503/504 are retried until accepted; nothing is lost."""
    capture.fail_next(status, times=2)
    tracer = make(tracers, capture)
    notebook_spans(tracer)
    assert tracer.flush(10)
    assert [status, status, 200] == [r.status for r in capture.received]
    assert ["child", "parent"] == names(capture.spans())
    assert (2, 0) == (tracer.stats["retried"], tracer.stats["dropped"])


def test_retry_after_is_honoured(capture: CaptureServer, tracers: list[OtlpTracer]) -> None:
    """A 429 with Retry-After: 1 waits about a second, far beyond the normal backoff."""
    capture.fail_next(429, retry_after="1")
    tracer = make(tracers, capture, max_retry_delay=1.0)  # the engine caps waits at 4x this
    notebook_spans(tracer)
    started = time.monotonic()
    assert tracer.flush(10)
    assert time.monotonic() - started >= 0.9
    assert [429, 200] == [r.status for r in capture.received]


def test_other_client_errors_drop_the_spans_counted_and_logged(
    capture: CaptureServer, tracers: list[OtlpTracer], caplog: pytest.LogCaptureFixture
) -> None:
    """A 422 is not retried as it is: the batch is halved, the spans dropped, counted, logged."""
    capture.fail_next(422, times=3, body=b"bad span")  # the batch, then each half
    tracer = make(tracers, capture)
    with caplog.at_level(logging.WARNING, "generative_ai_toolkit.tracer"):
        notebook_spans(tracer)
        assert tracer.flush(10)
    assert (2, 0) == (tracer.stats["dropped"], tracer.stats["written"])
    assert 3 == len(capture.received)
    assert "HTTP 422" in caplog.text
    assert "bad span" in caplog.text
    with tracer.trace("later"):
        pass
    assert tracer.flush(10)
    assert ["later"] == names(capture.spans())


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_refused_request_drops_the_batch_in_one_request(
    capture: CaptureServer,
    tracers: list[OtlpTracer],
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    """A refusal of the whole request (unreadable, wrong path or credentials) says nothing about
    the spans: one request, one log line, no span-by-span split."""
    capture.fail_next(status, times=100, body=b"refused")
    tracer = make(tracers, capture, max_batch_size=64)
    with caplog.at_level(logging.WARNING, "generative_ai_toolkit.tracer"):
        for i in range(40):
            with tracer.trace(f"s{i}"):
                pass
        assert tracer.flush(10)
    assert (40, 0) == (tracer.stats["dropped"], tracer.stats["written"])
    assert 1 == len(capture.received)
    assert 1 == caplog.text.count(f"HTTP {status}")


def test_partial_success_is_logged_and_counted(
    capture: CaptureServer, tracers: list[OtlpTracer], caplog: pytest.LogCaptureFixture
) -> None:
    """Spans the receiver rejects inside a 200 answer are logged and counted as rejected."""
    capture.reject_next(1)
    tracer = make(tracers, capture)
    with caplog.at_level(logging.WARNING, "generative_ai_toolkit.tracer"):
        notebook_spans(tracer)
        assert tracer.flush(10)
    assert 1 == tracer.stats["rejected"]
    assert "rejected 1 of 2 span(s): spans too old" in caplog.text


def test_split_batch_resends_only_what_failed(
    capture: CaptureServer, tracers: list[OtlpTracer]
) -> None:
    """When the 2nd request of a split batch fails, only its spans are sent again."""
    tracer = make(tracers, capture, max_request_bytes=4096, schedule_delay=5)
    for i in range(12):
        with tracer.trace(f"s{i:02d}") as span:
            span.add_attribute("text", "x" * 1000)
    capture.fail_next(503, after=1)
    assert tracer.flush(10)
    statuses = [r.status for r in capture.received]
    assert [200, 503, 200] == statuses[:3]
    assert len(statuses) >= 4  # 12 spans of 1 kB do not fit in 2 requests of 4 kB
    assert sorted(f"s{i:02d}" for i in range(12)) == names(capture.spans())  # each once
    assert all(len(r.body) <= 4096 for r in capture.received)
    assert (12, 1) == (tracer.stats["written"], tracer.stats["retried"])


def test_huge_span_arrives_cut_down_beside_whole_neighbours(
    capture: CaptureServer, tracers: list[OtlpTracer]
) -> None:
    """A span over the request limit is truncated, never dropped, nor its neighbours."""
    tracer = make(tracers, capture, max_request_bytes=64 * 1024)
    with tracer.trace("before") as span:
        span.add_attribute("ai.tool.output", "fine")
    with tracer.trace("huge") as span:
        span.add_attribute("ai.tool.output", "y" * 1_000_000)
    with tracer.trace("after"):
        pass
    assert tracer.flush(10)
    spans = {s.name: attributes_of(s) for s in capture.spans()}
    assert ["after", "before", "huge"] == sorted(spans)
    assert "fine" == spans["before"]["ai.tool.output"]
    assert "ai.tool.output" in spans["huge"]["ai.storage.truncated_keys"]
    assert (0, 3) == (tracer.stats["dropped"], tracer.stats["written"])


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = __str__


def test_nothing_ever_raises_into_the_agent(tracers: list[OtlpTracer]) -> None:
    """Receiver down, odd values, oversize spans: the traced code runs undisturbed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tracer = OtlpTracer(
        port=port, max_queue_size=5, max_request_bytes=2048, shutdown_timeout=0.2, **FAST
    )
    tracers.append(tracer)
    for i in range(20):
        with tracer.trace("agent") as span:
            span.add_attribute("odd", Unprintable())
            span.add_attribute("many", {f"k{j}": j for j in range(500)})
            span.add_attribute("int", 2**200 + i)
    assert 0 == tracer.stats["persist_errors"]
    assert tracer.stats["dropped"] >= 15  # the queue of 5 overflowed: counted


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_endpoint_with_a_custom_ca(
    tmp_path: Path, tracers: list[OtlpTracer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """https endpoints use TLS; OTEL_EXPORTER_OTLP_CERTIFICATE names the CA to trust."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(cert))
    with CaptureServer(ssl_context=server_context) as capture:
        assert capture.endpoint.startswith("https://")
        tracer = make(tracers, capture)
        notebook_spans(tracer)
        assert tracer.flush(10)
        assert ["child", "parent"] == names(capture.spans())


# -- the transport on its own ---------------------------------------------------------------------


def test_refused_connection_is_retryable_and_the_next_send_reconnects() -> None:
    """After a refused connection the transport works again as soon as the receiver is up.

    (The previous implementation raised CannotSendRequest forever after one refusal.)
    """
    capture = CaptureServer().start()
    port = capture.port
    capture.stop()
    transport = OtlpHttpTransport(f"http://127.0.0.1:{port}/v1/traces", timeout=2)
    for _ in range(3):
        with pytest.raises(RetryableError, match="refused"):
            transport.send(b"")
    with CaptureServer(port=port) as capture:
        transport.send(b"")
        transport.send(b"")
        assert 2 == len(capture.accepted())
    transport.close()


def test_a_closed_kept_alive_connection_is_reopened_transparently() -> None:
    """A receiver that dropped the idle connection costs no retry: the send reconnects."""
    with CaptureServer() as capture:
        transport = OtlpHttpTransport(capture.endpoint, timeout=2)
        transport.send(b"")
        capture.stop()
        capture.start()
        transport.send(b"")
        assert 2 == len(capture.accepted())
        transport.close()


def test_a_receiver_that_never_answers_times_out_retryably() -> None:
    """A hung receiver costs at most the timeout, then the send is retryable."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        transport = OtlpHttpTransport(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.2)
        with pytest.raises(RetryableError, match="timed out"):
            transport.send(b"x")
        transport.close()


def test_retry_after_and_permanent_errors_surface_from_the_transport() -> None:
    """A 503 carries Retry-After seconds; a 404 is a permanent OtlpHttpError."""
    with CaptureServer() as capture:
        transport = OtlpHttpTransport(capture.endpoint)
        capture.fail_next(503, retry_after="7")
        with pytest.raises(RetryableError) as retry:
            transport.send(b"")
        assert 7.0 == retry.value.retry_after
        capture.fail_next(404, body=b"no such path")
        with pytest.raises(OtlpHttpError, match=r"HTTP 404.*no such path"):
            transport.send(b"")
        transport.close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_parsing(header: str | None, expected: float | None) -> None:
    """Delta seconds or an HTTP date, relative to now; junk is ignored."""
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert expected == parse_retry_after(header, now=now)


def test_a_forked_child_opens_its_own_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """After os.fork() the child never writes on the parent's kept-alive connection."""
    with CaptureServer() as capture:
        transport = OtlpHttpTransport(capture.endpoint)
        transport.send(b"")
        parents = transport._connection
        monkeypatch.setattr("os.getpid", lambda: -1)  # as seen from a forked child
        transport.send(b"")
        assert transport._connection is not parents
        assert 2 == len(capture.accepted())
        transport.close()
        assert parents is not None
        parents.close()


def test_a_span_that_cannot_fit_is_dropped_alone(
    capture: CaptureServer, tracers: list[OtlpTracer]
) -> None:
    """Thousands of tiny keys cannot be cut down: that span is dropped (counted), not the rest."""
    tracer = make(tracers, capture, max_request_bytes=4096)
    with tracer.trace("before"):
        pass
    with tracer.trace("unfittable") as span:
        for i in range(2000):
            span.add_attribute(f"key{i:04d}", i)
    with tracer.trace("after"):
        pass
    assert tracer.flush(10)
    assert ["after", "before"] == names(capture.spans())
    assert (1, 2) == (tracer.stats["dropped"], tracer.stats["written"])
