"""What a scripted model answer looks like on Bedrock's wire, operation by operation.

``Converse`` answers are JSON; ``ConverseStream`` answers are event-stream events
(``messageStart``, ``contentBlockStart``/``Delta``/``Stop``, ``messageStop``, ``metadata``);
``InvokeModel`` and ``InvokeModelWithResponseStream`` answer in the native body format of the
model family the model id names (Anthropic messages, Amazon Nova, Amazon Titan text, Meta Llama;
any other model gets a ``{"outputs": [{"text": ...}]}`` body, a format the tracer does not know).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class BedrockError:
    """An error answer: HTTP ``status``, the ``x-amzn-ErrorType`` ``type`` and a ``message``."""

    status: int
    type: str
    message: str


def throttling(
    message: str = "Too many requests, please wait before trying again.",
) -> BedrockError:
    """Bedrock's 429 ``ThrottlingException``."""
    return BedrockError(429, "ThrottlingException", message)


def validation(message: str = "The provided request is not valid") -> BedrockError:
    """Bedrock's 400 ``ValidationException``."""
    return BedrockError(400, "ValidationException", message)


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The model asks for tool ``name`` with ``input``; ``tool_use_id`` pairs it with the result."""

    tool_use_id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    """What the scripted model answers to one request.

    ``usage`` defaults to word counts of the request's and the answer's text; ``stop_reason``
    to ``tool_use`` when there are tool uses, else ``end_turn``. ``error`` answers with an HTTP
    error instead; ``stream_error`` breaks a stream off after half its events with a
    ``modelStreamErrorException`` carrying that message. ``body``/``chunks`` replace the
    ``InvokeModel``/``InvokeModelWithResponseStream`` payloads verbatim. ``delay`` seconds pass
    before the answer, ``chunk_delay`` between streamed events.
    """

    text: str = ""
    tool_uses: Sequence[ToolUse] = ()
    stop_reason: str | None = None
    usage: Mapping[str, int] | None = None
    latency_ms: int = 1
    error: BedrockError | None = None
    stream_error: str | None = None
    body: bytes | None = None
    chunks: Sequence[bytes] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class BedrockRequest:
    """One request as the server received it."""

    operation: str  # Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream
    model_id: str
    raw: bytes
    body: Any = field(default=None)  # the parsed JSON body, None when it is not JSON


OPERATIONS: Final = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
}


def count_words(value: Any) -> int:
    """Words in every string inside ``value`` (dict keys excluded): the fake token count."""
    if isinstance(value, str):
        return len(re.findall(r"\w+", value))
    if isinstance(value, Mapping):
        return sum(count_words(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(count_words(item) for item in value)
    return 0


def usage_of(request: BedrockRequest, answer: ModelAnswer) -> dict[str, int]:
    """Bedrock Converse's usage dict for ``answer`` to ``request``."""
    if answer.usage is not None:
        return dict(answer.usage)
    inputs = count_words(request.body)
    outputs = count_words(answer.text) + sum(count_words(t.input) + 1 for t in answer.tool_uses)
    return {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": inputs + outputs}


def stop_reason_of(answer: ModelAnswer) -> str:
    return answer.stop_reason or ("tool_use" if answer.tool_uses else "end_turn")


def _content(answer: ModelAnswer) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"text": answer.text}] if answer.text else []
    content.extend(
        {"toolUse": {"toolUseId": t.tool_use_id, "name": t.name, "input": dict(t.input)}}
        for t in answer.tool_uses
    )
    return content


def converse_body(request: BedrockRequest, answer: ModelAnswer) -> dict[str, Any]:
    """The JSON answer of ``Converse``."""
    return {
        "output": {"message": {"role": "assistant", "content": _content(answer)}},
        "stopReason": stop_reason_of(answer),
        "usage": usage_of(request, answer),
        "metrics": {"latencyMs": answer.latency_ms},
    }


def pieces(text: str) -> list[str]:
    """``text`` cut into word-sized deltas, as a model streams it."""
    return re.findall(r"\S+\s*|\s+", text)


