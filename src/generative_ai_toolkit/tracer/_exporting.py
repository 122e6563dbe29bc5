"""``ExportingTracer``: the base of tracers whose ``persist`` hands spans to a background writer."""

from __future__ import annotations

from ._base import BaseTracer
from ._clock import Clock
from ._export import DEFAULT_SCHEDULE_DELAY, BackgroundExporter, SpanWriter
from ._ids import IdGenerator
from ._trace import Scope, Trace


class ExportingTracer(BaseTracer):
    """A tracer that queues each ended span for a ``SpanWriter`` run by a ``BackgroundExporter``.

    The traced code never waits for I/O: ``persist`` only appends to a bounded queue. Queue
    and batch sizes and timings are keyword options of every such tracer.
    """

    def __init__(
        self,
        writer: SpanWriter,
        *,
        max_queue_size: int = 20_000,
        max_batch_size: int = 500,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        max_retry_delay: float = 5.0,
        shutdown_timeout: float = 10.0,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
    ) -> None:
        super().__init__(clock=clock, id_generator=id_generator, scope=scope)
        self._exporter = BackgroundExporter(
            writer,
            name=type(self).__name__,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay=schedule_delay,
            max_retry_delay=max_retry_delay,
            shutdown_timeout=shutdown_timeout,
        )
        self._submit = self._exporter.submit

    def persist(self, trace: Trace) -> None:
        """Queue the span for the background writer (never blocks)."""
        self._submit(trace)

    def flush(self, timeout: float | None = None) -> bool:
        """Write every span ended so far; whether that finished within ``timeout`` seconds."""
        return self._exporter.flush(timeout)

    def shutdown(self) -> None:
        """Flush (bounded by the ``shutdown_timeout`` option), then stop the background worker."""
        self._exporter.shutdown()

    @property
    def stats(self) -> dict[str, int]:
        """``persist_errors`` plus the exporter's ``queued``, ``written``, ``retried``,
        ``dropped`` and ``pending`` counts."""
        return {**super().stats, **self._exporter.stats}
