"""``TeeTracer``: every span to several tracers at once."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

from ._base import BaseTracer, Tracer
from ._clock import Clock
from ._ids import IdGenerator
from ._redact import Redact
from ._sampling import Sampler
from ._snapshot import SpanSnapshot, install
from ._span import Scope
from ._trace import Trace

_log = logging.getLogger("generative_ai_toolkit.tracer")


class TeeTracer(BaseTracer):
    """Hands every span to each added tracer, in the order they were added.

    One failing tracer never stops the others (each failure is logged and counted by the
    tracer that failed). ``get_traces`` is answered by the first tracer added. The tee's own
    ``redact=`` hands every tracer the redacted span; a tracer's own ``redact=`` applies to
    what that tracer stores only (a local copy can keep what an exported copy drops).

    Snapshots of open spans go to the added tracers that take them (those created with a
    ``snapshot_interval``); the tee takes them as often as the most frequent of those asks,
    unless its own ``snapshot_interval`` is given.
    """

    def __init__(
        self,
        *tracers: Tracer,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )
        self._tracers: tuple[Tracer, ...] = ()
        for tracer in tracers:
            self.add_tracer(tracer)

    @property
    def tracers(self) -> tuple[Tracer, ...]:
        """The tracers spans go to, first one first."""
        return self._tracers

    def add_tracer(self, tracer: Tracer) -> Self:
        """Send spans to ``tracer`` too. Returns the tee, so calls can be chained."""
        # Copy-on-write: threads ending spans meanwhile iterate the old tuple undisturbed.
        self._tracers = (*self._tracers, tracer)
        watch = tracer._snapshots if isinstance(tracer, BaseTracer) else None
        if watch is not None and self._takes_snapshots:
            mine = self._snapshots
            if mine is None:
                self._snapshots = install(self, watch.interval_ns / 1e9, self._write_snapshot)
            else:
                mine.interval_ns = min(mine.interval_ns, watch.interval_ns)
        return self

    def _write_snapshot(self, snap: SpanSnapshot) -> None:
        """Hand the snapshot to each added tracer that takes snapshots."""
        for tracer in self._tracers:
            if isinstance(tracer, BaseTracer) and tracer._snapshots is not None:
                try:
                    tracer._write_snapshot(snap)
                except Exception:  # noqa: BLE001 - one broken tracer must not starve the others
                    tracer._persist_failed(snap)

    def persist(self, trace: Trace) -> None:
        """Hand ``trace`` to every tracer, isolating each from the others' failures."""
        for tracer in self._tracers:
            if isinstance(tracer, BaseTracer):
                tracer._emit(trace)
                continue
            try:
                tracer.persist(trace)
            except Exception:  # noqa: BLE001 - one broken tracer must not starve the others
                self._persist_failed(trace)

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> Sequence[Trace]:
        """Ask the first tracer added."""
        if not self._tracers:
            raise NotImplementedError(
                "TeeTracer has no tracers yet: add one that keeps spans (e.g. InMemoryTracer) "
                "first, and get_traces() is answered by it"
            )
        return self._tracers[0].get_traces(
            trace_id=trace_id, attribute_filter=attribute_filter, include_open=include_open
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Flush every tracer, all within ``timeout`` seconds together."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done = True
        for tracer in self._tracers:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                done = tracer.flush(left) and done
            except Exception:  # noqa: BLE001
                _log.exception("flushing %s failed", type(tracer).__name__)
                done = False
        return done

    def shutdown(self) -> None:
        """Shut every tracer down."""
        for tracer in self._tracers:
            try:
                tracer.shutdown()
            except Exception:  # noqa: BLE001
                _log.exception("shutting down %s failed", type(tracer).__name__)
