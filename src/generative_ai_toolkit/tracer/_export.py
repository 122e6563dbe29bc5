"""The background export engine shared by every tracer that does I/O (DynamoDB, OTLP, SQLite).

The agent's thread only appends the ended span to a bounded queue. One daemon worker per
exporter drains it in batches and hands each batch to a ``SpanWriter``, retrying retryable
failures with exponential backoff and jitter until the batch is written or the queue
overflows. Nothing is lost silently: every span dropped (queue full, failed for good, still
queued at shutdown) is counted in ``stats`` and logged.

The design follows the OpenTelemetry SDK's ``BatchProcessor``: bounded deque, daemon thread,
flush markers, re-made after ``os.fork()``, flushed at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Final

from ._trace import Trace
from ._writer import BatchRejectedError, RetryableError, SpanWriter

_log = logging.getLogger("generative_ai_toolkit.tracer")


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_Item = Trace | _FlushMarker

#: Retries of one batch are logged at WARNING after this many attempts, then every _WARN_EVERY.
_WARN_AFTER: Final = 3
_WARN_EVERY: Final = 20

#: The default time the worker waits for a batch to fill before writing what it has.
DEFAULT_SCHEDULE_DELAY: Final = 0.5


class BackgroundExporter:
    """A bounded queue of ended spans, written in batches by a background worker.

    ``submit`` never blocks and never raises. ``flush`` waits until everything submitted before
    it was written (or given up on); ``shutdown`` flushes and stops the worker. Both also run at
    interpreter exit. After ``os.fork()`` the child gets an empty queue and a fresh worker (the
    parent still writes what it had queued).

    The worker starts with the first span and retires after ``idle_timeout`` seconds without
    any (closing the writer's connections), to start again with the next: a program that makes
    many short-lived tracers does not collect idle threads.
    """

    def __init__(
        self,
        writer: SpanWriter,
        *,
        name: str,
        max_queue_size: int = 20_000,
        max_batch_size: int = 500,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        initial_retry_delay: float = 0.05,
        max_retry_delay: float = 5.0,
        shutdown_timeout: float = 10.0,
        idle_timeout: float = 30.0,
    ) -> None:
        if max_queue_size < 1 or max_batch_size < 1:
            raise ValueError("max_queue_size and max_batch_size must be positive")
        if schedule_delay <= 0 or initial_retry_delay <= 0 or max_retry_delay < initial_retry_delay:
            raise ValueError("delays must be positive, and max_retry_delay >= initial_retry_delay")
        self._writer = writer
        self._name = name
        self._max_queue_size = max_queue_size
        self._max_batch_size = max_batch_size
        self._schedule_delay = schedule_delay
        self._initial_retry_delay = initial_retry_delay
        self._max_retry_delay = max_retry_delay
        self._shutdown_timeout = shutdown_timeout
        self._idle_timeout = idle_timeout
        self._counts_lock = threading.Lock()
        self._reset_state()
        _EXPORTERS.add(self)

    def _reset_state(self) -> None:
        self._queue: deque[_Item] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._shut_down = False
        self._deadline: float | None = None
        self._dequeued = 0
        self._written = 0
        self._retried = 0
        self._dropped = 0
        self._overflow_unlogged = 0
        self._markers = 0  # flush markers in the queue: not spans, so not in the counts

    def __repr__(self) -> str:
        return f"BackgroundExporter({self._name})"

    # -- the agent's side ----------------------------------------------------------------------

    def submit(self, span: Trace) -> None:
        """Queue ``span`` for writing; drops it (counted, logged) when the queue is full."""
        queue = self._queue
        if len(queue) >= self._max_queue_size:
            self._overflow()
            return
        if self._shut_down:
            self._drop(1, "submitted after shutdown")
            return
        queue.append(span)
        if self._thread is None:
            self._start()
        if len(queue) >= self._max_batch_size and not self._wake.is_set():
            self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Write out every span submitted so far; returns whether that finished within
        ``timeout`` seconds (``None``: wait as long as it takes)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            if not self._queue:
                return True
            if self._shut_down:
                return False
            self._start()  # spans queued while the worker was retiring
        marker = _FlushMarker()
        with self._counts_lock:
            self._markers += 1
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush for at most ``timeout`` seconds (default: the ``shutdown_timeout`` option),
        then stop the worker. Spans not written by then are counted as dropped. Idempotent."""
        if self._shut_down:
            return
        timeout = self._shutdown_timeout if timeout is None else timeout
        self._deadline = time.monotonic() + timeout
        if self._queue:
            self._start()  # the worker may have retired just as these spans came
        self._shut_down = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._stopping.set()
            self._wake.set()
            thread.join(timeout + 1.0)
        else:
            self._close_writer()
        leftover = sum(1 for item in self._queue if isinstance(item, Trace))
        if leftover:
            self._queue.clear()
            self._drop(leftover, "still queued at shutdown")
        _EXPORTERS.discard(self)

    @property
    def stats(self) -> dict[str, int]:
        """``queued`` (accepted so far), ``written``, ``retried`` (retry attempts), ``dropped``
        (queue full, failed for good or left at shutdown) and ``pending`` (in the queue now)."""
        pending = len(self._queue) - self._markers
        return {
            "queued": self._dequeued + pending,
            "written": self._written,
            "retried": self._retried,
            "dropped": self._dropped,
            "pending": pending,
        }

    def _drop(self, count: int, reason: str) -> None:
        with self._counts_lock:
            self._dropped += count
            total = self._dropped
        _log.warning("%s dropped %d span(s) (%s); %d dropped so far", self, count, reason, total)

    def _overflow(self) -> None:
        # Overflow hits the agent's thread span after span while the sink is slow or down, so
        # only the first is logged here; the worker logs the rest in summary lines.
        with self._counts_lock:
            self._dropped += 1
            self._overflow_unlogged += 1
            first = self._dropped == 1
        if first:
            self._log_overflow()

    def _log_overflow(self) -> None:
        with self._counts_lock:
            count, self._overflow_unlogged = self._overflow_unlogged, 0
            total = self._dropped
        if count:
            _log.warning(
                "%s dropped %d span(s) (the export queue of %d is full); %d dropped so far",
                self,
                count,
                self._max_queue_size,
                total,
            )

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            thread = threading.Thread(
                target=self._run, name=f"span-export-{self._name}", daemon=True
            )
            thread.start()
            self._thread = thread

    # -- the worker's side ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._work():
                # Retired while idle. A span submitted as this thread was retiring may have seen
                # it still alive and started nothing: start a successor for it.
                if self._queue and not self._shut_down:
                    self._start()
                return
        except Exception:  # noqa: BLE001 - the worker must report, not die silently
            _log.exception("%s worker failed; the next span starts a new one", self)
            with self._start_lock:
                if self._thread is threading.current_thread():
                    self._thread = None
        self._close_writer()

    def _work(self) -> bool:
        """Drain until stopped (``False``) or idle for ``idle_timeout`` (``True``, retired)."""
        idle_since = time.monotonic()
        while True:
            self._wake.wait(self._schedule_delay)
            self._wake.clear()
            if self._queue:
                self._drain()
                idle_since = time.monotonic()
            self._log_overflow()
            if self._stopping.is_set():
                return False
            if time.monotonic() - idle_since >= self._idle_timeout and self._retire():
                return True

    def _retire(self) -> bool:
        with self._start_lock:
            if self._queue or self._stopping.is_set():
                return False
            # Closed before giving up the slot, so a successor never shares a closing writer;
            # writers reopen their connections on the next write.
            self._close_writer()
            self._thread = None
        return True

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch: list[Trace] = []
            markers: list[_FlushMarker] = []
            while queue and len(batch) < self._max_batch_size:
                item = queue.popleft()
                if isinstance(item, _FlushMarker):
                    markers.append(item)
                    with self._counts_lock:
                        self._markers -= 1
                    break
                batch.append(item)
            self._dequeued += len(batch)
            if batch:
                self._write_with_retry(batch)
            if markers:
                self._log_overflow()  # so every drop before a flush is logged when it returns
            for marker in markers:
                marker.done.set()

    def _write_with_retry(self, batch: Sequence[Trace]) -> None:
        attempt = 0
        while True:
            try:
                self._writer.write(batch)
            except RetryableError as exc:
                remaining = exc.remaining if exc.remaining is not None else batch
                self._count_written(len(batch) - len(remaining))
                batch = remaining
                if not batch:
                    return
                delay = self._retry_delay(attempt, exc.retry_after)
                if self._past_deadline(delay):
                    self._drop(len(batch), f"not written before shutdown: {exc}")
                    return
                with self._counts_lock:
                    self._retried += 1
                # A blip is routine (INFO); a sink that keeps failing must be visible long before
                # the queue overflows, so say so at WARNING now and then.
                level = logging.WARNING if attempt % _WARN_EVERY == _WARN_AFTER else logging.INFO
                _log.log(
                    level,
                    "%s: retrying %d span(s) in %.2fs (attempt %d): %s",
                    self,
                    len(batch),
                    delay,
                    attempt + 1,
                    exc,
                )
                self._log_overflow()
                if self._stopping.is_set():
                    time.sleep(delay)  # shutting down: the deadline above bounds the waiting
                else:
                    self._stopping.wait(delay)
                attempt += 1
            except BatchRejectedError as exc:
                # Not about these spans (a wrong URL, bad credentials): halving would only
                # repeat the same refusal for every span, so the batch goes in one log line.
                self._drop(len(batch), f"rejected by the sink: {exc}")
                return
            except Exception as exc:  # noqa: BLE001 - a writer bug or a poison span: isolate it
                error = exc
                break
            else:
                self._count_written(len(batch))
                return
        # Outside the except block, so split retries do not chain tracebacks.
        self._split_or_fail(batch, error)

    def _split_or_fail(self, batch: Sequence[Trace], error: Exception) -> None:
        if len(batch) == 1:
            _log.error("%s could not write span %r", self, batch[0].span_name, exc_info=error)
            self._drop(1, f"failed for good: span {batch[0].span_name!r}")
            return
        # Halve until the span that cannot be written is alone, so it never sinks its neighbours.
        middle = len(batch) // 2
        self._write_with_retry(batch[:middle])
        self._write_with_retry(batch[middle:])

    def _count_written(self, count: int) -> None:
        if count:
            with self._counts_lock:
                self._written += count

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self._max_retry_delay * 4)
        base = min(self._max_retry_delay, self._initial_retry_delay * (1 << min(attempt, 30)))
        return base * random.uniform(0.5, 1.0)

    def _past_deadline(self, delay: float) -> bool:
        deadline = self._deadline
        return deadline is not None and time.monotonic() + delay > deadline

    def _close_writer(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001
            _log.exception("%s: closing the writer failed", self)

    # -- process life --------------------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        # The parent keeps and writes what it had queued; the child starts empty, with new
        # locks (they may have been held at fork time) and a worker started on first submit.
        self._counts_lock = threading.Lock()
        self._reset_state()


_EXPORTERS: weakref.WeakSet[BackgroundExporter] = weakref.WeakSet()


def _shutdown_all() -> None:
    for exporter in list(_EXPORTERS):
        exporter.shutdown()


def _reinit_all_after_fork() -> None:
    for exporter in list(_EXPORTERS):
        exporter._after_fork_in_child()


atexit.register(_shutdown_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_all_after_fork)
