"""Reading Bedrock payloads into one shape: the Converse API's.

``Converse`` and ``ConverseStream`` already speak it; ``InvokeModel`` bodies are each model
family's own JSON, recognised by their shape (so inference-profile ids and ARNs work too):
Anthropic messages, Amazon Nova (Converse-like), Amazon Titan text and Meta Llama (``prompt`` /
``generation``). Whatever is recognised becomes Converse-shaped output (``{"message": {"role":
"assistant", "content": [{"text": ...}, {"toolUse": ...}]}}``), a stop reason, and usage as
Converse reports it (``inputTokens``, ``outputTokens``, ``totalTokens``, and
``cacheReadInputTokens``/``cacheWriteInputTokens`` when the model reports them). Anything else is
kept as text. Pure functions: no boto3, no spans.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(slots=True)
class Reply:
    """What a model answered, in Converse's shape; ``None`` where the payload did not say."""

    output: Any = None
    stop_reason: str | None = None
    usage: dict[str, int] | None = None
    metrics: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


#: Converse's inference-config keys, from the names the model families use in their bodies.
_INFERENCE_KEYS: Final = {
    "max_tokens": "maxTokens",
    "max_gen_len": "maxTokens",
    "maxTokenCount": "maxTokens",
    "max_new_tokens": "maxTokens",
    "maxTokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "topP": "topP",
    "top_k": "topK",
    "topK": "topK",
    "stop_sequences": "stopSequences",
    "stopSequences": "stopSequences",
}


def decode_json(data: bytes | bytearray | str) -> Any:
    """``data`` as JSON, or ``None`` when it is not JSON."""
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


def as_text(data: bytes | bytearray | str) -> str:
    """``data`` as text (undecodable bytes replaced)."""
    return data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")


def invoke_request(body: Any) -> dict[str, Any]:
    """The request attributes (suffixes of ``ai.llm.request.``) of a parsed InvokeModel body."""
    if not isinstance(body, Mapping):
        return {}
    found: dict[str, Any] = {}
    if "messages" in body:
        found["messages"] = body["messages"]
    elif "inputText" in body:
        found["messages"] = [{"role": "user", "content": [{"text": body["inputText"]}]}]
    elif "prompt" in body:
        found["messages"] = [{"role": "user", "content": [{"text": body["prompt"]}]}]
    if "system" in body:
        found["system"] = body["system"]
    config: dict[str, Any] = {}
    for source in (body, body.get("inferenceConfig"), body.get("textGenerationConfig")):
        if isinstance(source, Mapping):
            for key, value in source.items():
                if key in _INFERENCE_KEYS:
                    config[_INFERENCE_KEYS[key]] = value
    if config:
        found["inference.config"] = config
    tools = body.get("toolConfig") or (
        {"tools": body["tools"]} if isinstance(body.get("tools"), list) else None
    )
    if tools:
        found["tool.config"] = tools
    return found


def converse_usage(usage: Mapping[str, Any]) -> dict[str, int]:
    """Usage in Converse's keys from any family's keys (``input_tokens``, ``prompt_token_count``
    ...); ``totalTokens`` is added when missing."""
    out: dict[str, int] = {}
    for ours, theirs in (
        ("inputTokens", ("inputTokens", "input_tokens", "inputTokenCount")),
        ("outputTokens", ("outputTokens", "output_tokens", "outputTokenCount")),
        ("totalTokens", ("totalTokens",)),
        (
            "cacheReadInputTokens",
            ("cacheReadInputTokens", "cacheReadInputTokenCount", "cache_read_input_tokens"),
        ),
        (
            "cacheWriteInputTokens",
            (
                "cacheWriteInputTokens",
                "cacheWriteInputTokenCount",
                "cache_creation_input_tokens",
            ),
        ),
    ):
        for key in theirs:
            value = usage.get(key)
            if type(value) is int:
                out[ours] = value
                break
    if "totalTokens" not in out and "inputTokens" in out and "outputTokens" in out:
        out["totalTokens"] = out["inputTokens"] + out["outputTokens"]
    return out


def _message(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"message": {"role": "assistant", "content": content}}


