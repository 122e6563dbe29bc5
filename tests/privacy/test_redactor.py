"""The built-in redactor and ``redact_span``: what is found, what is left alone, what is listed."""

from __future__ import annotations

import json
import marshal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generative_ai_toolkit.tracer import InMemoryTracer, Trace
from generative_ai_toolkit.tracer.redaction import (
    REDACTED_KEYS_ATTRIBUTE,
    Redactor,
    chain,
    content_omitted,
    redact_span,
)

from .values import SECRETS, nested, planted

EVERYTHING = Redactor(secrets=True, emails=True, credit_cards=True)


def ended(**attributes: Any) -> Trace:
    tracer = InMemoryTracer()
    with tracer.trace("span") as span:
        for key, value in attributes.items():
            span.add_attribute(key, value)
    return span


@pytest.mark.parametrize(("secret", "marker"), sorted(SECRETS.items()))
def test_each_kind_of_secret_is_replaced_by_a_marker_naming_it(secret: str, marker: str) -> None:
    """``[REDACTED:<kind>]`` stands where the secret was; the text around it stays."""
    assert f"before {marker} after" == EVERYTHING("text", f"before {secret} after")


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails the Luhn check
        "order 1234567890123",  # 13 digits, not Luhn-valid
        "0123456789abcdef0123456789abcdef01234567",  # 40 characters of hex: a hash
        "the bearer of bad news",  # too short to be a token
        "2024-01-15 10:30:45",  # a timestamp
        "an ordinary sentence about AWS and e-mail",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    """Numbers failing Luhn, hex digests and ordinary words are not secrets."""
    assert text == EVERYTHING("text", text)


def test_every_kind_is_opt_in() -> None:
    """A redactor with nothing asked for changes nothing, not even obvious secrets."""
    value = {"password": "hunter2", "text": "AKIAIOSFODNN7EXAMPLE jane.doe@example.com"}
    assert value is Redactor()("attr", value)


def test_emails_only_leaves_cards_and_keys() -> None:
    """Each kind is switched on alone."""
    text = "jane.doe@example.com 4111111111111111 AKIAIOSFODNN7EXAMPLE"
    assert "[REDACTED:email] 4111111111111111 AKIAIOSFODNN7EXAMPLE" == Redactor(emails=True)(
        "t", text
    )


@pytest.mark.parametrize(
    "key", ["password", "Authorization", "x-api-key", "http.request.header.cookie", "api_key"]
)
def test_sensitive_key_names_have_their_whole_value_redacted(key: str) -> None:
    """At the top level and nested, under any spelling of the name."""
    redactor = Redactor(sensitive_keys=True)
    assert "[REDACTED:key]" == redactor(key, {"any": "value"})
    assert {"user": "jo", key: "[REDACTED:key]"} == redactor("args", {"user": "jo", key: "x"})


def test_extra_keys_and_patterns() -> None:
    """``keys`` and ``patterns`` add names and kinds of text."""
    redactor = Redactor(keys=["ssn"], patterns={"employee-id": r"\bE\d{6}\b"})
    assert {"ssn": "[REDACTED:key]", "who": "[REDACTED:employee-id] here"} == redactor(
        "args", {"ssn": "123-45-6789", "who": "E123456 here"}
    )


def test_a_bad_pattern_fails_at_construction() -> None:
    """Bad configuration fails early, with a clear ValueError."""
    with pytest.raises(ValueError, match="employee-id"):
        Redactor(patterns={"employee-id": "(unclosed"})


def test_card_numbers_stored_as_ints_are_redacted() -> None:
    """A Luhn-valid 16-digit int is a card number too; small ints are not."""
    assert ["[REDACTED:card]", 42] == EVERYTHING("n", [4111111111111111, 42])


@settings(max_examples=300)
@given(planted())
def test_a_planted_secret_is_redacted_wherever_it_is(case: tuple[Any, str]) -> None:
    """Any nested value with a secret anywhere comes out without it, saying it was redacted."""
    value, secret = case
    out = json.dumps(EVERYTHING("ai.llm.request.messages", value))
    assert secret not in out
    assert SECRETS[secret] in out


@settings(max_examples=300)
@given(nested)
def test_values_without_secrets_are_returned_unchanged(value: Any) -> None:
    """Not just equal: the very same object, so nothing is copied for nothing."""
    assert value is EVERYTHING("ai.llm.request.messages", value)


