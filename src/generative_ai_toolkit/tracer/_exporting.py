"""``ExportingTracer``: the base of tracers whose ``persist`` hands spans to a background writer."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ._base import BaseTracer
from ._clock import Clock
from ._export import DEFAULT_SCHEDULE_DELAY, BackgroundExporter
from ._ids import IdGenerator
from ._privacy import RedactingWriter
from ._query import ConversationFilter, ConversationSummary, SpanNode, TraceQuery
from ._redact import Redact
from ._sampling import Sampler
from ._snapshot import SpanSnapshot, is_stale_snapshot
from ._span import Scope
from ._spanqueue import QueueFullPolicy
from ._trace import Trace
from ._writer import SpanWriter

_log = logging.getLogger("generative_ai_toolkit.tracer")


class ExportingTracer(BaseTracer):
    """A tracer that queues each ended span for a ``SpanWriter`` run by a ``BackgroundExporter``.

    The traced code never waits for I/O: ``persist`` only appends to a bounded queue. When the
    queue is full, ``on_queue_full="drop"`` drops the span (counted, logged) and ``"block"``
    makes the caller wait up to ``block_timeout`` seconds for room first (then drops; a caller
    does not wait again until a write succeeds). Queue and batch sizes and timings are keyword
    options of every such tracer. ``redact=`` runs on
    the background worker, just before each batch is written (see ``BaseTracer``).
    ``snapshot_interval=`` (seconds, ``None``: off) writes snapshots of open spans through the
    same queue (see ``_snapshot``); they never wait for room.
    """

    _redacts_later = True

    def __init__(
        self,
        writer: SpanWriter,
        *,
        max_queue_size: int = 20_000,
        max_batch_size: int = 500,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        max_retry_delay: float = 5.0,
        shutdown_timeout: float = 10.0,
        on_queue_full: QueueFullPolicy = "drop",
        block_timeout: float = 5.0,
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
        policy = self._policy
        if policy is not None and policy.redact is not None:
            writer = RedactingWriter(writer, policy)  # redacted on the worker, not here
        if self._takes_snapshots:
            writer = FreshSnapshotsWriter(writer)
        self._exporter = BackgroundExporter(
            writer,
            name=type(self).__name__,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay=schedule_delay,
            max_retry_delay=max_retry_delay,
            shutdown_timeout=shutdown_timeout,
            on_queue_full=on_queue_full,
            block_timeout=block_timeout,
        )
        self._submit = self._exporter.submit

    def _write_snapshot(self, snap: SpanSnapshot) -> None:
        """Queue a snapshot without ever waiting (a full queue drops it, counted)."""
        self._exporter.offer(snap)

    def persist(self, trace: Trace) -> None:
        """Queue the span for the background writer (waits only with ``on_queue_full="block"``
        and the queue full)."""
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


class FreshSnapshotsWriter:
    """Wraps a writer: snapshots whose span has ended since they were queued are not written
    (the end is, or was), so a store never sees an older view of a span after its end from this
    process. They count as written: nothing of the span is lost."""

    def __init__(self, writer: SpanWriter) -> None:
        self._writer = writer

    def __repr__(self) -> str:
        return repr(self._writer)

    def write(self, batch: Sequence[Trace]) -> None:
        """Write ``batch`` less its stale snapshots."""
        fresh = [span for span in batch if not is_stale_snapshot(span)]
        if fresh:
            self._writer.write(fresh)

    def close(self) -> None:
        """Close the wrapped writer."""
        self._writer.close()


class StoringTracer(ExportingTracer):
    """An ``ExportingTracer`` whose store can be read back through ``TraceQuery``.

    Each read first writes out the spans queued so far (waiting at most
    ``read_flush_timeout`` seconds, then reading without the rest, with a warning), so it sees
    every span ended before the call; then it asks the store's own reader. Subclasses set
    ``_reader`` and ``_read_flush_timeout`` in their ``__init__``.
    """

    _reader: TraceQuery
    _read_flush_timeout: float = 10.0

    def _flush_before_read(self) -> None:
        if not self.flush(self._read_flush_timeout):
            _log.warning(
                "%s: spans still queued after %.1fs; reading without them",
                type(self).__name__,
                self._read_flush_timeout,
            )

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> Sequence[Trace]:
        """Stored spans of ``trace_id`` matching every ``attribute_filter`` item exactly (same
        type, equal value, inherited attributes included), by start time: ended ones, and with
        ``include_open`` the latest snapshot of each span still open."""
        self._flush_before_read()
        return self._reader.get_traces(
            trace_id=trace_id, attribute_filter=attribute_filter, include_open=include_open
        )

    def list_conversations(
        self, where: ConversationFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations matching ``where``, most recently active first, one page."""
        self._flush_before_read()
        return self._reader.list_conversations(where, limit=limit, offset=offset)

    def conversation_spans(
        self, conversation_id: str, *, auth_context: str | None = None, include_open: bool = False
    ) -> list[Trace]:
        """Every stored span of one conversation (ids compared as text), by start time (open
        ones only with ``include_open``)."""
        self._flush_before_read()
        return self._reader.conversation_spans(
            conversation_id, auth_context=auth_context, include_open=include_open
        )

    def trace_tree(self, trace_id: str, *, include_open: bool = False) -> list[SpanNode]:
        """The stored spans of ``trace_id`` as trees (open ones only with ``include_open``)."""
        self._flush_before_read()
        return self._reader.trace_tree(trace_id, include_open=include_open)