def _anthropic_content(blocks: Iterable[Any]) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            content.append({"text": block.get("text", "")})
        elif block.get("type") == "tool_use":
            tool = {"toolUseId": block.get("id"), "name": block.get("name")}
            content.append({"toolUse": {**tool, "input": block.get("input")}})
    return content


def invoke_response(body: Any) -> Reply | None:
    """The reply in a parsed InvokeModel answer, or ``None`` for a body of unknown shape."""
    if not isinstance(body, Mapping):
        return None
    metrics = body.get("amazon-bedrock-invocationMetrics")
    if isinstance(body.get("content"), list) and isinstance(body.get("usage"), Mapping):
        reply = Reply(
            _message(_anthropic_content(body["content"])),
            body.get("stop_reason"),
            converse_usage(body["usage"]),
        )
    elif isinstance(body.get("output"), Mapping):
        usage = body.get("usage")
        reply = Reply(
            dict(body["output"]),
            body.get("stopReason"),
            converse_usage(usage) if isinstance(usage, Mapping) else None,
        )
    elif isinstance(body.get("results"), list) and body["results"]:
        first = body["results"][0] if isinstance(body["results"][0], Mapping) else {}
        counts = {
            "inputTokens": body.get("inputTextTokenCount"),
            "outputTokens": first.get("tokenCount"),
        }
        reply = Reply(
            _message([{"text": first.get("outputText", "")}]),
            first.get("completionReason"),
            converse_usage(counts) or None,
        )
    elif "generation" in body:
        counts = {
            "inputTokens": body.get("prompt_token_count"),
            "outputTokens": body.get("generation_token_count"),
        }
        reply = Reply(
            _message([{"text": body.get("generation") or ""}]),
            body.get("stop_reason"),
            converse_usage(counts) or None,
        )
    else:
        return None
    if isinstance(metrics, Mapping):
        _add_invocation_metrics(reply, metrics)
    return reply


def _add_invocation_metrics(reply: Reply, metrics: Mapping[str, Any]) -> None:
    if reply.usage is None:
        reply.usage = converse_usage(metrics) or None
    if "invocationLatency" in metrics:
        reply.metrics = {"latencyMs": metrics["invocationLatency"]}


def converse_stream_reply(events: Sequence[Mapping[str, Any]]) -> Reply:
    """The reply assembled from ConverseStream events (or Nova's streamed chunks, the same)."""
    # Pieces are gathered in lists and joined once: adding to a string per delta is quadratic.
    pieces: dict[tuple[int, str], list[str]] = {}
    tools: dict[int, dict[str, Any]] = {}
    reply = Reply()
    for event in events:
        delta_event = event.get("contentBlockDelta")
        if delta_event is not None:
            index = delta_event.get("contentBlockIndex", 0)
            for kind, value in delta_event.get("delta", {}).items():
                text = value if kind == "text" else value.get("input", value.get("text", ""))
                pieces.setdefault((index, kind), []).append(text)
        elif "contentBlockStart" in event:
            start = event["contentBlockStart"]
            tool_start = start.get("start", {}).get("toolUse")
            if tool_start is not None:
                tools[start.get("contentBlockIndex", 0)] = dict(tool_start)
        elif "messageStop" in event:
            reply.stop_reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            metadata = event["metadata"]
            if isinstance(metadata.get("usage"), Mapping):
                reply.usage = converse_usage(metadata["usage"])
            if "metrics" in metadata:
                reply.metrics = metadata["metrics"]
        if "amazon-bedrock-invocationMetrics" in event:
            _add_invocation_metrics(reply, event["amazon-bedrock-invocationMetrics"])
    reply.output = _blocks_message(_joined(pieces, tools))
    return reply


