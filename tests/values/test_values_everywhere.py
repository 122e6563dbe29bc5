"""Hostile values, names and keys reach every tracer and store and come back as users meant them.

Each case runs through the in-memory tracer, JSON lines, human-readable text on a strict UTF-8
stream, SQLite, DynamoDB Local and an OTLP receiver (``conftest.Subject``).
"""

from __future__ import annotations

import array
import json

import numpy as np
import pytest

from generative_ai_toolkit.tracer._text import MAX_KEY_LENGTH, MAX_NAME_LENGTH

from .conftest import Subject, by_name

LONE = "\ud83d"  # what json.loads makes of the escape "\ud83d" without its low half
FFFD = "\ufffd"


def test_a_lone_surrogate_anywhere_is_replaced_and_the_span_kept(subject: Subject) -> None:
    """Names, keys, values (nested too), conversation id, auth context and resource attributes
    with a lone surrogate are written with U+FFFD; no span is lost, parents included."""
    subject.tracer.set_context(resource_attributes={"service.name": f"svc{LONE}"})
    with subject.tracer.trace(f"plan{LONE}") as parent:
        parent.add_attribute("ai.conversation.id", f"c{LONE}", inheritable=True)
        parent.add_attribute("ai.auth.context", f"a{LONE}")
        parent.add_attribute(f"key{LONE}", f"value{LONE}")
        parent.add_attribute("nested", {"m": [f"x{LONE}"]})
        with subject.tracer.trace("child") as child:
            child.add_attribute("k", 1)
    records = by_name(subject.read())
    text = FFFD if subject.stores_text else LONE
    assert {f"plan{text}", "child"} == set(records)
    parent_record = records[f"plan{text}"]
    if "attributes" not in parent_record:
        return  # human-readable text: written in full, names checked above
    assert parent_record["span_id"] == records["child"]["parent_span_id"]
    assert {"service.name": f"svc{FFFD}"} == parent_record["resource"]
    expected = {
        "ai.conversation.id": f"c{text}",
        "ai.auth.context": f"a{text}",
        f"key{text}": f"value{text}",
        "nested": {"m": [f"x{text}"]},
    }
    actual = {key: parent_record["attributes"][key] for key in expected}
    if isinstance(actual["nested"], str):  # OTLP carries maps as JSON text
        expected["nested"] = '{"m":["x\\ufffd"]}'
    assert expected == actual


def test_a_span_name_that_is_not_text_is_stored_as_its_text(subject: Subject) -> None:
    """``tracer.trace(42)`` is the span ``"42"`` everywhere."""
    with subject.tracer.trace(42):  # type: ignore[arg-type]
        pass
    assert ["42"] == [record["name"] for record in subject.read()]


def test_huge_keys_and_names_are_cut_down_and_the_span_kept(subject: Subject) -> None:
    """A 1 MB key or name is cut to its documented maximum, ending with what was cut."""
    with subject.tracer.trace("n" * 1_000_000) as span:
        span.add_attribute("k" * 1_000_000, "v")
    (record,) = subject.read()
    name_kept = MAX_NAME_LENGTH - len("...[truncated 1000000 chars]")
    expected_name = "n" * name_kept + f"...[truncated {1_000_000 - name_kept} chars]"
    assert expected_name == record["name"]
    if "attributes" in record:
        key_kept = MAX_KEY_LENGTH - len("...[truncated 1000000 chars]")
        expected_key = "k" * key_kept + f"...[truncated {1_000_000 - key_kept} chars]"
        assert {expected_key: "v"} == record["attributes"]


@pytest.mark.parametrize("key", [7, ("a", 1), None])
def test_keys_that_are_not_text_are_stored_as_their_text(subject: Subject, key: object) -> None:
    """``add_attribute(7, ...)`` stores the key ``"7"``."""
    with subject.tracer.trace("span") as span:
        span.add_attribute(key, "v")  # type: ignore[arg-type]
    (record,) = subject.read()
    if "attributes" in record:
        assert {str(key): "v"} == record["attributes"]


def test_numpy_values_are_stored_as_numbers_and_lists(subject: Subject) -> None:
    """numpy scalars are their Python numbers and arrays their lists, never their raw memory."""
    with subject.tracer.trace("scores") as span:
        span.add_attribute("f64", np.float64(0.93))
        span.add_attribute("f32", np.float32(0.5))
        span.add_attribute("i64", np.int64(3))
        span.add_attribute("flag", np.bool_(True))
        span.add_attribute("vector", np.arange(3))
        span.add_attribute("matrix", np.array([[1.5, 2.0], [3.0, 4.0]]))
        span.add_attribute("zero_d", np.array(7))
        span.add_attribute("array", array.array("i", [1, 2]))
    (record,) = subject.read()
    if "attributes" not in record:
        return
    expected = {
        "f64": 0.93,
        "f32": 0.5,
        "i64": 3,
        "flag": True,
        "vector": [0, 1, 2],
        "matrix": [[1.5, 2.0], [3.0, 4.0]],
        "zero_d": 7,
        "array": [1, 2],
    }
    actual = dict(record["attributes"])
    if isinstance(actual["matrix"], str):  # OTLP carries nested lists as JSON text
        actual["matrix"] = json.loads(actual["matrix"])
    assert expected == actual
    assert [type(v) for v in expected.values()] == [type(v) for v in actual.values()]


def test_numpy_values_nested_in_lists_and_dicts_are_numbers_and_lists(subject: Subject) -> None:
    """Inside message lists and tool outputs too: never the raw memory of a numpy value."""
    with subject.tracer.trace("scores") as span:
        span.add_attribute(
            "ai.tool.output",
            {"scores": [np.float64(0.93), np.int64(3)], "top": {"vector": np.arange(3)}},
        )
        span.add_attribute("flags", [np.bool_(True), array.array("i", [1, 2])])
    (record,) = subject.read()
    if "attributes" not in record:
        return
    expected = {
        "ai.tool.output": {"scores": [0.93, 3], "top": {"vector": [0, 1, 2]}},
        "flags": [True, [1, 2]],
    }
    actual = {key: record["attributes"][key] for key in expected}
    for key, value in actual.items():
        if isinstance(value, str):  # OTLP carries maps and nested lists as JSON text
            actual[key] = json.loads(value)
    assert expected == actual
    assert [float, int] == [type(v) for v in actual["ai.tool.output"]["scores"]]


def test_a_value_sharing_its_containers_over_and_over_is_stored_as_a_note(subject: Subject) -> None:
    """A list holding the same list twice, 40 levels deep, is 2**41 items written out: every
    tracer stores a note saying so, at once, with the span; a dict held twice is kept."""
    shared: list[object] = [{"role": "user", "text": "hi"}]
    for _ in range(40):
        shared = [shared, shared]
    small = {"a": 1}
    with subject.tracer.trace("shared") as span:
        span.add_attribute("huge", shared)
        span.add_attribute("twice", [small, small])
    (record,) = subject.read()
    if "attributes" not in record:
        return  # human-readable text: written at once, the span is there
    attributes = record["attributes"]
    assert attributes["huge"].startswith("[not stored: ")
    twice = attributes["twice"]
    assert [{"a": 1}, {"a": 1}] == (json.loads(twice) if isinstance(twice, str) else twice)
