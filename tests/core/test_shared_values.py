"""Values whose containers are shared over and over: stored as a note, never written out path
by path (a list holding the same list twice, 40 levels deep, is 2**41 items as JSON)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from generative_ai_toolkit.tracer import InMemoryTracer, _freeze
from generative_ai_toolkit.tracer._freeze import freeze


def doubled(levels: int) -> list[Any]:
    shared: list[Any] = [{"role": "user", "text": "hi"}]
    for _ in range(levels):
        shared = [shared, shared]
    return shared


def test_a_value_far_longer_written_out_than_it_is_becomes_a_note(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It says how long it would be; the first one per process is logged, once."""
    monkeypatch.setattr(_freeze, "_warned_expanded", False)
    # The CLI stops the library logger propagating when it runs in this process.
    monkeypatch.setattr(logging.getLogger("generative_ai_toolkit.tracer"), "propagate", True)
    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        first, second = freeze(doubled(40)), freeze(doubled(30))
    assert (
        first
        == "[not stored: 5,497,558,138,879 items written out, its containers shared over and over]"
    )
    assert isinstance(second, str)
    assert second.startswith("[not stored: ")
    assert 1 == len(caplog.records)


def test_sharing_that_writes_out_short_is_kept_as_it_is() -> None:
    """The same dict twice, a 100,000-message list holding one dict many times, 15 doubled
    levels (65,536 paths): written out they stay within bounds, so they are kept."""
    tool = {"name": "lookup", "schema": {"type": "object"}}
    messages = [{"role": "user", "text": f"m{i}", "tool": tool} for i in range(100_000)]
    tracer = InMemoryTracer()
    with tracer.trace("values") as span:
        span.add_attribute("twice", [tool, tool])
        span.add_attribute("messages", messages)
        span.add_attribute("doubled", doubled(15))
    (stored,) = tracer.get_traces()
    assert [tool, tool] == stored.attributes["twice"]
    assert messages == stored.attributes["messages"]
    assert doubled(15) == stored.attributes["doubled"]


def test_a_value_marshal_refuses_is_bounded_the_same_way() -> None:
    """A datetime in the shared list: copied, not marshalled, and still stored as a note."""
    shared: list[Any] = [{"at": datetime(2026, 1, 1, tzinfo=UTC)}]
    for _ in range(40):
        shared = [shared, shared]
    note = freeze(shared)
    assert isinstance(note, str)
    assert note.startswith("[not stored: ")
    kept = freeze([{"at": datetime(2026, 1, 1, tzinfo=UTC)}] * 3)
    assert [{"at": datetime(2026, 1, 1, tzinfo=UTC)}] * 3 == kept


def test_a_numpy_value_before_the_shared_containers_does_not_hide_them() -> None:
    """The look for numpy-like values stops at the first one; the sharing behind it is still
    found once they are made plain."""
    shared: list[Any] = [{"role": "user", "text": "hi"}]
    for _ in range(40):
        shared = [shared, shared]
    note = freeze([np.float64(0.5), shared])
    assert isinstance(note, str)
    assert note.startswith("[not stored: ")
