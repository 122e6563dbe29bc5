"""Foreign conventions onto our ``ai.*`` keys: GenAI semantic conventions and OpenInference.

Spans from agents instrumented with OpenTelemetry (Strands Agents, Bedrock AgentCore through
ADOT, OpenInference and OpenLLMetry instrumentors, the OTel SDK by hand) name the same things
differently. Mapping them onto the keys the command line and the viewer read makes their
conversations, turns, LLM calls, tool calls, tokens and errors show like native ones. Every
original attribute is kept; a key of ours the span already has is never replaced.

Messages are mapped into Bedrock's shape (``{"role": ..., "content": [{"text": ...}]}``, with
``toolUse`` / ``toolResult`` blocks), the shape ``ai.llm.request.messages`` holds natively.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

#: ``gen_ai.operation.name`` / ``openinference.span.kind`` -> ``ai.trace.type``.
_OPERATIONS: Final = {
    "chat": "llm-invocation",
    "text_completion": "llm-invocation",
    "generate_content": "llm-invocation",
    "execute_tool": "tool-invocation",
    "invoke_agent": "converse",
}
_OPENINFERENCE_KINDS: Final = {
    "LLM": "llm-invocation",
    "TOOL": "tool-invocation",
    "AGENT": "converse",
}
#: Plain renames, first present source wins: (our key, their keys...).
_RENAMES: Final = (
    ("ai.conversation.id", ("gen_ai.conversation.id", "session.id")),
    ("ai.auth.context", ("user.id", "enduser.id")),
    ("ai.agent.name", ("gen_ai.agent.name", "agent.name")),
    (
        "ai.llm.request.model.id",
        ("gen_ai.request.model", "llm.model_name", "gen_ai.response.model"),
    ),
    ("ai.tool.name", ("gen_ai.tool.name", "tool.name")),
    ("ai.tool.use.id", ("gen_ai.tool.call.id", "tool_call.id")),
)
#: Token counts: (Bedrock usage key, their keys...).
_USAGE: Final = (
    (
        "inputTokens",
        ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    ),
    (
        "outputTokens",
        (
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
        ),
    ),
    ("totalTokens", ("gen_ai.usage.total_tokens", "llm.token_count.total")),
    (
        "cacheReadInputTokens",
        ("gen_ai.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read"),
    ),
    (
        "cacheWriteInputTokens",
        ("gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write"),
    ),
)
_MESSAGE_EVENTS: Final = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_FLAT_MESSAGE: Final = re.compile(
    r"^(llm\.(?:input|output)_messages|gen_ai\.(?:prompt|completion))\.(\d+)\.(.+)$"
)


def map_foreign_attributes(attrs: dict[str, Any]) -> None:
    """Add our ``ai.*`` keys for the foreign ones in ``attrs`` (in place; originals kept)."""
    _set_type(attrs)
    _rename(attrs)
    _set_usage(attrs)
    kind = attrs.get("ai.trace.type")
    if kind == "tool-invocation":
        _set_tool_io(attrs)
    elif kind in {"llm-invocation", "converse"}:
        _set_messages(attrs)
        if kind == "converse":
            _set_turn_io(attrs)
    model = attrs.get("ai.llm.request.model.id")
    if kind == "llm-invocation" and isinstance(model, str) and "peer.service" not in attrs:
        attrs["peer.service"] = f"llm:{model}"


_RENAME_SOURCES: Final = frozenset(key for _, theirs in _RENAMES for key in theirs)
_USAGE_SOURCES: Final = frozenset(key for _, theirs in _USAGE for key in theirs)


def _rename(attrs: dict[str, Any]) -> None:
    present = attrs.keys() & _RENAME_SOURCES
    if not present:
        return
    for ours, theirs in _RENAMES:
        if ours in attrs:
            continue
        for key in theirs:
            if key in present:
                value = attrs[key]
                if value is not None and value != "":
                    attrs[ours] = value if isinstance(value, str) else json.dumps(value)
                    break


def _set_type(attrs: dict[str, Any]) -> None:
    if "ai.trace.type" in attrs:
        return
    operation = attrs.get("gen_ai.operation.name")
    kind = _OPERATIONS.get(operation) if isinstance(operation, str) else None
    if kind is None:
        oi_kind = attrs.get("openinference.span.kind")
        kind = _OPENINFERENCE_KINDS.get(oi_kind.upper()) if isinstance(oi_kind, str) else None
    if kind is not None:
        attrs["ai.trace.type"] = kind


def _set_usage(attrs: dict[str, Any]) -> None:
    if "ai.llm.response.usage" in attrs or attrs.keys().isdisjoint(_USAGE_SOURCES):
        return
    usage: dict[str, int] = {}
    for ours, theirs in _USAGE:
        for key in theirs:
            value = attrs.get(key)
            if type(value) is int:
                usage[ours] = value
                break
    if not usage:
        return
    if "totalTokens" not in usage and "inputTokens" in usage and "outputTokens" in usage:
        usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    attrs["ai.llm.response.usage"] = usage


# -- messages -----------------------------------------------------------------------------------


def _set_messages(attrs: dict[str, Any]) -> None:
    flat = _flat_messages(attrs)
    events = _event_messages(attrs)
    if "ai.llm.request.messages" not in attrs:
        source = _json(attrs.get("gen_ai.input.messages"))
        messages = source if isinstance(source, list) else None
        messages = messages or flat.get("llm.input_messages") or flat.get("gen_ai.prompt")
        messages = messages or events[0]
        if messages:
            system = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "system"]
            rest = [m for m in messages if m not in system]
            attrs["ai.llm.request.messages"] = [_bedrock_message(m) for m in rest]
            if system and "ai.llm.request.system" not in attrs:
                attrs["ai.llm.request.system"] = [
                    block for m in system for block in _bedrock_message(m)["content"]
                ]
    if "ai.llm.request.system" not in attrs:
        instructions = _json(attrs.get("gen_ai.system_instructions"))
        if instructions:
            attrs["ai.llm.request.system"] = _content_blocks(instructions)
    if "ai.llm.response.output" not in attrs:
        source = _json(attrs.get("gen_ai.output.messages"))
        outputs = source if isinstance(source, list) else None
        outputs = outputs or flat.get("llm.output_messages") or flat.get("gen_ai.completion")
        outputs = outputs or events[1]
        if outputs:
            attrs["ai.llm.response.output"] = {"message": _bedrock_message(outputs[-1])}
            reason = outputs[-1].get("finish_reason") if isinstance(outputs[-1], Mapping) else None
            if isinstance(reason, str) and "ai.llm.response.stop.reason" not in attrs:
                attrs["ai.llm.response.stop.reason"] = reason
    if "ai.llm.response.stop.reason" not in attrs:
        reasons = attrs.get("gen_ai.response.finish_reasons")
        if isinstance(reasons, list) and reasons and isinstance(reasons[0], str):
            attrs["ai.llm.response.stop.reason"] = reasons[0]


def _flat_messages(attrs: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """OpenInference's / OpenLLMetry's flattened ``prefix.N.field`` keys as message lists."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in attrs.items():
        match = _FLAT_MESSAGE.match(key)
        if match is None:
            continue
        prefix, index, name = match.groups()
        name = name.removeprefix("message.")
        found.setdefault(prefix, {}).setdefault(int(index), {})[name] = value
    return {prefix: [items[i] for i in sorted(items)] for prefix, items in found.items()}


