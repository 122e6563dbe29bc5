"""A deterministic clock and id generator, and ended spans built field by field."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .._trace import Trace


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


def ended_span(
    name: str,
    *,
    trace_id: int,
    span_id: int,
    parent_id: int | None = None,
    start_ns: int,
    duration_ns: int = 1_000_000,
    attributes: Mapping[str, Any] | None = None,
    inherited: Mapping[str, Any] | None = None,
    status: str = "UNSET",
    kind: str = "INTERNAL",
    resource: Mapping[str, Any] | None = None,
) -> Trace:
    """An ended span with the given ids (as ints) and times, as a store would hand it back.

    ``inherited`` attributes follow the own ``attributes`` and are marked as inherited.
    """
    return Trace.restore(
        span_name=name,
        span_kind=kind,
        trace_id=f"{trace_id:032x}",
        span_id=f"{span_id:016x}",
        parent_span_id=f"{parent_id:016x}" if parent_id else None,
        started_at=start_ns,
        ended_at=start_ns + duration_ns,
        attributes={**(attributes or {}), **(inherited or {})},
        span_status=status,
        resource_attributes=resource,
        inherited_keys=len(inherited or {}),
    )
