"""The pytest plugin, installed with the package (entry point ``generative_ai_toolkit_tracer``).

It only adds the ``gat_tracer`` fixture: no hooks, no options, so test suites that do not ask
for the fixture run exactly as without it. Switch it off with
``-p no:generative_ai_toolkit_tracer``; where plugins are not loaded automatically
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), load it with ``-p generative_ai_toolkit_tracer``.
"""

from __future__ import annotations

import pytest

from .._memory import InMemoryTracer
from ._deterministic import SequentialIds, StepClock

__all__ = ["gat_tracer"]

#: Spans the fixture's tracer keeps: more than any one test should make.
MEMORY_SIZE = 100_000


@pytest.fixture
def gat_tracer() -> InMemoryTracer:
    """A fresh ``InMemoryTracer`` per test, with a ``StepClock`` and ``SequentialIds``.

    Ids print as ``000…01``, ``000…02``; times start at 2025-04-15 20:24:45.208275 UTC and
    advance 1 ms per reading. It keeps up to 100,000 spans; read them as
    ``Spans(gat_tracer.get_traces())``.
    """
    return InMemoryTracer(MEMORY_SIZE, clock=StepClock(), id_generator=SequentialIds())
