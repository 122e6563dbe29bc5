"""W3C traceparent: one trace across agents that call each other over HTTP."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from generative_ai_toolkit.tracer import InMemoryTracer, extract_traceparent, inject_traceparent


def test_inject_writes_the_current_span_and_keeps_tracestate() -> None:
    """traceparent names the current span of that tracer; tracestate is left as it was."""
    tracer = InMemoryTracer()
    headers = {"tracestate": "vendor=1", "Traceparent": "00-stale"}
    with tracer.trace("call") as span:
        inject_traceparent(headers, tracer)
    assert {
        "tracestate": "vendor=1",
        "traceparent": f"00-{span.trace_id}-{span.span_id}-01",
    } == headers


def test_inject_outside_any_span_sets_nothing() -> None:
    """No span of the tracer open: no traceparent (a stale one is removed)."""
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    inject_traceparent(headers, InMemoryTracer())
    assert {} == headers


def test_extract_continues_the_trace() -> None:
    """A span opened with the extracted parent joins the caller's trace as its child."""
    tracer = InMemoryTracer()
    parent = extract_traceparent(
        {"TraceParent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    )
    assert parent is not None
    with tracer.trace("handle", span_kind="SERVER", parent=parent) as span:
        pass
    assert ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331") == (
        span.trace_id,
        span.parent_span_id,
    )
    assert [span] == list(tracer.get_traces())  # the stand-in parent is never stored


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # another version
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  # uppercase
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero span id
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",  # short
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01",  # not hex
        "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
    ],
)
def test_invalid_headers_give_none(value: str) -> None:
    """Strict parsing: anything but a valid version-00 header is ignored, never raised."""
    assert extract_traceparent({"traceparent": value}) is None


def test_missing_or_odd_headers_give_none() -> None:
    """No header, a non-text value or an unusable headers object: None."""
    assert extract_traceparent({}) is None
    assert extract_traceparent({"traceparent": 42}) is None
    assert extract_traceparent(object()) is None


class AgentB(BaseHTTPRequestHandler):
    """Agent B: continues the caller's trace from the request headers."""

    tracer: InMemoryTracer

    def do_POST(self) -> None:
        parent = extract_traceparent(self.headers)
        with self.tracer.trace("agent-b", span_kind="SERVER", parent=parent) as span:
            span.add_attribute("ai.agent.name", "B")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def agent_b() -> Iterator[tuple[str, InMemoryTracer]]:
    tracer = InMemoryTracer()
    handler = type("Handler", (AgentB,), {"tracer": tracer})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", tracer
    server.shutdown()
    server.server_close()
    thread.join()


def test_agent_a_calling_agent_b_over_http_makes_one_trace(
    agent_b: tuple[str, InMemoryTracer],
) -> None:
    """A's client span is the parent of B's server span, over a real HTTP request."""
    url, tracer_b = agent_b
    tracer_a = InMemoryTracer()
    with tracer_a.trace("agent-a", span_kind="CLIENT") as span_a:
        headers: dict[str, str] = {}
        inject_traceparent(headers, tracer_a)
        request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert 200 == response.status
    (span_b,) = tracer_b.get_traces()
    assert span_a.trace_id == span_b.trace_id
    assert span_a.span_id == span_b.parent_span_id
    assert span_a.parent_span_id is None