def _joined(
    pieces: dict[tuple[int, str], list[str]], tools: dict[int, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Content blocks by index from the streamed pieces of each block and kind."""
    blocks: dict[int, dict[str, Any]] = {index: {"toolUse": tool} for index, tool in tools.items()}
    for (index, kind), parts in pieces.items():
        block = blocks.setdefault(index, {})
        joined = "".join(parts)
        if kind == "text":
            block["text"] = joined
        elif kind == "toolUse":
            block.setdefault("toolUse", {})["input"] = joined
        else:
            block[kind] = {"text": joined}
    return blocks


def _blocks_message(blocks: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The message of streamed content blocks, tool-use input parsed from its JSON pieces."""
    for block in blocks.values():
        tool = block.get("toolUse")
        if tool is not None:
            raw = tool.get("input", "")
            parsed: Any = decode_json(raw) if raw else {}
            tool["input"] = raw if parsed is None else parsed
    return _message([blocks[index] for index in sorted(blocks)])


def invoke_stream_reply(chunks: Sequence[bytes]) -> Reply | None:
    """The reply assembled from InvokeModelWithResponseStream chunks, ``None`` when their shape
    is unknown."""
    decoded = [decode_json(chunk) for chunk in chunks]
    events = [chunk for chunk in decoded if isinstance(chunk, Mapping)]
    if not events:
        return None
    first = events[0]
    if "type" in first:
        return _anthropic_stream(events)
    if any(key in first for key in ("messageStart", "contentBlockDelta", "metadata")):
        return converse_stream_reply(events)
    for text_key, stop_key, input_key, output_key in _TEXT_STREAMS:
        if text_key in first:
            return _text_stream(events, text_key, stop_key, input_key, output_key)
    return None


#: Streams of text chunks: (text, stop reason, input tokens, output tokens) keys.
_TEXT_STREAMS: Final = (
    ("outputText", "completionReason", "inputTextTokenCount", "totalOutputTextTokenCount"),
    ("generation", "stop_reason", "prompt_token_count", "generation_token_count"),
)


def _text_stream(
    events: Sequence[Mapping[str, Any]], text: str, stop: str, inputs: str, outputs: str
) -> Reply:
    reply = Reply(output=_message([{"text": "".join(str(e.get(text) or "") for e in events)}]))
    counts: dict[str, Any] = {}
    for event in events:
        reply.stop_reason = event.get(stop) or reply.stop_reason
        if event.get(inputs) is not None:
            counts["inputTokens"] = event[inputs]
        if event.get(outputs) is not None:
            counts["outputTokens"] = event[outputs]
        if "amazon-bedrock-invocationMetrics" in event:
            _add_invocation_metrics(reply, event["amazon-bedrock-invocationMetrics"])
    usage = converse_usage(counts)
    if usage:
        reply.usage = usage
    return reply


def _anthropic_stream(events: Sequence[Mapping[str, Any]]) -> Reply:
    reply = Reply()
    blocks: dict[int, dict[str, Any]] = {}
    counts: dict[str, Any] = {}
    for event in events:
        kind = event.get("type")
        if kind == "message_start":
            counts.update(event.get("message", {}).get("usage", {}))
        elif kind == "content_block_start":
            block = event.get("content_block", {})
            if block.get("type") == "tool_use":
                tool = {"toolUseId": block.get("id"), "name": block.get("name"), "input": []}
                blocks[event.get("index", 0)] = {"toolUse": tool}
        elif kind == "content_block_delta":
            target = blocks.setdefault(event.get("index", 0), {})
            delta = event.get("delta", {})
            if delta.get("type") == "text_delta":
                target.setdefault("text", []).append(delta.get("text", ""))
            elif delta.get("type") == "input_json_delta" and "toolUse" in target:
                target["toolUse"]["input"].append(delta.get("partial_json", ""))
        elif kind == "message_delta":
            reply.stop_reason = event.get("delta", {}).get("stop_reason")
            counts.update(event.get("usage", {}))
        if "amazon-bedrock-invocationMetrics" in event:
            _add_invocation_metrics(reply, event["amazon-bedrock-invocationMetrics"])
    reply.output = _blocks_message(_joined_anthropic(blocks))
    usage = converse_usage(counts)
    if usage:
        reply.usage = usage
    return reply


def _joined_anthropic(blocks: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    for block in blocks.values():
        if "text" in block:
            block["text"] = "".join(block["text"])
        if "toolUse" in block:
            block["toolUse"]["input"] = "".join(block["toolUse"]["input"])
    return blocks


def text_chars(value: Any) -> int:
    """Characters of text in ``value`` (every string in it, dict keys excluded)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(text_chars(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(text_chars(item) for item in value)
    return 0
