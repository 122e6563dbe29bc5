"""Chat messages as one readable line for ``show``: who said what, which tool was called with
what, and what it returned, instead of the message's raw JSON.

Reads the message shapes agents record: Bedrock Converse (``{"role", "content": [{"text"},
{"toolUse"}, {"toolResult"}]}``, and a response's ``{"message": ...}``) and Anthropic's
(``{"type": "text" | "tool_use" | "tool_result"}`` blocks). Anything else is ``None``, and
``show`` prints it as JSON, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._human_format import value_text


def tool_names(messages: Any) -> dict[str, str]:
    """The tool names of a chat's tool calls by id, so a result can name its tool."""
    names: dict[str, str] = {}
    for message in messages if isinstance(messages, (list, tuple)) else ():
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in content if isinstance(content, list) else ():
            use = _tool_use(block) if isinstance(block, Mapping) else None
            if use is not None and isinstance(use.get("name"), str):
                names[str(use.get("toolUseId", use.get("id")))] = use["name"]
    return names


def message_line(value: Any, names: Mapping[str, str] | None = None) -> str | None:
    """``role: text → tool {input} ← tool: result`` for a chat message or response, else
    ``None``; ``names`` (from ``tool_names``) names the tool a result came from."""
    if isinstance(value, Mapping) and isinstance(value.get("message"), Mapping):
        value = value["message"]
    if not isinstance(value, Mapping):
        return None
    role, content = value.get("role"), value.get("content")
    if not isinstance(role, str):
        return None
    if isinstance(content, str):
        return f"{role}: {content}"
    if not isinstance(content, list):
        return None
    parts = [_block_text(block, names or {}) for block in content]
    if any(part is None for part in parts):
        return None
    return f"{role}: " + "  ".join(part for part in parts if part)


def _tool_use(block: Mapping[str, Any]) -> Mapping[str, Any] | None:
    use = block.get("toolUse") if "type" not in block else block
    if "type" in block and block["type"] != "tool_use":
        return None
    return use if isinstance(use, Mapping) else None


def _block_text(block: Any, names: Mapping[str, str]) -> str | None:
    if not isinstance(block, Mapping):
        return None
    kind = block.get("type")
    if isinstance(block.get("text"), str) and kind in (None, "text"):
        return str(block["text"])
    use = _tool_use(block)
    if use is not None:
        return f"→ {value_text(use.get('name', 'tool'))} {value_text(use.get('input', {}))}"
    result = block.get("toolResult") if kind is None else block if kind == "tool_result" else None
    if isinstance(result, Mapping):
        tool = names.get(str(result.get("toolUseId", result.get("tool_use_id"))), "result")
        failed = " (error)" if result.get("status") == "error" or result.get("is_error") else ""
        return f"← {tool}{failed}: {_result_text(result.get('content'))}"
    return None


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        texts = [
            str(item["text"])
            if isinstance(item, Mapping) and isinstance(item.get("text"), str)
            else value_text(item.get("json", item) if isinstance(item, Mapping) else item)
            for item in content
        ]
        return " ".join(texts)
    return value_text(content)