def test_redact_span_lists_the_redacted_keys_and_keeps_everything_else() -> None:
    """A new ended span: same ids and times, redacted values, ``ai.redacted.keys``."""
    span = ended(note="mail jane.doe@example.com", n=1, password="x")
    redacted, errors = redact_span(span, EVERYTHING)
    assert [] == errors
    assert {
        "note": "mail [REDACTED:email]",
        "n": 1,
        "password": "[REDACTED:key]",
        REDACTED_KEYS_ATTRIBUTE: ["note", "password"],
    } == redacted.attributes
    assert (span.trace_id, span.span_id, span.started_at, span.ended_at) == (
        redacted.trace_id,
        redacted.span_id,
        redacted.started_at,
        redacted.ended_at,
    )


def test_a_span_without_secrets_is_returned_as_it_is() -> None:
    """Nothing to redact, nothing copied."""
    span = ended(note="hello", n=1)
    assert span is redact_span(span, EVERYTHING)[0]


def test_a_redacted_value_cannot_be_changed_through_a_reader() -> None:
    """Redacted containers are frozen like any attribute: every read gets a copy."""
    redacted, _ = redact_span(ended(messages=[{"text": "jane.doe@example.com"}]), EVERYTHING)
    redacted.attributes["messages"].append("mutated")
    assert [{"text": "[REDACTED:email]"}] == redacted.attributes["messages"]


def test_a_raising_redactor_loses_the_value_not_the_span() -> None:
    """The failing value becomes ``[REDACTED:error]``; the failure is handed back."""

    def broken(key: str, value: Any, span: Trace) -> Any:
        if key == "bad":
            raise RuntimeError("boom")
        return value

    redacted, errors = redact_span(ended(bad="secret?", good=1), broken)
    assert {"bad": "[REDACTED:error]", "good": 1, REDACTED_KEYS_ATTRIBUTE: ["bad"]} == (
        redacted.attributes
    )
    assert [("bad", "boom")] == [(key, str(exc)) for key, exc in errors]


def test_inherited_attributes_stay_inherited_after_redaction() -> None:
    """The listing goes with the span's own keys; inherited keys stay last and marked."""
    tracer = InMemoryTracer()
    with tracer.trace("root") as root:
        root.add_attribute("ai.conversation.id", "c-1", inheritable=True)
        with tracer.trace("child") as child:
            child.add_attribute("note", "jane.doe@example.com")
    redacted, _ = redact_span(child, EVERYTHING)
    assert ("ai.conversation.id",) == redacted.inherited_attribute_keys
    assert ["note", REDACTED_KEYS_ATTRIBUTE, "ai.conversation.id"] == list(redacted.attributes)


def test_content_omitted_keeps_metadata_and_sizes() -> None:
    """Prompts and tool inputs become size markers; model, usage and the rest stay."""
    span = ended(
        **{
            "ai.llm.request.messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "ai.tool.input": "x" * 100,
            "ai.llm.request.model.id": "anthropic.claude",
            "ai.llm.response.usage": {"inputTokens": 3, "outputTokens": 5},
        }
    )
    redacted, _ = redact_span(span, content_omitted())
    assert {
        "ai.llm.request.messages": "[REDACTED:content] 47 chars",
        "ai.tool.input": "[REDACTED:content] 100 chars",
        "ai.llm.request.model.id": "anthropic.claude",
        "ai.llm.response.usage": {"inputTokens": 3, "outputTokens": 5},
        REDACTED_KEYS_ATTRIBUTE: ["ai.llm.request.messages", "ai.tool.input"],
    } == redacted.attributes


@given(st.lists(st.sampled_from(sorted(SECRETS)), min_size=1, max_size=3))
def test_chain_applies_each_redactor_in_turn(secrets: list[str]) -> None:
    """``chain(a, b)`` is ``b`` applied to what ``a`` returned."""
    upper = chain(Redactor(emails=True), lambda k, v, s: v.upper() if isinstance(v, str) else v)
    text = " ".join(secrets)
    assert Redactor(emails=True)("t", text).upper() == upper("t", text, ended())


@pytest.mark.parametrize(
    "number", [4111111111111111, -4111111111111111, 378282246310005, 4222222222222]
)
def test_card_numbers_as_ints_inside_a_spans_containers_are_redacted(number: int) -> None:
    """The quick look at a container's bytes sees big ints too."""
    redacted, _ = redact_span(ended(order={"card": [number], "qty": 2}), EVERYTHING)
    assert {"card": ["[REDACTED:card]"], "qty": 2} == redacted.attributes["order"]


@given(
    planted(),
    st.sampled_from(["pass_word", "API-Key", "x.auth.token", "Set-Cookie"]),
    st.booleans(),
)
def test_a_spans_containers_are_never_skipped_when_they_hold_something(
    case: tuple[Any, str], key: str, thaw_once: bool
) -> None:
    """Secrets and sensitive keys nested in a span's values are found through the quick look,
    whether it rebuilds the values itself or reads those the span caches for its writer."""
    value, secret = case
    span = ended(args={"nested": value, key: "x"})
    redacted, _ = redact_span(span, EVERYTHING, thaw_once=thaw_once)
    out = json.dumps(redacted.attributes)
    assert secret not in out
    assert '"[REDACTED:key]"' in out


