"""Snapshots of open spans: ``SpanSnapshot``, and the one sweeper that takes them while spans run.

A snapshot is an open span as it is at one moment (its own attributes, then those its ancestors
would pass on now), with no end time. Stores keep at most one row per span: a newer snapshot
replaces an older one, and the ended span replaces any snapshot, never the other way round.

Automatic snapshots cost the agent one ``list.append`` per span: the span is noted for later.
One daemon thread per process (``Sweeper``) wakes every ``SWEEP_INTERVAL`` seconds, skips the
spans that ended meanwhile (so a span shorter than that never yields a snapshot), and snapshots
the rest: first when it gets to them, then every ``interval`` seconds while they stay open.
Writing goes through the tracer's own path (the background engine for exporting tracers).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from itertools import chain, filterfalse
from operator import attrgetter
from typing import Any, Final

from ._clock import datetime_from_ns, ns_from_datetime
from ._trace import Trace

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: How often the sweeper looks at the spans opened since it last looked (seconds): the delay
#: between a span opening and its first snapshot, and the shortest span that gets one.
SWEEP_INTERVAL: Final = 0.25
#: The default ``snapshot_interval`` of the tracers that take snapshots unless told not to
#: (SQLite, the human-readable console): seconds between two snapshots of one open span.
DEFAULT_SNAPSHOT_INTERVAL: Final = 5.0
_ENDED: Final = attrgetter("_end_ns")


class SpanSnapshot(Trace):
    """An open span as it was at ``snapshot_at``: ``is_ended`` is False and ``ended_at`` None.

    Read-only: it is never ended, and adding attributes to it is ignored with a warning.
    """

    __slots__ = ("_snapshot_ns", "_source")

    _snapshot_ns: int
    _source: Trace | None

    @property
    def snapshot_at(self) -> Any:
        """When the snapshot was taken (UTC): the last time the span was known to be open."""
        return datetime_from_ns(self._snapshot_ns)

    @property
    def snapshot_time_ns(self) -> int:
        """``snapshot_at`` in nanoseconds since the epoch."""
        return self._snapshot_ns

    def add_attribute(self, key: str, value: Any, inheritable: bool = False) -> None:
        """Ignored with a warning: a snapshot never changes."""
        _log.warning("add_attribute(%r) on a snapshot of span %r: ignored", key, self._name)

    def set_status(self, status: Any) -> None:
        """Ignored with a warning: a snapshot never changes."""
        _log.warning("set_status(%r) on a snapshot of span %r: ignored", status, self._name)

    def record_exception(self, exc: BaseException) -> None:
        """Ignored: a snapshot never changes."""

    def end(self, exc: BaseException | None = None) -> None:
        """Does nothing: a snapshot is not the span; the span ends where it runs."""


def take_snapshot(span: Trace, now_ns: int) -> SpanSnapshot | None:
    """``span`` as it is now, or ``None`` once it has ended. Safe to call from any thread."""
    for _ in range(3):
        if span._end_ns:
            return None
        try:
            raw = dict(span._raw)
            status = span._status
            parent = span._parent
            up = parent._inheritable() if parent is not None else None
            own = len(raw)
            if up:
                for key, value in tuple(up.items()):
                    if key not in raw:
                        raw[key] = value
        except RuntimeError:  # the agent changed a dict while it was copied: look again
            continue
        snap = SpanSnapshot._shell_of(span)
        snap._raw = raw
        snap._status = status
        snap._n_own = own if len(raw) > own else -1
        snap._snapshot_ns = max(now_ns, span._start_ns)
        snap._source = span
        return snap
    return None


def stored_snapshot(span: Trace, snapshot_ns: int) -> SpanSnapshot:
    """An open span read back from a store: the fields of ``span`` (built by ``stored_span``)
    as a snapshot taken at ``snapshot_ns``."""
    snap = SpanSnapshot._shell_of(span)
    snap._raw = span._raw
    snap._status = span._status
    snap._n_own = span._n_own
    snap._snapshot_ns = snapshot_ns
    snap._source = None
    return snap


def snapshot_time(span: Trace) -> int:
    """When the open ``span`` (a snapshot) was last seen open: what stores keep as its end."""
    return span._snapshot_ns if type(span) is SpanSnapshot else span._start_ns


def snapshot_from_dict(data: Mapping[str, Any]) -> SpanSnapshot:
    """An open span from its JSON form (``ended_at`` null, ``snapshot_at`` when it was taken)."""
    started = data["started_at"]
    span = Trace.from_dict({**data, "ended_at": started})
    seen = data.get("snapshot_at") or started
    when = datetime.fromisoformat(seen) if isinstance(seen, str) else seen
    return stored_snapshot(span, when if isinstance(when, int) else ns_from_datetime(when))


def last_seen_ns(span: Trace) -> int:
    """When ``span`` ended, or, while open, when its latest snapshot was taken."""
    return span._end_ns or snapshot_time(span)


def is_stale_snapshot(span: Trace) -> bool:
    """Whether ``span`` is a snapshot whose span (in this process) has ended since: writers
    skip those, so the end is never followed by an older view of the span."""
    if type(span) is not SpanSnapshot:
        return False
    source = span._source
    return source is not None and source._end_ns != 0


class SnapshotWatch:
    """One tracer's open spans, as the sweeper sees them.

    All the agent's thread does is ``holder._noted.append(span)``: the sweeper takes that list
    whole (putting an empty one in its place), skips the spans that have ended, and watches the
    rest. ``emit`` receives each snapshot, on the sweeper's thread; ``now_ns`` is the tracer's
    clock.
    """

    def __init__(
        self,
        holder: Any,
        *,
        interval: float,
        emit: Callable[[SpanSnapshot], None],
        now_ns: Callable[[], int],
    ) -> None:
        self.interval_ns = int(interval * 1_000_000_000)
        holder._noted = []
        self._holder = weakref.ref(holder)
        # The list taken last time, and how much of it was read: an agent thread that fetched
        # it just before it was taken may still append to it once.
        self._taken: list[Trace] = []
        self._read = 0
        self._watching: list[tuple[int, Trace]] = []  # (next snapshot due, span)
        self._emit = emit
        self._now_ns = now_ns
        self.taken = 0

    def forget(self) -> None:
        """Watch nothing noted so far (in a forked child: those spans run in the parent)."""
        holder = self._holder()
        if holder is not None:
            holder._noted = []
        self._taken, self._read, self._watching = [], 0, []

    def busy(self) -> bool:
        """Whether any span is noted or watched."""
        holder = self._holder()
        return holder is not None and bool(holder._noted or self._watching)

    def sweep(self) -> None:
        """Snapshot the noted spans still open, and the watched ones that are due."""
        holder = self._holder()
        if holder is None:
            return
        late = self._taken[self._read :]
        noted = holder._noted
        holder._noted = []
        self._taken, self._read = noted, len(noted)
        now = self._now_ns()
        keep: list[tuple[int, Trace]] = []
        for due, span in self._watching:
            if span._end_ns:
                continue
            if now >= due:
                self._snap(span, now)
            keep.append((now + self.interval_ns if now >= due else due, span))
        # ``filterfalse`` runs in C: most noted spans have ended and cost next to nothing here.
        for span in filterfalse(_ENDED, chain(late, noted[: self._read])):
            if type(span) is Trace:  # not an unrecorded (sampled-out) span
                self._snap(span, now)
                keep.append((now + self.interval_ns, span))
        self._watching = keep

    def _snap(self, span: Trace, now: int) -> None:
        snap = take_snapshot(span, now)
        if snap is None:
            return
        self.taken += 1
        try:
            self._emit(snap)
        except Exception:  # noqa: BLE001 - the sink counts and logs its own failures
            _log.exception("writing a snapshot of span %r failed", span._name)


class Sweeper:
    """The process's one snapshot thread: sweeps every live ``SnapshotWatch`` each
    ``SWEEP_INTERVAL`` seconds, retires when none has anything to watch, and starts again
    (also in a forked child) with the next noted span."""

    def __init__(self) -> None:
        self._watches: weakref.WeakSet[SnapshotWatch] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.running = False

    def add(self, watch: SnapshotWatch) -> None:
        """Sweep ``watch`` from now on (until it is garbage)."""
        with self._lock:
            self._watches.add(watch)

    def ensure_running(self) -> None:
        """Start the thread unless it runs."""
        with self._lock:
            if self.running:
                return
            self.running = True
            thread = threading.Thread(target=self._run, name="span-snapshots", daemon=True)
            self._thread = thread
            thread.start()

    def _idle(self) -> bool:
        return not any(watch.busy() for watch in list(self._watches))

    def _run(self) -> None:
        stop = threading.Event()
        while True:
            stop.wait(SWEEP_INTERVAL)
            with self._lock:
                watches = list(self._watches)
            for watch in watches:
                try:
                    watch.sweep()
                except Exception:  # noqa: BLE001 - one tracer's failure must not stop the rest
                    _log.exception("snapshot sweep failed")
            with self._lock:
                if not self._idle():
                    continue
                self.running = False
            # A span noted just before ``running`` went False saw it True and started nothing:
            # look once more, and carry on unless a successor has started meanwhile.
            with self._lock:
                if self._idle() or self.running:
                    self._thread = None
                    return
                self.running = True

    def after_fork_in_child(self) -> None:
        """The thread did not survive the fork: the next noted span starts one. The parent's
        spans are the parent's to snapshot: the child forgets them."""
        self._lock = threading.Lock()
        self.running = False
        self._thread = None
        for watch in list(self._watches):
            watch.forget()


