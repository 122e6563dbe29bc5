"""``show`` prints chat messages as who said what, not as raw JSON."""

from __future__ import annotations

from typing import Any

import pytest

from generative_ai_toolkit.tracer.cli._messages import message_line, tool_names

BEDROCK_CHAT: list[dict[str, Any]] = [
    {"role": "user", "content": [{"text": "Where is my order A-100?"}]},
    {
        "role": "assistant",
        "content": [
            {"toolUse": {"toolUseId": "t1", "name": "lookup_order", "input": {"id": "A-100"}}}
        ],
    },
    {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "shipped"}]}}],
    },
]


def test_bedrock_text_tool_use_and_named_tool_result() -> None:
    names = tool_names(BEDROCK_CHAT)
    assert {"t1": "lookup_order"} == names
    assert "user: Where is my order A-100?" == message_line(BEDROCK_CHAT[0], names)
    assert 'assistant: → lookup_order {"id":"A-100"}' == message_line(BEDROCK_CHAT[1], names)
    assert "user: ← lookup_order: shipped" == message_line(BEDROCK_CHAT[2], names)


def test_a_converse_response_is_read_through_its_message() -> None:
    response = {"message": {"role": "assistant", "content": [{"text": "Done."}]}}
    assert "assistant: Done." == message_line(response)


def test_failed_tool_result_without_a_known_call_says_error_and_result() -> None:
    block = {"toolResult": {"toolUseId": "x", "status": "error", "content": [{"json": {"a": 1}}]}}
    assert 'user: ← result (error): {"a":1}' == message_line({"role": "user", "content": [block]})


def test_anthropic_blocks() -> None:
    chat = [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "u1", "name": "search", "input": {"q": "x"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "u1", "content": "found"}],
        },
    ]
    names = tool_names(chat)
    assert 'assistant: Let me look.  → search {"q":"x"}' == message_line(chat[0], names)
    assert "user: ← search: found" == message_line(chat[1], names)
    assert "user: plain" == message_line({"role": "user", "content": "plain"})


@pytest.mark.parametrize(
    "value",
    [
        "just text",
        {"role": "user"},
        {"content": [{"text": "no role"}]},
        {"role": "user", "content": [{"image": {"format": "png"}}]},
        [1, 2],
    ],
)
def test_anything_else_is_left_to_json(value: Any) -> None:
    assert message_line(value) is None
