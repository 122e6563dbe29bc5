"""``ExportLedger``: the counts of the export engine that its worker's ``Delivery`` keeps.

Every span accepted by the engine ends up counted once, ``written`` or ``dropped``; a span
already counted as dropped by a shutdown that gave up is never counted again.
"""

from __future__ import annotations

import threading

from ._droplog import DropLog


class ExportLedger:
    """The engine's counts of written, retried and dropped spans (``BackgroundExporter``)."""

    _counts_lock: threading.Lock
    _abandoned: bool
    _in_flight: int
    _written: int
    _retried: int
    _dropped: int
    _stalled: bool
    _drop_log: DropLog

    def count_written(self, count: int) -> None:
        """``count`` spans the worker holds were written."""
        with self._counts_lock:
            if self._abandoned:
                return  # already counted as dropped by shutdown
            self._in_flight -= count
            self._written += count
        self._stalled = False

    def count_retry(self) -> None:
        """One more retry attempt."""
        with self._counts_lock:
            self._retried += 1

    def give_up(self, count: int, cause: str, reason: str, error: Exception | None = None) -> None:
        """Drop ``count`` spans the worker holds (counted once: not if shutdown already did)."""
        with self._counts_lock:
            if self._abandoned:
                return
            self._in_flight -= count
            self._dropped += count
        detail = f"{cause}: {type(error).__qualname__}" if error is not None else cause
        self._drop_log.report(count, detail, reason, self._dropped, error=error)
