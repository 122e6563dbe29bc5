"""``IterableTracer``: spans and snapshots of open spans as a stream, for your own UI or server.

The agent's thread only appends to a bounded buffer and never waits: when the buffer is full the
oldest record (``on_full="drop_oldest"``, the default) or the new one (``"drop_newest"``) is
dropped, counted in ``stats["dropped"]`` and logged once per cause. A consumer takes records by
iterating (blocking, or with a timeout), or with ``async for`` in asyncio.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Final, Literal

from ._base import BaseTracer
from ._clock import Clock
from ._ids import IdGenerator
from ._redact import Redact
from ._sampling import Sampler
from ._snapshot import DEFAULT_SNAPSHOT_INTERVAL
from ._span import Scope
from ._trace import Trace

_log = logging.getLogger("generative_ai_toolkit.tracer")

OnFull = Literal["drop_oldest", "drop_newest"]
_ON_FULL: Final = ("drop_oldest", "drop_newest")


class IterableTracer(BaseTracer):
    """Hands every ended span, and snapshots of open spans, to whoever iterates over it.

    ``for span in tracer:`` waits for the next record until ``close()``;
    ``tracer.records(timeout=s)`` stops once nothing came for ``s`` seconds; ``tracer.get(
    timeout=s)`` returns one record or ``None``; ``async for span in tracer:`` waits without
    blocking the event loop. A record is a ``Trace``: ``is_ended`` is False for a snapshot of an
    open span (taken a moment after it opens, then every ``snapshot_interval`` seconds; ``None``
    for ended spans only). Each record goes to one consumer: for several, give each its own
    ``IterableTracer`` (e.g. in a ``TeeTracer``).

    The buffer holds at most ``max_buffer`` records; when full, ``on_full`` drops the oldest
    (``"drop_oldest"``) or the new record (``"drop_newest"``). The traced code never waits.
    """

    def __init__(
        self,
        *,
        max_buffer: int = 10_000,
        on_full: OnFull = "drop_oldest",
        snapshot_interval: float | None = DEFAULT_SNAPSHOT_INTERVAL,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        if isinstance(max_buffer, bool) or not isinstance(max_buffer, int) or max_buffer < 1:
            raise ValueError(f"max_buffer must be a positive int, not {max_buffer!r}")
        if on_full not in _ON_FULL:
            raise ValueError(f"on_full must be one of {', '.join(_ON_FULL)}, not {on_full!r}")
        self._buffer: deque[Trace] = deque()
        self._max_buffer = max_buffer
        self._drop_oldest = on_full == "drop_oldest"
        self._ready = threading.Condition(threading.Lock())
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._closed = False
        self._dropped = 0
        self._delivered = 0
        super().__init__(
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )

    def persist(self, trace: Trace) -> None:
        """Buffer ``trace`` for the consumers (dropping one record when full); never waits."""
        with self._ready:
            if self._closed:
                return
            buffer = self._buffer
            if len(buffer) >= self._max_buffer:
                self._dropped += 1
                first = self._dropped == 1
                if not self._drop_oldest:
                    self._log_drop(first)
                    return
                buffer.popleft()
                self._log_drop(first)
            buffer.append(trace)
            self._ready.notify()
            waiters = list(self._waiters) if self._waiters else ()
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed; its consumer is gone
                self._waiters.discard((loop, event))

    def _log_drop(self, first: bool) -> None:
        if first:
            _log.warning(
                "IterableTracer buffer full (max_buffer=%d): dropping the %s record from now on "
                "(counted in stats['dropped']); consume faster or raise max_buffer",
                self._max_buffer,
                "oldest" if self._drop_oldest else "newest",
            )

    def get(self, timeout: float | None = None) -> Trace | None:
        """The next record, waiting at most ``timeout`` seconds (``None``: until one comes or
        the tracer is closed); ``None`` when none came in time or the tracer is closed and
        drained."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._buffer:
                if self._closed:
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._ready.wait(left)
            self._delivered += 1
            return self._buffer.popleft()

    def records(self, timeout: float | None = None) -> Iterator[Trace]:
        """Records as they come; stops when none came for ``timeout`` seconds (``None``: never)
        or once the tracer is closed and drained."""
        while (span := self.get(timeout)) is not None:
            yield span

    def __iter__(self) -> Iterator[Trace]:
        return self.records()

    async def __aiter__(self) -> AsyncIterator[Trace]:
        """Records as they come, until the tracer is closed and drained; the event loop keeps
        running while it waits."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._ready:
            self._waiters.add(waiter)
        try:
            while True:
                event.clear()
                span = self.get(timeout=0)
                if span is not None:
                    yield span
                    continue
                if self._closed:
                    return
                await event.wait()
        finally:
            with self._ready:
                self._waiters.discard(waiter)

    def close(self) -> None:
        """End the iteration once the buffered records are taken; later spans are discarded."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                continue

    def shutdown(self) -> None:
        """Close (see ``close``)."""
        self.close()

    @property
    def stats(self) -> dict[str, int]:
        """``persist_errors``, ``buffered`` (waiting for a consumer), ``delivered`` and
        ``dropped`` (buffer full), plus snapshot counts."""
        with self._ready:
            counts = {
                "buffered": len(self._buffer),
                "delivered": self._delivered,
                "dropped": self._dropped,
            }
        return {**super().stats, **counts}
