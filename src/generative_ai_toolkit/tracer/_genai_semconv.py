"""OpenTelemetry GenAI semantic conventions: ``gen_ai.*`` keys mirroring our ``ai.*`` keys.

Added on export (``OtlpTracer(genai_semconv=True)``, the default) so that viewers that know
the conventions (Phoenix, Jaeger, X-Ray through ADOT) show conversations, tools, models and
token usage; our own keys are always kept, and a ``gen_ai.*`` key a span already has wins.

Arize Phoenix draws span kinds and token counts from the OpenInference conventions rather than
GenAI's, so LLM calls (spans with ``ai.llm.request.operation``) also get their few keys for
that: ``openinference.span.kind=LLM``, ``llm.model_name``, ``llm.provider``,
``llm.token_count.prompt/completion/total`` and ``llm.invocation_parameters``.
"""

from __future__ import annotations

import json
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


#: ``ai.llm.request.operation`` values that name a Bedrock call (``instrument_bedrock``,
#: ``record_llm_call``): those spans get ``gen_ai.provider.name = aws.bedrock``.
BEDROCK_OPERATIONS: Final = frozenset(
    {"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"}
)
#: Converse's ``inferenceConfig`` keys -> ``gen_ai.request.*``.
_INFERENCE_KEYS: Final = (
    ("maxTokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("topP", "gen_ai.request.top_p"),
    ("topK", "gen_ai.request.top_k"),
    ("stopSequences", "gen_ai.request.stop_sequences"),
)
#: Bedrock's cache token counts -> their GenAI keys.
_CACHE_KEYS: Final = (
    ("cacheReadInputTokens", "gen_ai.usage.cache_read.input_tokens"),
    ("cacheWriteInputTokens", "gen_ai.usage.cache_creation.input_tokens"),
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
    if "ai.llm.request.operation" in attrs:
        _add_llm_call(attrs, added)
    return added


def _add_llm_call(attrs: Mapping[str, Any], added: dict[str, Any]) -> None:
    """Provider, request options, finish reason and cache tokens of an ``llm-invocation``."""
    if attrs["ai.llm.request.operation"] in BEDROCK_OPERATIONS:
        added.setdefault("gen_ai.provider.name", "aws.bedrock")
    config = attrs.get("ai.llm.request.inference.config")
    if isinstance(config, Mapping):
        for ours, theirs in _INFERENCE_KEYS:
            value = config.get(ours)
            if value is not None:
                added[theirs] = value
    stop = attrs.get("ai.llm.response.stop.reason")
    if type(stop) is str:
        added["gen_ai.response.finish_reasons"] = [stop]
    usage = attrs.get(USAGE_ATTRIBUTE)
    if isinstance(usage, Mapping):
        for ours, theirs in _CACHE_KEYS:
            if type(usage.get(ours)) is int:
                added[theirs] = usage[ours]
    _add_openinference(attrs, added)
    for key in [key for key in added if key in attrs]:
        del added[key]  # a key the span already has wins


def _add_openinference(attrs: Mapping[str, Any], added: dict[str, Any]) -> None:
    """OpenInference's kind, model, provider, token counts and parameters of an LLM call."""
    added["openinference.span.kind"] = "LLM"
    model = attrs.get(MODEL_ATTRIBUTE)
    if model is not None:
        added["llm.model_name"] = model if type(model) is str else safe_str(model)
    if attrs["ai.llm.request.operation"] in BEDROCK_OPERATIONS:
        added["llm.provider"] = "aws"
    prompt, completion = token_usage(attrs)
    if prompt is not None:
        added["llm.token_count.prompt"] = prompt
    if completion is not None:
        added["llm.token_count.completion"] = completion
    if prompt is not None and completion is not None:
        added["llm.token_count.total"] = prompt + completion
    config = attrs.get("ai.llm.request.inference.config")
    if isinstance(config, Mapping):
        added["llm.invocation_parameters"] = json.dumps(dict(config), default=str)
