"""The demo's fake model: a deterministic script behind the local Bedrock server.

It reads a Converse request (messages with ``text``, ``toolUse`` and ``toolResult`` blocks, the
tools offered in ``toolConfig``), picks a tool by keyword, then words an answer from the tool's
result, as a tool-using LLM would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._bedrock_wire import BedrockRequest, ModelAnswer, ToolUse

Message = dict[str, Any]


def text_of(message: Mapping[str, Any]) -> str:
    """The text blocks of a Converse message, joined."""
    return " ".join(str(block["text"]) for block in message.get("content", ()) if "text" in block)


def tool_result_of(message: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first ``toolResult`` block of a message, if any."""
    for block in message.get("content", ()):
        if "toolResult" in block:
            result: Mapping[str, Any] = block["toolResult"]
            return result
    return None


class FakeModel:
    """A deterministic stand-in for an LLM; ``latency`` seconds per answer make durations real."""

    def __init__(self, *, latency: float = 0.004) -> None:
        self._latency = latency

    def respond(self, request: BedrockRequest) -> ModelAnswer:
        """The server's responder: the next assistant message for a Converse request."""
        body = request.body if isinstance(request.body, dict) else {}
        tools = [
            tool["toolSpec"]["name"]
            for tool in body.get("toolConfig", {}).get("tools", [])
            if "toolSpec" in tool
        ]
        answer = self.reply(body.get("messages", []), tools)
        return ModelAnswer(text=answer.text, tool_uses=answer.tool_uses, delay=self._latency)

    def reply(  # noqa: PLR0911 - one scripted rule per return
        self, messages: Sequence[Message], tools: Sequence[str]
    ) -> ModelAnswer:
        """The next message given the conversation so far."""
        last = messages[-1]
        result = tool_result_of(last)
        if result is not None:
            return ModelAnswer(text=_answer(result))
        text = text_of(last)
        lowered = text.lower()

        def use(tool: str, **arguments: Any) -> ModelAnswer:
            return ModelAnswer(tool_uses=[ToolUse(f"tooluse-{len(messages)}", tool, arguments)])

        if "weather" in lowered and "get_weather" in tools:
            return use("get_weather", city=_after(text, "in ") or "Amsterdam")
        match = re.search(r"[0-9(][0-9 +*/().-]*[0-9)]", text)
        if match and "calculator" in tools and "order" not in lowered:
            return use("calculator", expression=match[0])
        if "order" in lowered and "lookup_order" in tools:
            order = re.search(r"[A-Z]-\d+", text)
            return use("lookup_order", order_id=order[0] if order else "?")
        if ("research" in lowered or "find out" in lowered) and "research" in tools:
            return use("research", topic=_after(text, "about ") or text)
        if "search_notes" in tools and not any(tool_result_of(m) for m in messages):
            return use("search_notes", query=text)
        turns = sum(1 for m in messages if m["role"] == "user" and tool_result_of(m) is None)
        return ModelAnswer(text=f"Noted. (That was message {turns} of this conversation.)")


def _answer(result: Mapping[str, Any]) -> str:
    content = " ".join(str(block.get("text", "")) for block in result.get("content", ()))
    if result.get("status") == "error":
        return f"Sorry, that did not work: {content}"
    return content if content.startswith("Here is") else f"Here is what I found: {content}"


def _after(text: str, marker: str) -> str | None:
    index = text.find(marker)
    return text[index + len(marker) :].strip(" ?.!") if index >= 0 else None
