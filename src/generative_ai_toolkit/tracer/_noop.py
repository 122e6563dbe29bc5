"""``NoopTracer``: tracing switched off, at close to no cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import BaseTracer
from ._span import DEFAULT_SCOPE, SPAN_KINDS, SpanStatus
from ._trace import Trace
from ._unsampled import InertSpan


class _NoopTrace(InertSpan, Trace):
    """The one span every ``NoopTracer`` hands out: entering, leaving and mutating do nothing."""

    __slots__ = ()

    def add_attribute(self, key: str, value: Any, inheritable: bool = False) -> None:
        return None

    def set_status(self, status: SpanStatus | str) -> None:
        return None

    def record_exception(self, exc: BaseException) -> None:
        return None

    def end(self, exc: BaseException | None = None) -> None:
        return None


_NOOP_TRACE = _NoopTrace("noop", "INTERNAL", 1, 1, None, 0, None, {}, DEFAULT_SCOPE)


class NoopTracer(BaseTracer):
    """Records nothing. ``trace()`` returns one shared inert span, so a span costs a few calls.

    ``current_trace`` always returns that inert span, so agent code that adds attributes to the
    current span runs unchanged with tracing off.
    """

    def trace(
        self, span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None
    ) -> Trace:
        """Return the shared inert span (``span_kind`` is still validated)."""
        if span_kind not in SPAN_KINDS:
            raise ValueError(f"span_kind must be one of {sorted(SPAN_KINDS)}, not {span_kind!r}")
        return _NOOP_TRACE

    @property
    def current_trace(self) -> Trace:
        """The shared inert span, inside or outside a span."""
        return _NOOP_TRACE

    def persist(self, trace: Trace) -> None:
        """Discard the span."""

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> list[Trace]:
        """Always raises: a no-op tracer keeps nothing."""
        raise NotImplementedError(
            "NoopTracer records nothing, so it cannot answer get_traces(); "
            "use InMemoryTracer or SqliteTracer to keep spans"
        )
