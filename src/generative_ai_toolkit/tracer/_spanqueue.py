"""The export engine's queue: ended spans and the flush markers between them.

A ``deque`` shared by the agent's threads (append) and the worker (popleft); shutdown may empty
it while the worker takes a batch, so every read tolerates the other side.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Literal

from ._trace import Trace


class FlushMarker:
    """Put in the queue by ``flush``; released when the worker gets to it (``reached``) or
    when shutdown empties the queue (not reached)."""

    __slots__ = ("done", "reached")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reached = False

    def release(self, *, reached: bool) -> None:
        """Let whoever waits go on; ``reached``: everything before the marker was handled."""
        self.reached = reached
        self.done.set()

    def wait(self, timeout: float | None) -> bool:
        """Whether the worker reached the marker within ``timeout`` seconds."""
        return self.done.wait(timeout) and self.reached


SpanQueue = deque[Trace | FlushMarker]

#: What ``submit`` does when the queue is full: drop the span, or wait a bounded time for room.
QueueFullPolicy = Literal["drop", "block"]


def take_batch(queue: SpanQueue, max_size: int) -> tuple[list[Trace], list[FlushMarker]]:
    """Up to ``max_size`` spans from the front, stopping after a flush marker."""
    batch: list[Trace] = []
    while len(batch) < max_size:
        try:
            item = queue.popleft()
        except IndexError:
            break
        if isinstance(item, FlushMarker):
            return batch, [item]
        batch.append(item)
    return batch, []


def take_all(queue: SpanQueue) -> tuple[int, list[FlushMarker]]:
    """Empty the queue: how many spans it held, and its markers."""
    spans = 0
    markers: list[FlushMarker] = []
    while True:
        try:
            item = queue.popleft()
        except IndexError:
            return spans, markers
        if isinstance(item, FlushMarker):
            markers.append(item)
        else:
            spans += 1
