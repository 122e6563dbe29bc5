"""Received spans held until their trace's conversation is known, so conversations are whole.

Agents instrumented with OpenTelemetry often name the conversation (``session.id``,
``gen_ai.conversation.id``) and the user on one span of a trace only, frequently the root, which
ends, and so is exported, last. Every span of such a trace should belong to the conversation,
as our own inheritable attributes make it. So a span whose trace has no conversation yet is held
until a span of its trace names one, or its root arrives, or it has waited ``max_age`` seconds,
or more than ``max_held`` spans are held (the oldest traces go first); then it is released with
whatever the trace is known to share, added as inherited attributes. What traces share is
remembered for ``max_traces`` traces, for their late spans.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from .._trace import Trace
from ._decode import SpanDraft

#: Attributes a trace's spans share: the conversation and who it is for.
SHARED_KEYS: Final = ("ai.conversation.id", "ai.auth.context")


class TraceAssembler:
    """Decides when received spans are ready to store. Thread-safe."""

    def __init__(
        self,
        *,
        max_age: float = 30.0,
        max_held: int = 10_000,
        max_traces: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age
        self._max_held = max_held
        self._max_traces = max_traces
        self._clock = clock
        self._lock = threading.Lock()
        self._shared: OrderedDict[int, dict[str, Any]] = OrderedDict()
        # trace id -> (arrival of its first held span, its held spans), oldest first
        self._held: OrderedDict[int, tuple[float, list[SpanDraft]]] = OrderedDict()
        self._held_count = 0

    @property
    def held(self) -> int:
        """How many spans are waiting for their trace's conversation."""
        return self._held_count

    def add(self, drafts: list[SpanDraft]) -> list[Trace]:
        """The spans ready to store now, of ``drafts`` and of those held before."""
        ready: list[Trace] = []
        with self._lock:
            for draft in drafts:
                attrs = draft.attrs
                if "ai.conversation.id" in attrs or "ai.auth.context" in attrs:
                    known: dict[str, Any] = {k: attrs[k] for k in SHARED_KEYS if k in attrs}
                    if self._shared.get(draft.trace_id) != known:
                        self._remember(draft.trace_id, known)
            for draft in drafts:
                trace_id = draft.trace_id
                shared = self._shared.get(trace_id)
                if shared is not None or draft.is_root:
                    ready.append(draft.build(shared or {}))
                    ready.extend(self._release(trace_id))
                else:
                    self._hold(trace_id, draft)
            ready.extend(self._release_due(self._clock()))
        return ready

    def release_expired(self) -> list[Trace]:
        """Spans that have waited ``max_age`` seconds, released without a conversation."""
        with self._lock:
            return self._release_due(self._clock())

    def release_all(self) -> list[Trace]:
        """Every held span (at shutdown)."""
        with self._lock:
            return self._release_due(float("inf"), everything=True)

    # -- under the lock

    def _remember(self, trace_id: int, known: dict[str, Any]) -> None:
        self._shared[trace_id] = {**self._shared.get(trace_id, {}), **known}
        self._shared.move_to_end(trace_id)
        while len(self._shared) > self._max_traces:
            self._shared.popitem(last=False)

    def _hold(self, trace_id: int, draft: SpanDraft) -> None:
        entry = self._held.get(trace_id)
        if entry is None:
            self._held[trace_id] = (self._clock(), [draft])
        else:
            entry[1].append(draft)
        self._held_count += 1

    def _release(self, trace_id: int) -> list[Trace]:
        entry = self._held.pop(trace_id, None)
        if entry is None:
            return []
        self._held_count -= len(entry[1])
        shared = self._shared.get(trace_id, {})
        return [draft.build(shared) for draft in entry[1]]

    def _release_due(self, now: float, *, everything: bool = False) -> list[Trace]:
        released: list[Trace] = []
        while self._held:
            trace_id, (since, _) = next(iter(self._held.items()))
            if not (
                everything or self._held_count > self._max_held or now - since >= self._max_age
            ):
                break
            released.extend(self._release(trace_id))
        return released