#: The process's sweeper.
SWEEPER: Final = Sweeper()
os.register_at_fork(after_in_child=SWEEPER.after_fork_in_child)


def install(
    tracer: Any,
    interval: float,
    emit: Callable[[SpanSnapshot], None],
    *,
    inlined: Callable[..., Trace] | None = None,
) -> SnapshotWatch:
    """Watch every span ``tracer`` opens from now on, and hand ``emit`` their snapshots.

    ``tracer.trace`` is replaced on the instance (a tracer without snapshots pays nothing): by
    ``inlined``, a copy of ``trace`` that notes the span in ``tracer._noted`` itself, when
    given; else by a wrapper around the ``trace`` it has (a sampler's, say).
    """
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise ValueError(f"snapshot_interval must be a positive number (seconds), not {interval!r}")
    watch = SnapshotWatch(tracer, interval=interval, emit=emit, now_ns=tracer.now_ns)
    SWEEPER.add(watch)
    if inlined is not None:
        tracer.trace = inlined
        return watch
    base_trace = tracer.trace
    sweeper = SWEEPER

    def trace(span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None) -> Trace:
        span: Trace = base_trace(span_name, span_kind=span_kind, parent=parent)
        tracer._noted.append(span)
        if not sweeper.running:
            sweeper.ensure_running()
        return span

    tracer.trace = trace
    return watch
