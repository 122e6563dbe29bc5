"""Model families' payloads read into Converse's shape (pure functions, no boto3)."""

from __future__ import annotations

import json
from typing import Any

from generative_ai_toolkit.tracer.instrument._bodies import (
    converse_stream_reply,
    converse_usage,
    invoke_request,
    invoke_response,
    invoke_stream_reply,
)


def test_anthropic_cache_tokens_become_bedrocks_keys() -> None:
    """cache_read/cache_creation input tokens map to cacheRead/cacheWriteInputTokens."""
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 7,
    }
    assert {
        "inputTokens": 10,
        "outputTokens": 5,
        "totalTokens": 15,
        "cacheReadInputTokens": 100,
        "cacheWriteInputTokens": 7,
    } == converse_usage(usage)


def test_anthropic_tool_use_in_a_response_body() -> None:
    """Anthropic tool_use blocks become Converse toolUse blocks."""
    reply = invoke_response(
        {
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "tu1", "name": "weather", "input": {"city": "Oslo"}},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }
    )
    assert reply is not None
    assert [
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tu1", "name": "weather", "input": {"city": "Oslo"}}},
    ] == reply.output["message"]["content"]
    assert "tool_use" == reply.stop_reason


def test_a_streamed_anthropic_tool_call_is_assembled_from_json_pieces() -> None:
    """input_json_delta pieces are joined and parsed; usage comes from start and delta events."""
    chunks = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 9}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "tu1", "name": "weather"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"ci'},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": 'ty": "Oslo"}'},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 6},
        },
    ]
    reply = invoke_stream_reply([json.dumps(chunk).encode() for chunk in chunks])
    assert reply is not None
    assert [
        {"toolUse": {"toolUseId": "tu1", "name": "weather", "input": {"city": "Oslo"}}}
    ] == reply.output["message"]["content"]
    assert {"inputTokens": 9, "outputTokens": 6, "totalTokens": 15} == reply.usage
    assert "tool_use" == reply.stop_reason


def test_reasoning_and_text_blocks_of_a_converse_stream() -> None:
    """Reasoning deltas and text deltas land in their own blocks, in index order."""
    events: list[dict[str, Any]] = [
        {
            "contentBlockDelta": {
                "delta": {"reasoningContent": {"text": "Think "}},
                "contentBlockIndex": 0,
            }
        },
        {
            "contentBlockDelta": {
                "delta": {"reasoningContent": {"text": "hard."}},
                "contentBlockIndex": 0,
            }
        },
        {"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 1}},
        {"messageStop": {"stopReason": "end_turn"}},
    ]
    reply = converse_stream_reply(events)
    assert [{"reasoningContent": {"text": "Think hard."}}, {"text": "Hi"}] == reply.output[
        "message"
    ]["content"]


def test_a_tool_input_that_is_not_json_is_kept_as_text() -> None:
    """A stream broken off mid tool input keeps the pieces received, as text."""
    events: list[dict[str, Any]] = [
        {
            "contentBlockStart": {
                "start": {"toolUse": {"toolUseId": "t", "name": "n"}},
                "contentBlockIndex": 0,
            }
        },
        {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"ci'}}, "contentBlockIndex": 0}},
    ]
    content = converse_stream_reply(events).output["message"]["content"]
    assert [{"toolUse": {"toolUseId": "t", "name": "n", "input": '{"ci'}}] == content


def test_requests_of_unknown_shape_yield_nothing() -> None:
    """Bodies that are not JSON objects, or of no known family, give no request attributes."""
    assert {} == invoke_request(None)
    assert {} == invoke_request(["a list"])
    assert {} == invoke_request({"input": "something else"})
    assert invoke_response({"outputs": []}) is None
    assert invoke_stream_reply([b"not json"]) is None