def _event_messages(attrs: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """(request messages, output messages) carried by GenAI span events."""
    inputs: list[Any] = []
    outputs: list[Any] = []
    events = attrs.get("otel.events")
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, Mapping):
            continue
        name = event.get("name")
        if name in _MESSAGE_EVENTS:
            content = _json(event.get("content"))
            inputs.append({"role": _MESSAGE_EVENTS[name], "content": content})
        elif name == "gen_ai.choice":
            message = _json(event.get("message", event.get("content")))
            if not isinstance(message, Mapping) or "role" not in message:
                message = {"role": "assistant", "content": message}  # Strands: content only
            outputs.append({**message, "finish_reason": event.get("finish_reason")})
        elif name == "gen_ai.client.inference.operation.details":
            inputs.extend(_as_list(_json(event.get("gen_ai.input.messages"))))
            outputs.extend(_as_list(_json(event.get("gen_ai.output.messages"))))
    return inputs, outputs


def _bedrock_message(message: Any) -> dict[str, Any]:
    if not isinstance(message, Mapping):
        return {"role": "user", "content": _content_blocks(message)}
    role = message.get("role")
    content = message.get("parts", message.get("content", message.get("contents")))
    blocks = _content_blocks(content)
    for call in _as_list(_json(message.get("tool_calls"))):
        if isinstance(call, Mapping):
            blocks.append(_tool_use(call))
    return {"role": role if isinstance(role, str) else "user", "content": blocks}


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    content = _json(content)
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, Mapping):
        content = [content]
    if not isinstance(content, list):
        return [{"text": json.dumps(content)}]
    return [_block(part) for part in content]