def converse_stream_events(
    request: BedrockRequest, answer: ModelAnswer
) -> list[tuple[str, dict[str, Any]]]:
    """The ``(event type, body)`` events of ``ConverseStream``."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    if answer.text:
        events.extend(
            ("contentBlockDelta", {"delta": {"text": piece}, "contentBlockIndex": index})
            for piece in pieces(answer.text)
        )
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    for tool in answer.tool_uses:
        start = {"toolUse": {"toolUseId": tool.tool_use_id, "name": tool.name}}
        events.append(("contentBlockStart", {"start": start, "contentBlockIndex": index}))
        arguments = json.dumps(dict(tool.input))
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            delta = {"toolUse": {"input": part}}
            events.append(("contentBlockDelta", {"delta": delta, "contentBlockIndex": index}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    events.append(("messageStop", {"stopReason": stop_reason_of(answer)}))
    metadata = {"usage": usage_of(request, answer), "metrics": {"latencyMs": answer.latency_ms}}
    events.append(("metadata", metadata))
    return events


def family(model_id: str) -> str:
    """``anthropic``, ``nova``, ``titan``, ``llama`` or ``other``, from the model id."""
    for marker, name in (
        ("anthropic.", "anthropic"),
        ("amazon.nova", "nova"),
        ("amazon.titan", "titan"),
        ("meta.llama", "llama"),
    ):
        if marker in model_id:
            return name
    return "other"


def invoke_body(request: BedrockRequest, answer: ModelAnswer) -> bytes:
    """The ``InvokeModel`` answer in the model family's own format."""
    if answer.body is not None:
        return answer.body
    usage = usage_of(request, answer)
    inputs, outputs = usage["inputTokens"], usage["outputTokens"]
    stop = stop_reason_of(answer)
    kind = family(request.model_id)
    body: dict[str, Any]
    if kind == "anthropic":
        content: list[dict[str, Any]] = [{"type": "text", "text": answer.text}]
        content.extend(
            {"type": "tool_use", "id": t.tool_use_id, "name": t.name, "input": dict(t.input)}
            for t in answer.tool_uses
        )
        body = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": request.model_id,
            "content": content,
            "stop_reason": stop,
            "usage": {"input_tokens": inputs, "output_tokens": outputs},
        }
    elif kind == "nova":
        body = {
            "output": {"message": {"role": "assistant", "content": _content(answer)}},
            "stopReason": stop,
            "usage": usage,
        }
    elif kind == "titan":
        body = {
            "inputTextTokenCount": inputs,
            "results": [
                {"tokenCount": outputs, "outputText": answer.text, "completionReason": "FINISH"}
            ],
        }
    elif kind == "llama":
        body = {
            "generation": answer.text,
            "prompt_token_count": inputs,
            "generation_token_count": outputs,
            "stop_reason": "stop",
        }
    else:
        body = {"outputs": [{"text": answer.text, "stop_reason": "stop"}]}
    return json.dumps(body).encode("utf-8")


def invoke_stream_chunks(request: BedrockRequest, answer: ModelAnswer) -> list[bytes]:
    """The ``InvokeModelWithResponseStream`` chunks in the model family's streaming format.

    The last chunk carries ``amazon-bedrock-invocationMetrics``, as Bedrock adds it.
    """
    if answer.chunks is not None:
        return list(answer.chunks)
    usage = usage_of(request, answer)
    inputs, outputs = usage["inputTokens"], usage["outputTokens"]
    text_pieces = pieces(answer.text) or [""]
    kind = family(request.model_id)
    chunks: list[dict[str, Any]]
    if kind == "anthropic":
        chunks = [
            {"type": "message_start", "message": {"usage": {"input_tokens": inputs}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
            *(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": p},
                }
                for p in text_pieces
            ),
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason_of(answer)},
                "usage": {"output_tokens": outputs},
            },
            {"type": "message_stop"},
        ]
    elif kind == "nova":
        chunks = [
            {"messageStart": {"role": "assistant"}},
            *(
                {"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}}
                for p in text_pieces
            ),
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": stop_reason_of(answer)}},
            {"metadata": {"usage": {"inputTokens": inputs, "outputTokens": outputs}}},
        ]
    elif kind == "titan":
        chunks = [{"outputText": p, "index": 0} for p in text_pieces]
        chunks[-1].update(
            totalOutputTextTokenCount=outputs,
            completionReason="FINISH",
            inputTextTokenCount=inputs,
        )
    elif kind == "llama":
        chunks = [{"generation": p, "stop_reason": None} for p in text_pieces]
        chunks[0]["prompt_token_count"] = inputs
        chunks[-1].update(generation_token_count=outputs, stop_reason="stop")
    else:
        chunks = [{"outputs": [{"text": p}]} for p in text_pieces]
    chunks[-1]["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": inputs,
        "outputTokenCount": outputs,
        "invocationLatency": answer.latency_ms,
        "firstByteLatency": answer.latency_ms,
    }
    return [json.dumps(chunk).encode("utf-8") for chunk in chunks]
