"""A scripted agent for the tests: each turn calls a model, runs the tools it is told to, and
answers; spans carry the attribute names the toolkit uses (``ai.trace.type`` and friends)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generative_ai_toolkit.tracer import BaseTracer

MODEL = "fake-model-1"


@dataclass(frozen=True)
class Tool:
    """One tool call the model asks for; ``error`` makes the tool fail with a ``LookupError``."""

    name: str
    input: dict[str, Any]
    error: str | None = None


def converse(
    tracer: BaseTracer,
    user_input: str,
    *tools: Tool,
    agent: str = "assistant",
    conversation_id: str = "c-1",
    model: str = MODEL,
    usage: tuple[int, int] = (10, 5),
) -> None:
    """One turn: an LLM call before each tool call and one to answer, ``usage`` tokens each."""
    with tracer.trace("converse", span_kind="SERVER") as span:
        span.add_attribute("ai.trace.type", "converse")
        span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
        span.add_attribute("ai.agent.name", agent)
        span.add_attribute("ai.user.input", user_input)
        for tool in tools:
            llm_call(tracer, model, usage)
            tool_call(tracer, tool)
        llm_call(tracer, model, usage)
        span.add_attribute("ai.agent.response", "Done.")
        span.set_status("OK")


def llm_call(tracer: BaseTracer, model: str, usage: tuple[int, int]) -> None:
    """An ``llm-invocation`` span with Bedrock-style token usage."""
    with tracer.trace("llm-invocation", span_kind="CLIENT") as span:
        span.add_attribute("ai.trace.type", "llm-invocation")
        span.add_attribute("ai.llm.request.model.id", model)
        span.add_attribute(
            "ai.llm.response.usage",
            {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": sum(usage)},
        )


def tool_call(tracer: BaseTracer, tool: Tool) -> None:
    """A ``tool-invocation`` span; a failing tool records its error as the demo agent does."""
    with tracer.trace("tool-invocation") as span:
        span.add_attribute("ai.trace.type", "tool-invocation")
        span.add_attribute("ai.tool.name", tool.name)
        span.add_attribute("ai.tool.input", tool.input)
        if tool.error is None:
            span.add_attribute("ai.tool.output", "ok")
        else:
            exc = LookupError(tool.error)
            span.add_attribute("ai.tool.error", f"LookupError: {tool.error}")
            span.record_exception(exc)
