"""Content capture levels: metadata only for LLM and tool spans, per tracer and for OTLP."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from generative_ai_toolkit.tracer import BaseTracer, StructuredLogsTracer
from generative_ai_toolkit.tracer.otlp import OtlpTracer
from generative_ai_toolkit.tracer.otlp._tracer import CAPTURE_CONTENT_ENV, captures_content
from generative_ai_toolkit.tracer.redaction import Redactor, chain, content_omitted
from otlp.capture import CaptureServer

PROMPT = "please summarise my medical history"


def llm_and_tool_spans(tracer: BaseTracer) -> None:
    with tracer.trace("llm", span_kind="CLIENT") as llm:
        llm.add_attribute("ai.trace.type", "llm-invocation")
        llm.add_attribute("ai.llm.request.model.id", "anthropic.claude-3")
        llm.add_attribute("ai.llm.request.messages", [{"role": "user", "content": [PROMPT]}])
        llm.add_attribute("ai.llm.response.usage", {"inputTokens": 12, "outputTokens": 34})
    with tracer.trace("tool") as tool:
        tool.add_attribute("ai.trace.type", "tool-invocation")
        tool.add_attribute("ai.tool.name", "lookup")
        tool.add_attribute("ai.tool.input", {"query": PROMPT})
        tool.add_attribute("ai.tool.output", "result: " + PROMPT)


def test_any_tracer_keeps_only_metadata_with_content_omitted() -> None:
    """Model, usage and tool name stay; the content becomes size markers."""
    stream = io.StringIO()
    llm_and_tool_spans(StructuredLogsTracer(stream=stream, redact=content_omitted()))
    llm, tool = (json.loads(line)["trace"]["attributes"] for line in stream.getvalue().splitlines())
    assert PROMPT not in stream.getvalue()
    assert "anthropic.claude-3" == llm["ai.llm.request.model.id"]
    assert {"inputTokens": 12, "outputTokens": 34} == llm["ai.llm.response.usage"]
    assert llm["ai.llm.request.messages"].startswith("[REDACTED:content] ")
    assert "lookup" == tool["ai.tool.name"]
    assert ["ai.tool.input", "ai.tool.output"] == tool["ai.redacted.keys"]


def test_content_omitted_chains_with_the_secret_redactor() -> None:
    """Metadata-only and secrets both: ``chain`` them."""
    stream = io.StringIO()
    redact = chain(content_omitted(), Redactor(secrets=True))
    with StructuredLogsTracer(stream=stream, redact=redact).trace("t") as span:
        span.add_attribute("ai.tool.input", "x")
        span.add_attribute("note", "AKIAIOSFODNN7EXAMPLE")
    assert "AKIAIOSFODNN7EXAMPLE" not in stream.getvalue()


@pytest.mark.parametrize(
    ("option", "variable", "expected"),
    [
        (None, None, True),  # today's default: the notebook's cells behave as before
        (None, "false", False),
        (None, "FALSE", False),
        (None, "true", True),
        (None, "no", True),  # only "false" turns capture off, as the conventions say
        (True, "false", True),  # the explicit option wins
        (False, None, False),
    ],
)
def test_capture_content_option_and_variable(
    option: bool | None, variable: str | None, expected: bool
) -> None:
    """``capture_content=`` wins; else ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``."""
    environ = {} if variable is None else {CAPTURE_CONTENT_ENV: variable}
    assert expected == captures_content(option, environ)


def _exported(capture: CaptureServer, **options: object) -> str:
    tracer = OtlpTracer(endpoint=capture.endpoint, schedule_delay=0.01, **options)  # type: ignore[arg-type]
    llm_and_tool_spans(tracer)
    assert tracer.flush(10)
    tracer.shutdown()
    return "".join(str(received.request) for received in capture.accepted())


def test_otlp_capture_content_false_exports_metadata_only(capture: CaptureServer) -> None:
    """Neither our keys nor the ``gen_ai.*`` mirrors carry the content."""
    exported = _exported(capture, capture_content=False)
    assert PROMPT not in exported
    assert "anthropic.claude-3" in exported
    assert "gen_ai.usage.input_tokens" in exported


def test_otlp_honours_the_genai_variable(
    capture: CaptureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false`` omits the content."""
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "false")
    assert PROMPT not in _exported(capture)


def test_otlp_captures_content_by_default(
    capture: CaptureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset, content is exported as before."""
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    assert PROMPT in _exported(capture)


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server
