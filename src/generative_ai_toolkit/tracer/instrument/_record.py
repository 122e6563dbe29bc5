"""The attributes of an ``llm-invocation`` span, from Converse-shaped requests and replies.

Shared by the automatic Bedrock instrumentation and ``record_llm_call`` for hand-instrumented
agents, so both write the same keys:

| key | from |
|---|---|
| ``ai.trace.type`` | ``llm-invocation`` |
| ``ai.llm.request.model.id`` | ``modelId`` |
| ``ai.llm.request.operation`` | ``Converse``, ``ConverseStream``, ``InvokeModel`` ... |
| ``ai.llm.request.messages`` / ``.system`` | ``messages`` / ``system`` (content) |
| ``ai.llm.request.inference.config`` | ``inferenceConfig`` (``maxTokens``, ``temperature`` ...) |
| ``ai.llm.request.tool.config`` | ``toolConfig`` (content) |
| ``ai.llm.response.output`` | ``output`` (``{"message": {...}}``) (content) |
| ``ai.llm.response.stop.reason`` | ``stopReason`` |
| ``ai.llm.response.usage`` | ``usage`` (``inputTokens``, ``outputTokens``, ``totalTokens`` ...) |
| ``ai.llm.response.metrics`` | ``metrics`` (``latencyMs``) |
| ``peer.service`` | ``llm:<model id>`` |

With ``capture_content=False`` the keys marked (content) are left out and replaced by sizes:
``ai.llm.request.messages.count``, ``ai.llm.request.content.chars`` and
``ai.llm.response.content.chars`` (characters of text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._trace import Trace
from ._bodies import Reply, text_chars

LLM_INVOCATION: Final = "llm-invocation"
REQUEST: Final = "ai.llm.request."
RESPONSE: Final = "ai.llm.response."

#: Converse request parameters -> the suffix of their ``ai.llm.request.`` key; content marked.
_REQUEST_KEYS: Final = (
    ("messages", "messages", True),
    ("system", "system", True),
    ("inferenceConfig", "inference.config", False),
    ("toolConfig", "tool.config", True),
)


def record_request(
    span: Trace,
    operation: str,
    model_id: Any,
    request: Mapping[str, Any],
    *,
    capture_content: bool,
) -> None:
    """Add the request attributes; ``request`` holds Converse's keys or their suffixes."""
    add = span.add_attribute
    add("ai.trace.type", LLM_INVOCATION)
    add("ai.llm.request.operation", operation)
    if model_id is not None:
        add("ai.llm.request.model.id", model_id)
        add("peer.service", f"llm:{model_id}")
    chars = 0
    for name, suffix, is_content in _REQUEST_KEYS:
        value = request.get(name, request.get(suffix))
        if value is None:
            continue
        if capture_content or not is_content:
            add(REQUEST + suffix, value)
        elif suffix != "tool.config":
            chars += text_chars(value)
    if not capture_content:
        messages = request.get("messages")
        if isinstance(messages, list):
            add("ai.llm.request.messages.count", len(messages))
        add("ai.llm.request.content.chars", chars)


def record_reply(span: Trace, reply: Reply, *, capture_content: bool) -> None:
    """Add the response attributes of ``reply``."""
    add = span.add_attribute
    if reply.output is not None:
        if capture_content:
            add("ai.llm.response.output", reply.output)
        else:
            add("ai.llm.response.content.chars", text_chars(reply.output))
    if reply.stop_reason is not None:
        add("ai.llm.response.stop.reason", reply.stop_reason)
    if reply.usage is not None:
        add("ai.llm.response.usage", reply.usage)
    if reply.metrics is not None:
        add("ai.llm.response.metrics", reply.metrics)
    for key, value in reply.extra.items():
        add(key, value)


def converse_reply(response: Mapping[str, Any]) -> Reply:
    """The ``Reply`` of a Converse response dict."""
    usage = response.get("usage")
    return Reply(
        response.get("output"),
        response.get("stopReason"),
        dict(usage) if isinstance(usage, Mapping) else None,
        response.get("metrics"),
    )
