"""The DynamoDB item encoder: spans round-trip with their types; keys sort by start time."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generative_ai_toolkit.tracer import InMemoryTracer, Trace
from generative_ai_toolkit.tracer._codec import TRUNCATED_KEYS_ATTRIBUTE
from generative_ai_toolkit.tracer.dynamodb._item import (
    MAX_ITEM_BYTES,
    item_size,
    item_to_span,
    sort_key,
    span_to_item,
)


def _span(attributes: dict[str, Any], *, parent_attrs: dict[str, Any] | None = None) -> Trace:
    tracer = InMemoryTracer()
    tracer.set_context(resource_attributes={"service.name": "MyAgent"})
    with tracer.trace("parent", span_kind="SERVER") as parent:
        for key, value in (parent_attrs or {}).items():
            parent.add_attribute(key, value, inheritable=True)
        with tracer.trace("child") as child:
            for key, value in attributes.items():
                child.add_attribute(key, value)
    return child


def test_round_trip_keeps_every_field() -> None:
    """A span read back from its item equals the original, field by field."""
    span = _span({"foo": "bar"}, parent_attrs={"ai.conversation.id": 726828})
    back = item_to_span(span_to_item(span, identifier="MyAgent"))
    assert repr(span) == repr(back)
    assert span.start_time_ns == back.start_time_ns
    assert span.end_time_ns == back.end_time_ns
    assert ("ai.conversation.id",) == back.inherited_attribute_keys


def test_attribute_types_survive() -> None:
    """Ints, floats, bools, None, nested lists/dicts, bytes, tuples keep their types."""
    values: dict[str, Any] = {
        "int": 726828,
        "big": 2**70,
        "float": 1.5,
        "bool": True,
        "none": None,
        "nested": {"a": [1, 2.5, {"b": None}], "c": "d"},
        "bytes": b"\x00\xffbinary",
        "tuple": (1, "two"),
        "date_like": "2025-04-15T20:24:45.426Z",
        "number_like": "488044",
    }
    back = item_to_span(span_to_item(_span(values))).attributes
    assert values == back
    assert [type(v) for v in values.values()] == [type(v) for v in back.values()]


def test_nan_and_infinities_survive() -> None:
    """NaN and the infinities are stored as marked text and come back as floats."""
    back = item_to_span(
        span_to_item(_span({"nan": math.nan, "inf": math.inf, "ninf": -math.inf}))
    ).attributes
    assert math.isnan(back["nan"])
    assert (math.inf, -math.inf) == (back["inf"], back["ninf"])


def test_keys_follow_the_recommended_layout() -> None:
    """pk = TRACE#<trace_id>; sk = SPAN#<identifier>#<16 hex µs>#<span_id>."""
    span = _span({})
    item = span_to_item(span, identifier="MyAgent")
    assert f"TRACE#{span.trace_id}" == item["pk"]["S"]
    assert f"SPAN#MyAgent#{span.start_time_ns // 1000:016x}#{span.span_id}" == item["sk"]["S"]
    assert span_to_item(span)["sk"]["S"].startswith("SPAN#_#")


def test_conversation_id_is_always_text() -> None:
    """An int conversation id is stored as a string GSI key; the attribute stays an int."""
    item = span_to_item(_span({"ai.conversation.id": 726828, "ai.auth.context": "user456"}))
    assert {"S": "726828"} == item["conversation_id"]
    assert {"S": "user456"} == item["auth_context"]
    assert 726828 == item_to_span(item).attributes["ai.conversation.id"]


def test_span_without_conversation_stays_out_of_the_index() -> None:
    """No (or an empty) conversation id: no conversation_id attribute, so no GSI entry."""
    assert "conversation_id" not in span_to_item(_span({}))
    assert "conversation_id" not in span_to_item(_span({"ai.conversation.id": ""}))


def test_expire_at_is_a_number() -> None:
    """The TTL attribute is epoch seconds, as DynamoDB's TTL expects."""
    assert {"N": "1234"} == span_to_item(_span({}), expire_at=1234)["expire_at"]


@given(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))
def test_sort_key_order_is_start_order(first: int, second: int) -> None:
    """Text order of sort keys is the order of the start times (to the microsecond)."""
    a = sort_key("Agent", first, "0" * 16)
    b = sort_key("Agent", second, "0" * 16)
    assert (first // 1000 < second // 1000) == (a < b)


def test_oversized_item_is_cut_down_and_marked() -> None:
    """A 600 KB value is cut so the item fits in 400 KB, listed as truncated, never dropped."""
    span = _span(
        {"ai.tool.output": "x" * 600_000, "small": 42},
        parent_attrs={"ai.conversation.id": "c-1"},
    )
    item = span_to_item(span)
    assert item_size(item) <= MAX_ITEM_BYTES
    back = item_to_span(item)
    assert ["ai.tool.output"] == back.attributes[TRUNCATED_KEYS_ATTRIBUTE]
    output = back.attributes["ai.tool.output"]
    assert re.fullmatch(r"x{300000,}\.\.\.\[truncated \d+ chars\]", output)
    assert 600_000 == output.index("...") + int(re.findall(r"\d+", output)[-1])
    assert 42 == back.attributes["small"]
    assert ("ai.conversation.id",) == back.inherited_attribute_keys


@pytest.mark.parametrize("text", ["\U0001f600" * 150_000, '"' * 500_000, "é" * 300_000])
def test_oversized_multibyte_or_escaped_text_fits_and_keeps_most(text: str) -> None:
    """Multi-byte characters and JSON escapes are counted as bytes: the item fits, and the value
    keeps most of what fits (not cut to nothing)."""
    item = span_to_item(_span({"value": text}))
    assert item_size(item) <= MAX_ITEM_BYTES
    kept = item_to_span(item).attributes["value"]
    assert kept.startswith(text[:1000])
    assert len(kept.encode()) > 300_000 or len(kept) > 150_000


def test_huge_span_name_and_resource_still_fit() -> None:
    """A huge span name and resource are cut; the item still fits and keeps the attributes'
    small values."""
    tracer = InMemoryTracer()
    tracer.set_context(resource_attributes={"service.name": "r" * 500_000})
    with tracer.trace("\x01" * 200_000) as span:
        span.add_attribute("payload", "y" * 300_000)
        span.add_attribute("small", 1)
    item = span_to_item(span)
    assert item_size(item) <= MAX_ITEM_BYTES
    assert 1 == item_to_span(item).attributes["small"]


def test_item_has_few_top_level_attributes() -> None:
    """The span's own fields are packed into one ``span`` text next to the keys."""
    item = span_to_item(_span({"ai.conversation.id": 1, "ai.auth.context": "u"}), expire_at=1)
    assert {
        "pk",
        "sk",
        "conversation_id",
        "auth_context",
        "expire_at",
        "span",
        "attributes",
    } == set(item)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=64)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1), _VALUES, max_size=6))
def test_any_plain_value_round_trips(attributes: dict[str, Any]) -> None:
    """Whatever plain value is stored comes back equal and of the same type."""
    back = item_to_span(span_to_item(_span(attributes))).attributes
    assert attributes == back
    assert [type(v) for v in attributes.values()] == [type(v) for v in back.values()]
