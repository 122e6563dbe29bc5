"""OpenTelemetry GenAI semantic conventions: ``gen_ai.*`` keys mirroring our ``ai.*`` keys.

Added on export (``OtlpTracer(genai_semconv=True)``, the default) so that viewers that know
the conventions (Phoenix, Jaeger, X-Ray through ADOT) show conversations, tools, models and
token usage; our own keys are always kept, and a ``gen_ai.*`` key a span already has wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ._freeze import safe_str

#: The model an ``llm-invocation`` span called.
MODEL_ATTRIBUTE: Final = "ai.llm.request.model.id"
#: Our key -> the GenAI semantic-convention key that carries the same value.
GENAI_KEYS: Final[tuple[tuple[str, str], ...]] = (
    ("ai.agent.name", "gen_ai.agent.name"),
    ("ai.tool.name", "gen_ai.tool.name"),
    ("ai.tool.use.id", "gen_ai.tool.call.id"),
    ("ai.tool.input", "gen_ai.tool.call.arguments"),
    ("ai.tool.output", "gen_ai.tool.call.result"),
    (MODEL_ATTRIBUTE, "gen_ai.request.model"),
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


def token_usage(attrs: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(input, output) token counts from ``ai.llm.response.usage``, ``None`` where absent."""
    usage = attrs.get(USAGE_ATTRIBUTE)
    if not isinstance(usage, Mapping):
        return None, None
    counts = [usage.get(camel, usage.get(snake)) for camel, snake, _ in _USAGE_KEYS]
    return (
        counts[0] if type(counts[0]) is int else None,
        counts[1] if type(counts[1]) is int else None,
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
    for count, (_, _, theirs) in zip(token_usage(attrs), _USAGE_KEYS, strict=True):
        if count is not None and theirs not in attrs:
            added[theirs] = count
    return added