def test_key_names_only_mentioned_in_text_do_not_cost_a_walk() -> None:
    """The quick look compares the dict keys themselves: "token" in prose is not a key."""
    messages = [{"role": "user", "content": [{"text": "the token count and password rules"}]}]
    assert EVERYTHING.skips_frozen("ai.llm.request.messages", marshal.dumps(messages))
    assert not EVERYTHING.skips_frozen("args", marshal.dumps([{"Password": "x"}]))


@pytest.mark.parametrize("spelling", ["social_security_number", "Social-Security.Number"])
def test_extra_key_names_nested_in_a_spans_containers_are_redacted(spelling: str) -> None:
    """The quick look compares key names as the redactor does: without case or separators."""
    redactor = Redactor(keys=["socialSecurityNumber"])
    redacted, _ = redact_span(ended(args={"person": {spelling: "123"}}), redactor)
    assert {"person": {spelling: "[REDACTED:key]"}} == redacted.attributes["args"]


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_a_secret_that_is_a_whole_nested_value_is_redacted(secret: str) -> None:
    """No text around it: the quick look still sees it among the container's bytes."""
    redacted, _ = redact_span(ended(args={"items": [secret, "w" * 200]}), EVERYTHING)
    assert [SECRETS[secret], "w" * 200] == redacted.attributes["args"]["items"]


def test_a_container_shared_many_times_over_is_looked_at_once_per_object() -> None:
    """A list holding the same list twice, 16 levels deep (2**16 paths), with nothing to
    redact: the quick look sees each object once and the span is kept as it is."""
    shared: list[Any] = [{"role": "user", "text": "hello"}]
    for _ in range(16):
        shared = [shared, shared]
    span = ended(messages=shared)
    redacted, errors = redact_span(span, EVERYTHING)
    assert span is redacted
    assert [] == errors


def test_a_user_redactor_gets_its_own_copies_even_when_values_are_thawed_once() -> None:
    """Only the built-in redactor reads the span's shared values: what a user's redactor
    changes in place is the redacted copy's, never the span's."""

    def scrub(key: str, value: Any, span: Trace) -> Any:
        if isinstance(value, dict):
            value.clear()
        return value

    span = ended(args={"a": 1})
    redacted, _ = redact_span(span, scrub, thaw_once=True)
    assert {"a": 1} == span.attributes["args"]
    assert {} == redacted.attributes["args"]


@pytest.mark.parametrize("text", ["l" * 60, "1234l5678l9012l3456", "Alice AKIb 0"])
def test_the_quick_look_skips_look_alikes_of_secrets_made_of_letters(text: str) -> None:
    """Long lowercase runs, digits broken by letters, near-anchors: nothing to rebuild."""
    assert EVERYTHING.skips_frozen("messages", marshal.dumps([{"text": text, "n": 7}]))


def _mask_password(key: str, value: Any, span: Trace) -> Any:
    if isinstance(value, dict) and "password" in value:
        value["password"] = "***"
    return value


@pytest.mark.parametrize("in_chain", [False, True])
def test_a_redactor_that_changes_the_value_it_was_given_in_place_is_kept(in_chain: bool) -> None:
    """Returning the very container it changed still counts, alone or in a chain: the span
    keeps the change."""
    redactor = chain(content_omitted(), _mask_password) if in_chain else _mask_password
    span = ended(login={"user": "bob", "password": "hunter2"}, other={"a": [1, 2]})
    redacted, errors = redact_span(span, redactor)
    assert [] == errors
    assert {"user": "bob", "password": "***"} == redacted.attributes["login"]
    assert {"a": [1, 2]} == redacted.attributes["other"]
    assert ["login"] == redacted.attributes[REDACTED_KEYS_ATTRIBUTE]


def test_a_secret_under_a_container_shared_many_times_over_is_redacted_in_one_walk() -> None:
    """2**40 paths to one planted secret: each container is walked once, never hangs (a span
    would not even hold such a value: see ``tests/core/test_shared_values.py``)."""
    shared: list[Any] = [{"role": "user", "text": "key AKIAIOSFODNN7EXAMPLE"}]
    for _ in range(40):
        shared = [shared, shared]
    bottom = EVERYTHING("messages", shared, ended())
    for _ in range(40):
        assert bottom[0] is bottom[1]
        bottom = bottom[1]
    assert [{"role": "user", "text": "key [REDACTED:aws-key]"}] == bottom
