"""OpenTelemetry GenAI semantic conventions: ``gen_ai.*`` keys mirroring our ``ai.*`` keys.

Added on export (``OtlpTracer(genai_semconv=True)``, the default) so that viewers that know
the conventions (Phoenix, Jaeger, X-Ray through ADOT) show conversations, tools, models and
token usage; our own keys are always kept, and a ``gen_ai.*`` key a span already has wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ._freeze import safe_str

#: Our key -> the GenAI semantic-convention key that carries the same value.
GENAI_KEYS: Final[tuple[tuple[str, str], ...]] = (
    ("ai.agent.name", "gen_ai.agent.name"),
    ("ai.tool.name", "gen_ai.tool.name"),
    ("ai.tool.use.id", "gen_ai.tool.call.id"),
    ("ai.tool.input", "gen_ai.tool.call.arguments"),
    ("ai.tool.output", "gen_ai.tool.call.result"),
    ("ai.llm.request.model.id", "gen_ai.request.model"),
)
#: ``ai.trace.type`` -> ``gen_ai.operation.name``.
GENAI_OPERATIONS: Final[Mapping[str, str]] = {
    "llm-invocation": "chat",
    "tool-invocation": "execute_tool",
    "converse": "invoke_agent",
}
#: Where token usage is read from: Bedrock Converse's ``usage`` dict (either spelling).
USAGE_ATTRIBUTE: Final = "ai.llm.response.usage"
_USAGE_KEYS: Final = (
    ("inputTokens", "input_tokens", "gen_ai.usage.input_tokens"),
    ("outputTokens", "output_tokens", "gen_ai.usage.output_tokens"),
)


def genai_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``gen_ai.*`` attributes that mirror ``attrs`` (keys ``attrs`` already has left out)."""
    added: dict[str, Any] = {}
    conversation = attrs.get("ai.conversation.id")
    if conversation is not None and "gen_ai.conversation.id" not in attrs:
        added["gen_ai.conversation.id"] = (
            conversation if type(conversation) is str else safe_str(conversation)
        )
    for ours, theirs in GENAI_KEYS:
        if ours in attrs and theirs not in attrs:
            added[theirs] = attrs[ours]
    kind = attrs.get("ai.trace.type")
    if type(kind) is str and kind in GENAI_OPERATIONS and "gen_ai.operation.name" not in attrs:
        added["gen_ai.operation.name"] = GENAI_OPERATIONS[kind]
    usage = attrs.get(USAGE_ATTRIBUTE)
    if isinstance(usage, Mapping):
        for camel, snake, theirs in _USAGE_KEYS:
            count = usage.get(camel, usage.get(snake))
            if type(count) is int and theirs not in attrs:
                added[theirs] = count
    return added