def _block(part: Any) -> dict[str, Any]:  # noqa: PLR0911 - one return per part type
    if isinstance(part, str):
        return {"text": part}
    if not isinstance(part, Mapping):
        return {"text": json.dumps(part)}
    kind = part.get("type")
    if kind == "text" or (kind is None and isinstance(part.get("text"), str)):
        return {"text": part.get("content", part.get("text", ""))}
    if kind in {"tool_call", "function"}:
        return _tool_use(part)
    if kind == "tool_call_response":
        response = part.get("response", part.get("result"))
        body = {"json": response} if isinstance(response, (Mapping, list)) else {"text": response}
        return {"toolResult": {"toolUseId": part.get("id"), "content": [body]}}
    if any(key in part for key in ("toolUse", "toolResult", "text", "image", "document")):
        return dict(part)  # already Bedrock-shaped (Strands)
    return {"text": json.dumps(part, default=str)}


def _tool_use(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    source = function if isinstance(function, Mapping) else call
    arguments = _json(source.get("arguments", call.get("input")))
    return {
        "toolUse": {"toolUseId": call.get("id"), "name": source.get("name"), "input": arguments}
    }


# -- tools and turns ---------------------------------------------------------------------------


def _set_tool_io(attrs: dict[str, Any]) -> None:
    listed = attrs.get("otel.events")
    events = {
        event.get("name"): event
        for event in (listed if isinstance(listed, list) else ())
        if isinstance(event, Mapping)
    }
    if "ai.tool.input" not in attrs:
        for key in ("gen_ai.tool.call.arguments", "tool.parameters", "input.value"):
            if key in attrs:
                attrs["ai.tool.input"] = _json(attrs[key])
                break
        else:
            if "content" in events.get("gen_ai.tool.message", {}):  # Strands: the tool's input
                attrs["ai.tool.input"] = _json(events["gen_ai.tool.message"]["content"])
    if "ai.tool.output" not in attrs:
        for key in ("gen_ai.tool.call.result", "output.value"):
            if key in attrs:
                attrs["ai.tool.output"] = _json(attrs[key])
                break
        else:
            if "message" in events.get("gen_ai.choice", {}):  # Strands: the tool's result
                attrs["ai.tool.output"] = _json(events["gen_ai.choice"]["message"])
    if "ai.tool.error" not in attrs:
        error = attrs.get("exception.message", attrs.get("otel.status_description"))
        if error is not None:
            attrs["ai.tool.error"] = error


def _set_turn_io(attrs: dict[str, Any]) -> None:
    if "ai.user.input" not in attrs:
        value = attrs.get("input.value")
        if value is None:
            value = _last_text(attrs.get("ai.llm.request.messages"), role="user")
        if value is not None:
            attrs["ai.user.input"] = value
    if "ai.agent.response" not in attrs:
        value = attrs.get("output.value")
        if value is None:
            output = attrs.get("ai.llm.response.output")
            message = output.get("message") if isinstance(output, Mapping) else None
            value = _last_text([message] if message else None, role="assistant")
        if value is not None:
            attrs["ai.agent.response"] = value


def _last_text(messages: Any, *, role: str) -> str | None:
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, Mapping) and message.get("role") == role:
            texts = [
                block["text"]
                for block in message.get("content", [])
                if isinstance(block, Mapping) and isinstance(block.get("text"), str)
            ]
            if texts:
                return "\n".join(texts)
    return None


def _json(value: Any) -> Any:
    """``value`` parsed when it is JSON text of an object or array, else as it is."""
    if isinstance(value, str) and value[:1] in {"{", "["}:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
