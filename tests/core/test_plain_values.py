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
