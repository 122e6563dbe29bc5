"""Spans for the viewer tests, with the demo's attribute names: fixed ids, known shapes."""

from __future__ import annotations

from typing import Any, Final

from generative_ai_toolkit.tracer import Trace
from generative_ai_toolkit.tracer.testing import ended_span

BASE_NS: Final = 1_744_748_685_000_000_000  # 2025-04-15T20:24:45Z
XSS_SCRIPT: Final = "<script>alert(1)</script>"
XSS_IMG: Final = '"><img src=x onerror=alert(1)>'
XSS_CONVERSATION: Final = f"xss-{XSS_IMG}"


def make_span(
    name: str,
    *,
    trace: int,
    span_id: int,
    parent: int | None = None,
    start_ns: int = BASE_NS,
    duration_ns: int = 1_000_000,
    attributes: dict[str, Any] | None = None,
    inherited: dict[str, Any] | None = None,
    status: str = "UNSET",
    kind: str = "INTERNAL",
) -> Trace:
    """An ended span; ``inherited`` attributes come after the own ones, marked as inherited."""
    return ended_span(
        name,
        trace_id=trace,
        span_id=span_id,
        parent_id=parent,
        start_ns=start_ns,
        duration_ns=duration_ns,
        attributes=attributes,
        inherited=inherited,
        status=status,
        kind=kind,
        resource={"service.name": "ViewerTest"},
    )


def turn(
    conversation_id: str,
    *,
    trace: int,
    auth: str = "alice",
    start_ns: int = BASE_NS,
    user_input: str = "Hello",
    extra: dict[str, Any] | None = None,
) -> list[Trace]:
    """One turn as the demo records it: converse > llm-invocation, tool-invocation."""
    context = {"ai.conversation.id": conversation_id, "ai.auth.context": auth}
    root = trace * 1000
    llm = make_span(
        "llm-invocation",
        trace=trace,
        span_id=root + 1,
        parent=root,
        start_ns=start_ns + 100_000,
        duration_ns=300_000,
        kind="CLIENT",
        attributes={
            "ai.trace.type": "llm-invocation",
            "ai.llm.request.model.id": "fake-model-1",
            "ai.llm.request.messages": [{"role": "user", "content": user_input}],
            "ai.llm.response.output": {"tool_call": "echo", "arguments": {"text": user_input}},
        },
        inherited=context,
    )
    tool = make_span(
        "tool-invocation",
        trace=trace,
        span_id=root + 2,
        parent=root,
        start_ns=start_ns + 500_000,
        duration_ns=200_000,
        attributes={
            "ai.trace.type": "tool-invocation",
            "ai.tool.name": "echo",
            "ai.tool.input": {"text": user_input},
            "ai.tool.output": user_input,
            **(extra or {}),
        },
        inherited=context,
    )
    converse = make_span(
        "converse",
        trace=trace,
        span_id=root,
        start_ns=start_ns,
        duration_ns=1_000_000,
        kind="SERVER",
        status="OK",
        attributes={
            "ai.trace.type": "converse",
            "ai.conversation.id": conversation_id,
            "ai.auth.context": auth,
            "ai.agent.name": "assistant",
            "ai.user.input": user_input,
            "ai.agent.response": f"You said: {user_input}",
        },
    )
    return [llm, tool, converse]


def xss_turn(*, trace: int, start_ns: int) -> list[Trace]:
    """A turn whose conversation id, input and attributes are HTML that must stay text."""
    return turn(
        XSS_CONVERSATION,
        trace=trace,
        auth=XSS_SCRIPT,
        start_ns=start_ns,
        user_input=XSS_SCRIPT,
        extra={"note": XSS_IMG, XSS_SCRIPT: XSS_IMG},
    )


def big_trace(conversation_id: str, *, trace: int, spans: int, start_ns: int) -> list[Trace]:
    """One turn of ``spans`` spans: a root with 10 steps, the rest spread below them."""
    context = {"ai.conversation.id": conversation_id, "ai.auth.context": "load"}
    root_id = trace * 1_000_000
    out = [
        make_span(
            "converse",
            trace=trace,
            span_id=root_id,
            start_ns=start_ns,
            duration_ns=spans * 20_000 + 1_000_000,
            kind="SERVER",
            attributes={"ai.user.input": "a long task", **context},
        )
    ]
    steps = [root_id + 1 + i for i in range(min(10, spans - 1))]
    for i, step in enumerate(steps):
        out.append(
            make_span(
                f"step-{i}",
                trace=trace,
                span_id=step,
                parent=root_id,
                start_ns=start_ns + i * spans * 2_000,
                duration_ns=spans * 2_000,
                inherited=context,
            )
        )
    for i in range(spans - 1 - len(steps)):
        parent = steps[i % len(steps)]
        out.append(
            make_span(
                "llm-invocation" if i % 3 == 0 else "tool-invocation",
                trace=trace,
                span_id=root_id + 100 + i,
                parent=parent,
                start_ns=start_ns + (i % len(steps)) * spans * 2_000 + (i // len(steps)) * 15_000,
                duration_ns=10_000,
                kind="CLIENT" if i % 3 == 0 else "INTERNAL",
                status="ERROR" if i % 97 == 0 else "UNSET",
                attributes={"ai.tool.name": f"tool-{i % 7}", "index": i},
                inherited=context,
            )
        )
    return out


def many_conversations(count: int, *, start_ns: int = BASE_NS) -> list[Trace]:
    """``count`` one-span conversations, one millisecond apart (``c-00000`` is the oldest)."""
    return [
        make_span(
            "converse",
            trace=i + 1,
            span_id=i + 1,
            start_ns=start_ns + i * 1_000_000,
            kind="SERVER",
            status="ERROR" if i % 10 == 0 else "OK",
            attributes={
                "ai.conversation.id": f"c-{i:05d}",
                "ai.auth.context": "even" if i % 2 == 0 else "odd",
            },
        )
        for i in range(count)
    ]
