"""The tracer interface (``Tracer``) and the span lifecycle every tracer shares (``BaseTracer``)."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from random import getrandbits
from time import perf_counter_ns
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

from ._clock import OFFSET_NS, Clock, monotonic_wall_ns
from ._freeze import private_copy
from ._ids import IdGenerator, RandomIdGenerator
from ._privacy import SpanPolicy
from ._redact import Redact
from ._sampling import ConversationRatio, Sampler, TailSampler
from ._snapshot import SWEEPER, SnapshotWatch, SpanSnapshot, install, take_snapshot
from ._span import DEFAULT_SCOPE, SPAN_KINDS, Scope
from ._text import MAX_NAME_LENGTH, clean_key, clean_name, valid_texts
from ._trace import Trace, current_span
from ._unsampled import UnsampledSpan

_log = logging.getLogger("generative_ai_toolkit.tracer")


_RANDOM_IDS: Final = RandomIdGenerator()


class NoCurrentTraceError(RuntimeError):
    """``current_trace`` was read outside any open span of that tracer."""


@runtime_checkable
class Tracer(Protocol):
    """What agents need from a tracer. ``BaseTracer`` implements all of it."""

    def trace(
        self, span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None
    ) -> Trace:
        """Open a span; use it as a context manager."""
        ...

    @property
    def current_trace(self) -> Trace:
        """The innermost open span of this tracer in the current thread or task."""
        ...

    def set_context(
        self, *, resource_attributes: Mapping[str, Any] | None = None
    ) -> Callable[[], None]:
        """Set tracer-wide context for spans opened from now on; returns an undo callable."""
        ...

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> Sequence[Trace]:
        """Ended spans matching the filters (and open ones with ``include_open``), by start."""
        ...

    def persist(self, trace: Trace) -> None:
        """Store or ship one ended span."""
        ...

    def flush(self, timeout: float | None = None) -> bool:
        """Write out everything handed over so far; whether that finished in time."""
        ...

    def shutdown(self) -> None:
        """Flush, then release resources."""
        ...


class BaseTracer(ABC):
    """Span lifecycle, context and failure containment; subclasses implement ``persist``.

    ``persist(trace)`` is called once per span, on the thread that ended it, when the span ends
    (so children before parents). Whatever it raises is logged and counted in
    ``stats["persist_errors"]``, never raised into the traced code.

    ``redact=`` (a ``(key, value, span) -> value`` callable, see ``redaction``) is applied to
    each span once before it is stored; ``sampler=`` (see ``sampling``) decides which traces
    are kept. Both are wired in at construction, so a tracer without them pays nothing for
    them (docs/privacy.md).

    The class-level defaults let a subclass that defines its own ``__init__`` without calling
    ``super().__init__()`` still work.
    """

    #: An injected clock (epoch nanoseconds), or ``None`` for the monotonic default, inlined.
    _clock: Clock | None = None
    _ids: IdGenerator = _RANDOM_IDS
    _resource: Mapping[str, Any] = {}
    _scope: Scope = DEFAULT_SCOPE
    _persist_errors: int = 0
    _errors_lock: ClassVar[threading.Lock] = threading.Lock()
    #: ``redact=`` / ``sampler=`` when given (see ``_privacy``); ``None`` costs nothing.
    _policy: SpanPolicy | None = None
    #: Whether the tracer writes snapshots of open spans at all (OTLP has no partial spans).
    _takes_snapshots: bool = True
    #: The open spans watched for automatic snapshots (``snapshot_interval=``), if any.
    _snapshots: SnapshotWatch | None = None
    #: The spans opened since the snapshot sweeper last looked (``_trace_watched``).
    _noted: list[Trace]
    #: Tracers that redact after ``persist``: exporting tracers on their background worker,
    #: ``InMemoryTracer`` when its spans are first read.
    _redacts_later: ClassVar[bool] = False

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = None,
    ) -> None:
        if clock is not None:
            self._clock = clock
        if id_generator is not None:
            self._ids = id_generator
        if scope is not None:
            self._scope = scope
        if redact is not None or sampler is not None:
            self._policy = SpanPolicy(
                redact=redact, sampler=sampler, redact_later=self._redacts_later
            )
            self._policy.install(self)
        if isinstance(sampler, ConversationRatio | TailSampler):
            # They decide when spans end: a snapshot could show a span that is never kept.
            self._takes_snapshots = False
        if snapshot_interval is not None and self._takes_snapshots:
            plain = "trace" not in vars(self) and type(self).trace is BaseTracer.trace
            self._snapshots = install(
                self,
                snapshot_interval,
                self._write_snapshot,
                inlined=self._trace_watched if plain else None,
            )

    def trace(
        self, span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None
    ) -> Trace:
        """Open a span named ``span_name``; use it as ``with tracer.trace(...) as span:``.

        The parent is ``parent`` when given, else this tracer's innermost open span in the
        current thread or task (spans of other tracers are skipped). Under a parent that is not
        recorded (sampled out, or a ``traceparent`` with the sampled flag off) the span is not
        recorded either. Raises ``ValueError`` for an unknown ``span_kind``.
        """
        if span_kind not in SPAN_KINDS:
            raise ValueError(f"span_kind must be one of {sorted(SPAN_KINDS)}, not {span_kind!r}")
        name = span_name
        if type(name) is not str or len(name) > MAX_NAME_LENGTH:
            name = clean_name(name, MAX_NAME_LENGTH)  # rare: not text, or too long
        if parent is None:
            parent = current_span()
            while parent is not None and parent._owner is not self:
                parent = parent._outer
        elif isinstance(parent, UnsampledSpan):
            return self._follow_unsampled(span_name, span_kind, parent)
        ids = self._ids
        clock = self._clock
        if ids is _RANDOM_IDS:  # the default, inlined: two method calls less per span
            trace_id = (getrandbits(128) or 1) if parent is None else parent._trace_id
            span_id = getrandbits(64) or 1
        else:
            trace_id = ids.new_trace_id() if parent is None else parent._trace_id
            span_id = ids.new_span_id()
        return Trace(
            name,
            span_kind,
            trace_id,
            span_id,
            parent,
            OFFSET_NS + perf_counter_ns() if clock is None else clock(),
            self,
            self._resource,
            self._scope,
        )

    def _trace_watched(
        self, span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None
    ) -> Trace:
        """``trace`` noting each span for the snapshot sweeper (``snapshot_interval=``).

        The body of ``trace`` again, on purpose: a wrapper around it would cost every span a
        call, where this costs one ``list.append``.
        """
        if span_kind not in SPAN_KINDS:
            raise ValueError(f"span_kind must be one of {sorted(SPAN_KINDS)}, not {span_kind!r}")
        name = span_name
        if type(name) is not str or len(name) > MAX_NAME_LENGTH:
            name = clean_name(name, MAX_NAME_LENGTH)
        if parent is None:
            parent = current_span()
            while parent is not None and parent._owner is not self:
                parent = parent._outer
        elif isinstance(parent, UnsampledSpan):
            return self._follow_unsampled(span_name, span_kind, parent)
        ids = self._ids
        clock = self._clock
        if ids is _RANDOM_IDS:
            trace_id = (getrandbits(128) or 1) if parent is None else parent._trace_id
            span_id = getrandbits(64) or 1
        else:
            trace_id = ids.new_trace_id() if parent is None else parent._trace_id
            span_id = ids.new_span_id()
        span = Trace(
            name,
            span_kind,
            trace_id,
            span_id,
            parent,
            OFFSET_NS + perf_counter_ns() if clock is None else clock(),
            self,
            self._resource,
            self._scope,
        )
        self._noted.append(span)
        if not SWEEPER.running:
            SWEEPER.ensure_running()
        return span

    def _follow_unsampled(self, span_name: str, span_kind: str, parent: Trace) -> Trace:
        # A remote parent said "not sampled" (traceparent flags 00): from now on this tracer
        # opens spans through the path that lets children follow such a decision.
        if self._policy is None:
            self._policy = SpanPolicy(redact=None, sampler=None)  # where they are counted
        self.trace = self._policy.head_trace(self, None)  # type: ignore[method-assign]
        return self.trace(span_name, span_kind=span_kind, parent=parent)

    @property
    def current_trace(self) -> Trace:
        """The innermost open span of this tracer in the current thread or task.

        Raises ``NoCurrentTraceError`` outside any span of this tracer.
        """
        span = current_span()
        while span is not None and span._owner is not self:
            span = span._outer
        if span is None:
            raise NoCurrentTraceError(
                f"{type(self).__name__}.current_trace was read outside any span of this tracer: "
                "read it inside `with tracer.trace(...)` or a @traced function"
            )
        return span

    def set_context(
        self, *, resource_attributes: Mapping[str, Any] | None = None
    ) -> Callable[[], None]:
        """Set the resource attributes (e.g. ``service.name``) of every span opened from now on.

        Applies tracer-wide, in every thread and task. Returns a callable that restores the
        previous context.
        """
        previous = self._resource
        if resource_attributes is not None:
            self._resource = {
                clean_key(k): valid_texts(private_copy(v)) for k, v in resource_attributes.items()
            }

        def restore() -> None:
            self._resource = previous

        return restore

    @abstractmethod
    def persist(self, trace: Trace) -> None:
        """Store or ship one ended span; called once per span, when it ends."""

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> Sequence[Trace]:
        """Ended spans matching ``trace_id`` and every ``attribute_filter`` item, by start time;
        with ``include_open``, also the latest snapshot of each span still open.

        Tracers that keep no spans raise ``NotImplementedError`` naming one that does.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not keep spans, so it cannot answer get_traces(); "
            "use InMemoryTracer or SqliteTracer (or add one first to a TeeTracer)"
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Write out everything handed over so far. In-process tracers have nothing to wait for."""
        return True

    def shutdown(self) -> None:
        """Flush and release resources. Spans ended afterwards are still handed to ``persist``."""
        self.flush()

    def now_ns(self) -> int:
        """The current time by this tracer's clock, in nanoseconds since the epoch."""
        return monotonic_wall_ns() if self._clock is None else self._clock()

    @property
    def stats(self) -> dict[str, int]:
        """Counters of what this tracer did; ``persist_errors`` counts spans ``persist`` failed."""
        counts = {"persist_errors": self._persist_errors}
        watch = self._snapshots
        if watch is not None:
            counts["snapshots"] = watch.taken
        policy = self._policy
        return counts if policy is None else {**counts, **policy.stats}

    def _snapshot_now(self, span: Trace) -> None:
        """Write a snapshot of the open ``span`` now (``Trace.emit_snapshot``)."""
        if not self._takes_snapshots:
            return
        snap = take_snapshot(span, self.now_ns())
        if snap is not None:
            self._write_snapshot(snap)

    def _write_snapshot(self, snap: SpanSnapshot) -> None:
        """Hand a snapshot to ``persist`` (failures contained); exporting tracers queue it."""
        self._emit(snap)

    def _emit(self, trace: Trace) -> None:
        try:
            self.persist(trace)
        except Exception:  # noqa: BLE001 - a broken sink must never break the agent it observes
            self._persist_failed(trace)

    def _persist_failed(self, trace: Trace) -> None:
        with self._errors_lock:
            self._persist_errors += 1
            first = self._persist_errors == 1
        if first:
            _log.exception("%s failed to persist span %r", type(self).__name__, trace.span_name)
        else:
            _log.error(
                "%s failed to persist span %r (%d failures so far)",
                type(self).__name__,
                trace.span_name,
                self._persist_errors,
            )
