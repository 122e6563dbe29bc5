"""``DropLog``: the export engine's log of dropped spans, one line per cause per interval.

A sink that refuses every span, or a program that keeps ending spans after shutdown, would
otherwise log one line (and a traceback) per span. The first drop of a cause is logged at once;
further drops of the same cause within ``interval`` seconds are summed into one summary line,
written when the next drop of that cause comes after the interval, or at ``flush()``.

Overflow (the queue full) hits the agent's thread span after span while the sink is slow or
down: the first is logged at once, the rest in summary lines the worker writes
(``log_overflow``) after each batch and before a flush returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_log = logging.getLogger("generative_ai_toolkit.tracer")


@dataclass(slots=True)
class _Held:
    count: int
    reason: str
    since: float


class DropLog:
    """Logs drops for ``owner`` at WARNING, rate-limited per cause (thread-safe)."""

    def __init__(
        self,
        owner: object,
        *,
        interval: float,
        queue_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._owner = owner
        self._queue_size = queue_size
        self._overflow_unlogged = 0
        self._overflowed = False
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}
        self._held: dict[str, _Held] = {}

    def report(
        self,
        count: int,
        cause: str,
        reason: str,
        total: int,
        *,
        error: BaseException | None = None,
    ) -> None:
        """Log ``count`` spans dropped for ``reason`` (``total`` dropped so far), unless ``cause``
        was logged less than ``interval`` seconds ago: then the count waits for a summary line.
        ``error`` adds its traceback to the line."""
        now = self._clock()
        with self._lock:
            last = self._last_logged.get(cause)
            if last is not None and now - last < self._interval:
                held = self._held.get(cause)
                if held is None:
                    self._held[cause] = _Held(count, reason, last)
                else:
                    held.count += count
                    held.reason = reason
                return
            self._last_logged[cause] = now
            held = self._held.pop(cause, None)
        if held is not None:
            self._log_summary(held, now, total - count)
        _log.warning(
            "%s dropped %d span(s) (%s); %d dropped so far",
            self._owner,
            count,
            reason,
            total,
            exc_info=error,
        )

    def flush(self, total: int, *, everything: bool = False) -> None:
        """Write the summary lines whose interval is over (``everything``: all of them)."""
        now = self._clock()
        with self._lock:
            due = [
                (cause, held)
                for cause, held in self._held.items()
                if everything or now - held.since >= self._interval
            ]
            for cause, _ in due:
                del self._held[cause]
                self._last_logged[cause] = now
        for _, held in due:
            self._log_summary(held, now, total)

    def overflow(self, total: int) -> None:
        """One span dropped because the queue is full; only the first is logged now."""
        with self._lock:
            self._overflow_unlogged += 1
            first, self._overflowed = not self._overflowed, True
        if first:
            self.log_overflow(total)

    def log_overflow(self, total: int) -> None:
        """Log the overflow drops not logged yet, in one line."""
        with self._lock:
            count, self._overflow_unlogged = self._overflow_unlogged, 0
        if count:
            _log.warning(
                "%s dropped %d span(s) (the export queue of %d is full); %d dropped so far",
                self._owner,
                count,
                self._queue_size,
                total,
            )

    def _log_summary(self, held: _Held, now: float, total: int) -> None:
        _log.warning(
            "%s dropped %d more span(s) in the last %.0fs (%s); %d dropped so far",
            self._owner,
            held.count,
            max(now - held.since, 0.0),
            held.reason,
            total,
        )
