"""``plain_value``: what numpy-like and other buffer-protocol objects mean, in plain Python."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer._freeze import plain_value


class _Scalar:
    """A numpy-like scalar that is not numpy: ``__float__`` and ``item()``."""

    def __float__(self) -> float:
        return 2.5

    def item(self) -> float:
        return 2.5


class _BrokenArray:
    """``tolist()`` raises: the value is kept as it is (and later stored as its text)."""

    def tolist(self) -> list[int]:
        raise RuntimeError("broken")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(0.93), 0.93),
        (np.int8(-3), -3),
        (np.uint64(2**64 - 1), 2**64 - 1),
        (np.bool_(False), False),
        (np.str_("text"), "text"),
        (np.arange(4).reshape(2, 2), [[0, 1], [2, 3]]),
        (_Scalar(), 2.5),
        (b"raw", b"raw"),
        (bytearray(b"raw"), bytearray(b"raw")),
        ("text", "text"),
    ],
    ids=repr,
)
def test_numpy_like_values_become_plain_python(value: Any, expected: Any) -> None:
    """Scalars become Python numbers, arrays lists; bytes and text stay as they are."""
    actual = plain_value(value)
    assert expected == actual
    assert type(expected) is type(actual)


def test_other_buffer_objects_become_text_not_memory() -> None:
    """A buffer-protocol object with no numpy-like meaning is stored as its text."""
    buffer = pickle.PickleBuffer(b"\x00\x01")
    assert str(buffer) == plain_value(buffer)


def test_a_broken_tolist_keeps_the_value_and_never_raises() -> None:
    """A failing ``tolist()`` is not the tracer's problem: the value is returned unchanged."""
    value = _BrokenArray()
    assert value is plain_value(value)


def test_an_attribute_holding_a_numpy_scalar_reads_back_as_a_number() -> None:
    """The notebook's case: a score from numpy is a float in the span, not eight raw bytes."""
    tracer = InMemoryTracer()
    with tracer.trace("score") as span:
        span.add_attribute("score", np.float64(0.93))
    (stored,) = tracer.get_traces()
    assert {"score": 0.93} == stored.attributes


def test_numpy_values_nested_in_containers_become_plain_python() -> None:
    """Inside lists, dicts (keys too), tuples and sets, at any depth: numbers, lists, text."""
    buffer = pickle.PickleBuffer(b"\x00\x01")
    value = {
        "scores": [np.float64(0.93), np.int64(3), np.bool_(True)],
        "deep": {"vector": np.arange(3), "pair": (np.float32(0.5), np.str_("label"))},
        np.int64(7): {np.int8(1)},
        "raw": [b"bytes stay bytes", buffer],
    }
    tracer = InMemoryTracer()
    with tracer.trace("nested") as span:
        span.add_attribute("value", value)
    (stored,) = tracer.get_traces()
    expected = {
        "scores": [0.93, 3, True],
        "deep": {"vector": [0, 1, 2], "pair": (0.5, "label")},
        7: {1},
        "raw": [b"bytes stay bytes", str(buffer)],
    }
    actual = stored.attributes["value"]
    assert expected == actual
    assert [float, int, bool] == [type(v) for v in actual["scores"]]
    assert int is type(next(iter(actual[7])))
    assert str is type(actual["deep"]["pair"][1])


def test_shared_and_cyclic_containers_are_made_plain_once_and_quickly() -> None:
    """A list holding the same list twice, 15 levels deep (2**15 paths), or itself: made plain
    with the sharing kept. 40 levels deep (2**40 paths) it is too long written out to keep
    (``test_shared_values``): it becomes a note at once."""
    shared: list[Any] = [np.float64(2.0)]
    for _ in range(15):
        shared = [shared, shared]
    far_too_shared: list[Any] = [np.float64(2.0)]
    for _ in range(40):
        far_too_shared = [far_too_shared, far_too_shared]
    cyclic: list[Any] = [np.int64(1)]
    cyclic.append(cyclic)
    tracer = InMemoryTracer()
    with tracer.trace("odd shapes") as span:
        span.add_attribute("shared", shared)
        span.add_attribute("far_too_shared", far_too_shared)
        span.add_attribute("cyclic", cyclic)
    (stored,) = tracer.get_traces()
    innermost = stored.attributes["shared"]
    for _ in range(15):
        assert innermost[0] is innermost[1]
        innermost = innermost[0]
    assert [2.0] == innermost
    assert stored.attributes["far_too_shared"].startswith("[not stored: ")
    back = stored.attributes["cyclic"]
    assert 1 == back[0]
    assert back is back[1]
