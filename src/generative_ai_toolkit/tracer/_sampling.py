"""Sampling: which traces a tracer keeps. Three kinds, one ``sampler=`` option.

- ``TraceIdRatio(r)`` decides when a trace's root opens (head sampling): kept when the low 64
  bits of the trace id fall below ``r`` of their range, as OpenTelemetry's
  ``TraceIdRatioBased`` decides, so every process and service decides alike. A span not kept is
  not recorded (``_unsampled``): it carries the trace's context (children follow its decision,
  and ``inject_traceparent`` passes it on with the sampled flag off) and records nothing.
- ``ConversationRatio(r)`` keeps or drops whole conversations by a hash of
  ``ai.conversation.id``, decided per span as it ends, so a kept conversation never misses a
  turn.
- ``TailSampler(...)`` holds a trace's spans until its root ends, then keeps it when it holds an
  error or took at least ``min_duration`` seconds, else keeps ``ratio`` of the rest (by trace
  id). At most ``max_buffered_spans`` are held: past that, the oldest open trace is decided
  early on what it holds so far.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ._freeze import safe_str, thaw
from ._trace import Trace

#: The low 64 bits of a trace id, which the decision reads (as OpenTelemetry's does).
_LOW64: Final = (1 << 64) - 1
CONVERSATION_ID: Final = "ai.conversation.id"


def _bound(ratio: float) -> int:
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ValueError(f"ratio must be a number from 0 to 1, not {ratio!r}")
    return round(ratio * (_LOW64 + 1))


def keeps_trace_id(trace_id: int, bound: int) -> bool:
    """OpenTelemetry's ``TraceIdRatioBased`` decision for a ratio's ``bound``."""
    return (trace_id & _LOW64) < bound


def conversation_hash(conversation_id: Any) -> int:
    """A 64-bit hash of a conversation id as text, the same in every process and on every run."""
    text = conversation_id if type(conversation_id) is str else safe_str(conversation_id)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class TraceIdRatio:
    """Head sampling: keep ``ratio`` of traces, decided by trace id when the root opens.

    A span whose parent is known (local, or remote through ``traceparent``) follows the
    parent's decision. As the sampler of a tracer that did not open the spans (a ``TeeTracer``
    child), the same decision is applied to the spans it is handed.
    """

    ratio: float
    bound: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound", _bound(self.ratio))

    def keeps(self, trace_id: int) -> bool:
        """Whether the trace with this id is kept."""
        return (trace_id & _LOW64) < self.bound


@dataclass(frozen=True)
class ConversationRatio:
    """Keep ``ratio`` of conversations, whole, by a hash of ``ai.conversation.id``.

    Decided per span as it ends (its own or inherited conversation id); the decision is a pure
    function of the id, the same in every process. A span without a conversation id is decided
    by its trace id, at the same ratio.
    """

    ratio: float
    bound: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound", _bound(self.ratio))

    def keeps_conversation(self, conversation_id: Any) -> bool:
        """Whether the conversation with this id is kept."""
        return conversation_hash(conversation_id) < self.bound


@dataclass(frozen=True)
class TailSampler:
    """Decide when a trace's root ends: keep errors, slow traces, and ``ratio`` of the rest.

    ``keep_errors``: keep every trace with a span whose status is ``ERROR``. ``min_duration``:
    keep every trace whose root took at least that many seconds. ``ratio``: the share of the
    other traces kept (by trace id, like ``TraceIdRatio``). ``max_buffered_spans`` bounds the
    spans held while traces are open; past it, the oldest open trace is decided early.
    """

    ratio: float = 0.0
    keep_errors: bool = True
    min_duration: float | None = None
    max_buffered_spans: int = 10_000
    bound: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound", _bound(self.ratio))
        if self.min_duration is not None and not self.min_duration >= 0:
            raise ValueError(f"min_duration must be >= 0 seconds, not {self.min_duration!r}")
        size = self.max_buffered_spans
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"max_buffered_spans must be a positive int, not {size!r}")


Sampler = TraceIdRatio | ConversationRatio | TailSampler


class _Open:
    __slots__ = ("error", "spans")

    def __init__(self) -> None:
        self.spans: list[Trace] = []
        self.error = False


class TailBuffer:
    """The state of one tracer's ``TailSampler``: open traces' spans, and recent decisions.

    ``end(span)`` returns the spans to store now (none while the trace is open; all of it when
    its root ends and it is kept). Thread-safe; memory bounded by ``max_buffered_spans`` spans
    and as many remembered decisions (spans arriving after their trace was decided follow it).
    After ``os.fork()`` the child starts with nothing buffered.
    """

    def __init__(self, rule: TailSampler) -> None:
        self._rule = rule
        self._min_ns = (
            math.inf if rule.min_duration is None else int(rule.min_duration * 1_000_000_000)
        )
        self._open: dict[int, _Open] = {}
        self._decided: dict[int, bool] = {}
        self._roots: dict[int, int] = {}
        self._lock = threading.Lock()
        self.buffered = 0
        self.dropped = 0
        self.decided_early = 0
        _BUFFERS.add(self)

    def _after_fork_in_child(self) -> None:
        # The lock may have been held at fork time; the parent's open traces are the parent's
        # to decide (as its export queue is), so the child starts empty.
        self._lock = threading.Lock()
        self._open = {}
        self._roots = {}
        self.buffered = 0

    def local_root(self, span: Trace) -> None:
        """Note that ``span`` is its trace's root in this process (its parent is remote)."""
        with self._lock:
            self._roots[span._trace_id] = span._span_id
            if len(self._roots) > self._rule.max_buffered_spans:
                del self._roots[next(iter(self._roots))]

    def end(self, span: Trace) -> Sequence[Trace]:
        """The spans to store now that ``span`` has ended."""
        trace_id = span._trace_id
        with self._lock:
            decided = self._decided.get(trace_id)
            if decided is not None:
                if decided:
                    return (span,)
                self.dropped += 1
                return ()
            pending = self._open.get(trace_id)
            if pending is None:
                pending = self._open[trace_id] = _Open()
            pending.spans.append(span)
            self.buffered += 1
            if span._status == "ERROR":
                pending.error = True
            root = self._roots.get(trace_id)
            out: list[Trace] = []
            if span._parent_id == 0 or root == span._span_id:
                self._roots.pop(trace_id, None)
                slow = span._end_ns - span._start_ns >= self._min_ns
                self._decide(trace_id, slow, out)
            while self.buffered > self._rule.max_buffered_spans:
                self.decided_early += 1
                self._decide(next(iter(self._open)), False, out)
            return out

    def _decide(self, trace_id: int, slow: bool, out: list[Trace]) -> None:
        pending = self._open.pop(trace_id)
        rule = self._rule
        keep = slow or (pending.error and rule.keep_errors) or (trace_id & _LOW64) < rule.bound
        self.buffered -= len(pending.spans)
        if keep:
            out.extend(pending.spans)
        else:
            self.dropped += len(pending.spans)
        decided = self._decided
        decided[trace_id] = keep
        if len(decided) > self._rule.max_buffered_spans:
            del decided[next(iter(decided))]

    def close(self) -> list[Trace]:
        """Decide every open trace now, on what it holds; the spans kept."""
        out: list[Trace] = []
        with self._lock:
            while self._open:
                self._decide(next(iter(self._open)), False, out)
        return out


_BUFFERS: weakref.WeakSet[TailBuffer] = weakref.WeakSet()


def _reinit_all_after_fork() -> None:
    for buffer in list(_BUFFERS):
        buffer._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_all_after_fork)


def conversation_of(span: Trace) -> Any:
    """The span's ``ai.conversation.id`` (own or inherited), or ``None``."""
    value = span._raw.get(CONVERSATION_ID)
    return None if value is None else thaw(value)
