"""Helpers for testing code that is traced: a deterministic clock and id generator.

```python
from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.testing import SequentialIds, StepClock

tracer = InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())
```
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

__all__ = ["SequentialIds", "StepClock"]


class StepClock:
    """A clock that starts at ``start`` and advances ``step_ns`` on every reading."""

    def __init__(
        self,
        start: datetime = datetime(2025, 4, 15, 20, 24, 45, 208275, tzinfo=UTC),
        *,
        step_ns: int = 1_000_000,
    ) -> None:
        self._next = int(start.timestamp()) * 1_000_000_000 + start.microsecond * 1000
        self._step = step_ns
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = self._next
            self._next += self._step
        return now

    def advance(self, ns: int) -> None:
        """Move the clock forward (or, with a negative ``ns``, backwards) by ``ns``."""
        with self._lock:
            self._next += ns


class SequentialIds:
    """Ids 1, 2, 3 ... (trace and span ids counted separately), printed zero-padded."""

    def __init__(self) -> None:
        self._trace_ids = itertools.count(1)
        self._span_ids = itertools.count(1)

    def new_trace_id(self) -> int:
        """The next trace id."""
        return next(self._trace_ids)

    def new_span_id(self) -> int:
        """The next span id."""
        return next(self._span_ids)
