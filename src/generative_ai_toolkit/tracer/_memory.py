"""``InMemoryTracer``: the last N spans in memory, indexed for lookups by trace and conversation."""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ._base import BaseTracer
from ._clock import Clock
from ._freeze import thaw
from ._ids import IdGenerator
from ._query import (
    CONVERSATION_ID,
    ConversationFilter,
    ConversationSummary,
    SpanNode,
    build_tree,
    conversation_key,
    filter_summaries,
    matches_filter,
    newer_view,
    sorted_by_start,
    spans_of_conversation,
    summarize,
)
from ._redact import Redact
from ._sampling import Sampler
from ._snapshot import is_stale_snapshot
from ._span import Scope
from ._trace import Trace

_log = logging.getLogger("generative_ai_toolkit.tracer")

_MISSING: Final = object()


def _index_key(value: Any) -> tuple[type, Any] | None:
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)


class InMemoryTracer(BaseTracer):
    """Keeps the most recent ``memory_size`` ended spans in memory; thread-safe.

    For tests and development. When full, the oldest span is dropped to make room (counted in
    ``stats["evicted"]``, logged once). Lookups by trace id and by ``ai.conversation.id`` use
    indexes instead of scanning every span. Snapshots of open spans (``snapshot_interval=``,
    off by default, or ``Trace.emit_snapshot()``) are kept apart, the latest per span, until
    the span ends; reads return them with ``include_open=True``.

    With ``redact=``, a span is held as it ended until the first read after it (``get_traces``,
    ``list_conversations``, ``conversation_spans``, ``trace_tree``), which redacts every span
    held so far, on the reading thread, before anything is looked up or returned: reads only
    ever see redacted spans, and spans evicted unread are never redacted at all.
    """

    _redacts_later = True

    def __init__(
        self,
        memory_size: int = 1000,
        *,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = None,
    ) -> None:
        if redact is not None:
            # Before the policy is installed, so that sampling hands kept spans to this path.
            self.persist = self._hold  # type: ignore[method-assign]
        super().__init__(
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )
        if isinstance(memory_size, bool) or not isinstance(memory_size, int) or memory_size < 1:
            raise ValueError(f"memory_size must be a positive int, not {memory_size!r}")
        self._memory_size = memory_size
        # Each kept span with its conversation index key, oldest first.
        self._kept: deque[tuple[Trace, tuple[type, Any] | None]] = deque()
        self._by_trace: dict[int, list[Trace]] = {}
        self._by_conversation: dict[tuple[type, Any], list[Trace]] = {}
        self._lock = threading.Lock()
        self._evicted = 0
        self._open: dict[tuple[int, int], Trace] = {}  # the latest snapshot of each open span
        # Spans held as they ended until the next read redacts them (only with ``redact=``);
        # readers take turns redacting, so each span is redacted once, and in order.
        self._unredacted: deque[Trace] = deque()
        self._redacting = threading.Lock()
        policy = self._policy
        # Not thaw_once: held spans keep their values frozen (a cache of them would double the
        # memory they take), and readers copy what they read anyway.
        self._redact_one = (
            functools.partial(policy.redact_one, thaw_once=False) if policy is not None else None
        )

    @property
    def memory_size(self) -> int:
        """How many spans are kept at most."""
        return self._memory_size

    def persist(self, trace: Trace) -> None:
        """Keep ``trace``, dropping the oldest span when full (a snapshot: keep it as the
        latest view of its open span)."""
        if not trace._end_ns:
            self._keep_open(trace)
            return
        if self._open:
            with self._lock:
                self._open.pop((trace._trace_id, trace._span_id), None)
        conversation = trace._raw.get(CONVERSATION_ID, _MISSING)
        key = None if conversation is _MISSING else _index_key(thaw(conversation))
        trace_id = trace._trace_id
        with self._lock:
            kept = self._kept
            if len(kept) >= self._memory_size:
                self._evict_oldest()
            kept.append((trace, key))
            same_trace = self._by_trace.get(trace_id)
            if same_trace is None:
                self._by_trace[trace_id] = [trace]
            else:
                same_trace.append(trace)
            if key is not None:
                same_conversation = self._by_conversation.get(key)
                if same_conversation is None:
                    self._by_conversation[key] = [trace]
                else:
                    same_conversation.append(trace)

    def _keep_open(self, snap: Trace) -> None:
        key = (snap._trace_id, snap._span_id)
        with self._lock:
            # Checked under the lock the end takes too: a snapshot racing the end never stays.
            if is_stale_snapshot(snap) or any(
                span._span_id == snap._span_id for span in self._by_trace.get(snap._trace_id, ())
            ):
                return  # the span has ended (here, or as another process told us)
            held = self._open.get(key)
            if held is None or newer_view(snap, held):
                self._open[key] = snap

    def _hold(self, trace: Trace) -> None:
        """``persist`` with ``redact=``: hold ``trace`` until the next read redacts it."""
        with self._lock:
            if len(self._kept) + len(self._unredacted) >= self._memory_size:
                if self._kept:
                    self._evict_oldest()
                else:
                    self._unredacted.popleft()  # evicted before it was ever read or redacted
                    self._count_eviction()
            self._unredacted.append(trace)

    def _redact_held(self) -> None:
        """Redact and keep every span held since the last read (with ``redact=``)."""
        redact_one = self._redact_one
        if redact_one is None or not self._unredacted:
            return
        with self._redacting:
            with self._lock:
                held = list(self._unredacted)
                self._unredacted.clear()
            for span in held:
                try:
                    InMemoryTracer.persist(self, redact_one(span))
                except Exception:  # noqa: BLE001 - as on the agent's thread: counted, logged
                    self._persist_failed(span)
            with self._lock:  # spans held meanwhile count towards memory_size too
                while self._kept and len(self._kept) + len(self._unredacted) > self._memory_size:
                    self._evict_oldest()

    def _evict_oldest(self) -> None:
        oldest, key = self._kept.popleft()
        # Spans are appended to the deque and to their index lists under one lock, so the
        # oldest span overall is also the first of each list it is in.
        _pop_first(self._by_trace, oldest._trace_id)
        if key is not None:
            _pop_first(self._by_conversation, key)
        self._count_eviction()

    def _count_eviction(self) -> None:
        self._evicted += 1
        if self._evicted == 1:
            _log.warning(
                "InMemoryTracer is full (memory_size=%d): dropping the oldest spans from now on",
                self._memory_size,
            )

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> list[Trace]:
        """Ended spans of ``trace_id`` whose attributes match ``attribute_filter``, by start time.

        Matching is exact (same type, equal value) and includes inherited attributes. Lookups by
        trace id or ``ai.conversation.id`` are index lookups.
        """
        self._redact_held()
        attribute_filter = dict(attribute_filter or {})
        with self._lock:
            if trace_id is not None:
                candidates: Iterable[Trace] = list(
                    self._by_trace.get(_parse_trace_id(trace_id), ())
                )
            elif (
                CONVERSATION_ID in attribute_filter
                and (key := _index_key(attribute_filter[CONVERSATION_ID])) is not None
            ):
                candidates = list(self._by_conversation.get(key, ()))
            else:
                candidates = [span for span, _ in self._kept]
            if include_open and self._open:
                wanted = None if trace_id is None else _parse_trace_id(trace_id)
                candidates = [*candidates, *self._open_spans(wanted)]
        if attribute_filter:
            candidates = [t for t in candidates if matches_filter(t, attribute_filter)]
        return sorted_by_start(candidates)

    def _open_spans(self, trace_id: int | None) -> list[Trace]:
        return [s for s in self._open.values() if trace_id is None or s._trace_id == trace_id]

    def clear(self) -> None:
        """Forget every span."""
        with self._redacting, self._lock:
            self._unredacted.clear()
            self._kept.clear()
            self._by_trace.clear()
            self._by_conversation.clear()
            self._open.clear()

    def list_conversations(
        self, where: ConversationFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations among the kept spans, most recently active first."""
        self._redact_held()
        with self._lock:
            spans = [span for span, _ in self._kept]
            spans.extend(self._open.values())
        return filter_summaries(summarize(spans).values(), where, limit=limit, offset=offset)

    def conversation_spans(
        self, conversation_id: str, *, auth_context: str | None = None, include_open: bool = False
    ) -> list[Trace]:
        """Every kept span of one conversation (ids compared as text), by start time (open
        ones only with ``include_open``)."""
        self._redact_held()
        with self._lock:
            spans = [
                span
                for (_, value), bucket in self._by_conversation.items()
                if conversation_key(value) == conversation_id
                for span in bucket
            ]
            if include_open:
                spans.extend(self._open_spans(None))
        return sorted_by_start(spans_of_conversation(spans, conversation_id, auth_context))

    def trace_tree(self, trace_id: str, *, include_open: bool = False) -> list[SpanNode]:
        """The kept spans of ``trace_id`` as trees."""
        return build_tree(self.get_traces(trace_id=trace_id, include_open=include_open))

    @property
    def stats(self) -> dict[str, int]:
        """``persist_errors``, ``stored`` (spans held now) and ``evicted`` (dropped when full)."""
        stored = len(self._kept) + len(self._unredacted)
        return {**super().stats, "stored": stored, "evicted": self._evicted}


def _pop_first(index: dict[Any, list[Trace]], key: Any) -> None:
    bucket = index[key]
    if len(bucket) == 1:
        del index[key]
    else:
        del bucket[0]


def _parse_trace_id(trace_id: str) -> int:
    try:
        return int(trace_id, 16)
    except (TypeError, ValueError):
        raise ValueError(f"trace_id must be 32 hex digits, not {trace_id!r}") from None
