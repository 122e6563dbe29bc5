"""The background export engine shared by every tracer that does I/O (DynamoDB, OTLP, SQLite).

The agent's thread only appends the ended span to a bounded queue (or, with
``on_queue_full="block"``, waits a bounded time for room). One daemon worker per exporter
drains it in batches and hands each batch to a ``Delivery`` (retry, isolation, refusal).
Nothing is lost silently: every span accepted ends up counted once, ``written`` or
``dropped``, and every drop is logged, once per cause per interval (``DropLog``).

The design follows the OpenTelemetry SDK's ``BatchProcessor``: bounded deque, daemon thread,
flush markers, re-made after ``os.fork()``, flushed at interpreter exit (``_exit``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Final

from . import _exit
from ._delivery import Delivery
from ._droplog import DropLog
from ._ledger import ExportLedger
from ._spanqueue import FlushMarker, QueueFullPolicy, SpanQueue, take_all, take_batch
from ._trace import Trace
from ._writer import SpanWriter

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: The default time the worker waits for a batch to fill before writing what it has.
DEFAULT_SCHEDULE_DELAY: Final = 0.5


class BackgroundExporter(ExportLedger):
    """A bounded queue of ended spans, written in batches by a background worker.

    ``submit`` never raises. When the queue is full it drops the span (``on_queue_full="drop"``)
    or waits up to ``block_timeout`` seconds for room, then drops (``"block"``; never on the
    worker's own thread or after shutdown, and not again until a write succeeds once a wait
    ran out). ``flush`` waits until everything submitted before it was written (or given up
    on); ``shutdown`` flushes and stops the worker. Both also run at interpreter exit. After
    ``os.fork()`` the child gets an empty queue and a fresh worker (the parent still writes
    what it had queued).

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
        on_queue_full: QueueFullPolicy = "drop",
        block_timeout: float = 5.0,
        log_interval: float = 60.0,
    ) -> None:
        if max_queue_size < 1 or max_batch_size < 1:
            raise ValueError("max_queue_size and max_batch_size must be positive")
        if schedule_delay <= 0 or initial_retry_delay <= 0 or max_retry_delay < initial_retry_delay:
            raise ValueError("delays must be positive, and max_retry_delay >= initial_retry_delay")
        if on_queue_full not in ("drop", "block"):
            raise ValueError(f"on_queue_full must be 'drop' or 'block', not {on_queue_full!r}")
        if block_timeout < 0 or shutdown_timeout < 0 or log_interval < 0:
            raise ValueError("timeouts and log_interval must not be negative")
        self._writer = writer
        self._name = name
        self._max_queue_size = max_queue_size
        self._max_batch_size = max_batch_size
        self._schedule_delay = schedule_delay
        self._initial_retry_delay = initial_retry_delay
        self._max_retry_delay = max_retry_delay
        self.shutdown_timeout = shutdown_timeout  # read by _exit
        self._idle_timeout = idle_timeout
        self._block = on_queue_full == "block"
        self._block_timeout = block_timeout
        self._log_interval = log_interval
        self._reset_state()
        _exit.register(self)

    def _reset_state(self) -> None:
        self._counts_lock = threading.Lock()
        self._queue: SpanQueue = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._room = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._shut_down = False  # shutdown began: no more spans accepted
        self._stopped = False  # shutdown ended: nothing more is written or counted
        self._abandoned = False  # shutdown gave up on a worker still busy writing
        self._deadline: float | None = None
        self._dequeued = 0
        self._in_flight = 0  # taken from the queue by the worker, neither written nor dropped
        self._held_markers: list[FlushMarker] = []
        self._written = 0
        self._retried = 0
        self._dropped = 0
        self._markers = 0  # flush markers in the queue: not spans, so not in the counts
        self._waiting = 0  # callers blocked for room in the queue
        self._stalled = False  # a blocked caller ran out of time: drop until a write succeeds
        self._drop_log = DropLog(self, interval=self._log_interval, queue_size=self._max_queue_size)
        self._delivery = Delivery(
            self._writer,
            self,
            initial_retry_delay=self._initial_retry_delay,
            max_retry_delay=self._max_retry_delay,
            stopping=self._stopping,
            deadline=lambda: self._deadline,
            on_retry=lambda: self._drop_log.log_overflow(self._dropped),
        )

    def __repr__(self) -> str:
        return f"BackgroundExporter({self._name})"

    # -- the agent's side ----------------------------------------------------------------------

    def submit(self, span: Trace) -> None:
        """Queue ``span`` for writing; when the queue is full, drop it (counted, logged) or,
        with ``on_queue_full="block"``, first wait for room."""
        queue = self._queue
        if len(queue) >= self._max_queue_size:
            self._full(span)
            return
        if self._shut_down:
            self._drop(1, "after shutdown", "submitted after shutdown")
            return
        queue.append(span)
        if self._thread is None:
            self._start()
        if len(queue) >= self._max_batch_size and not self._wake.is_set():
            self._wake.set()

    def offer(self, snapshot: Trace) -> None:
        """Queue a snapshot of an open span, never waiting: a full queue drops it (counted,
        logged once per cause); the worker is woken so live views see it soon."""
        if len(self._queue) >= self._max_queue_size or self._shut_down:
            self._drop(1, "snapshot", "snapshot not queued: queue full or shut down")
            return
        self._queue.append(snapshot)
        if self._thread is None:
            self._start()
        self._wake.set()

    def _full(self, span: Trace) -> None:
        if (
            self._block
            and not self._stalled
            and not self._shut_down
            and threading.current_thread() is not self._thread  # the worker would wait on itself
            and self._wait_for_room(span)
        ):
            return
        if self._shut_down:
            self._drop(1, "after shutdown", "submitted after shutdown")
        else:
            self._overflow()

    def _wait_for_room(self, span: Trace) -> bool:
        deadline = time.monotonic() + self._block_timeout
        queue = self._queue
        with self._room:
            self._waiting += 1
            try:
                while len(queue) >= self._max_queue_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._shut_down:
                        self._stalled = True
                        return False
                    if self._thread is None:
                        self._start()
                    self._wake.set()
                    # Woken by the worker taking a batch; the cap re-checks a worker that died.
                    self._room.wait(min(remaining, 0.1))
                queue.append(span)
                return True
            finally:
                self._waiting -= 1

    def request_flush(self) -> FlushMarker:
        """Ask the worker to report when every span submitted so far is written or given up
        on; ``wait(timeout)`` on the answer says whether that happened in time."""
        marker = FlushMarker()
        if self._stopped:
            marker.release(reached=not self._abandoned and not self._queue)
            return marker
        thread = self._thread
        if thread is None or not thread.is_alive():
            if not self._queue:
                marker.release(reached=True)
                return marker
            if not self._shut_down:
                self._start()  # spans queued while the worker was retiring
        with self._counts_lock:
            self._markers += 1
        self._queue.append(marker)
        self._wake.set()
        if self._stopped:
            # Shutdown ended as the marker went in: it took it out (and let it go), or nobody
            # ever will. Either way there is nothing to wait for.
            marker.release(reached=marker.reached)
        return marker

    def flush(self, timeout: float | None = None) -> bool:
        """Write out every span submitted so far; returns whether that finished within
        ``timeout`` seconds (``None``: wait as long as it takes). After ``shutdown`` it returns
        at once: whether shutdown wrote everything."""
        return self.request_flush().wait(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush for at most ``timeout`` seconds (default: the ``shutdown_timeout`` option),
        then stop the worker. Spans not written by then (queued, or held by a worker still
        busy writing) are counted as dropped. Idempotent."""
        timeout = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if self.begin_shutdown(deadline):
            self.finish_shutdown(deadline)

    def begin_shutdown(self, deadline: float) -> bool:
        """Stop accepting spans and tell the worker to finish by ``deadline`` (monotonic);
        ``False`` when shutdown had begun already."""
        if self._shut_down:
            return False
        # The worker stops retrying a little early, to be done when the caller stops waiting.
        self._deadline = deadline - min(0.25, 0.1 * max(deadline - time.monotonic(), 0.0))
        if self._queue:
            self._start()  # the worker may have retired just as these spans came
        self._shut_down = True
        with self._room:
            self._room.notify_all()  # callers waiting for room drop their span now
        self._stopping.set()
        self._wake.set()
        return True

    def finish_shutdown(self, deadline: float) -> None:
        """Wait for the worker until ``deadline``, then count whatever is not written."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(max(deadline - time.monotonic(), 0.0))
        else:
            self._close_writer()
        if thread is not None and thread.is_alive():
            # Stuck in a write: what it holds is dropped now, and nothing it does later counts.
            with self._counts_lock:
                self._abandoned = True
            self._drop_held("still being written when shutdown gave up")
        self._stopped = True  # before emptying the queue: see request_flush
        leftover, markers = take_all(self._queue)
        with self._counts_lock:
            self._markers -= len(markers)
        for marker in markers:
            marker.release(reached=False)
        if leftover:
            with self._counts_lock:
                self._dequeued += leftover
            self._drop(leftover, "left", "still queued at shutdown")
        self._drop_log.log_overflow(self._dropped)
        self._drop_log.flush(self._dropped, everything=True)
        _exit.unregister(self)

    @property
    def stats(self) -> dict[str, int]:
        """``queued`` (accepted so far), ``written``, ``retried`` (retry attempts), ``dropped``
        (queue full, refused, failed for good or not written by shutdown) and ``pending``
        (accepted, neither written nor dropped yet: queued or being written)."""
        with self._counts_lock:
            waiting = len(self._queue) - self._markers
            in_flight = self._in_flight
            dequeued = self._dequeued
        return {
            "queued": dequeued + waiting,
            "written": self._written,
            "retried": self._retried,
            "dropped": self._dropped,
            "pending": waiting + in_flight,
        }

    def _drop_held(self, reason: str) -> None:
        """Count what the worker holds as dropped and let the flushes it holds go."""
        with self._counts_lock:
            held, self._in_flight = self._in_flight, 0
            self._dropped += held
        for marker in self._held_markers:
            marker.release(reached=False)
        if held:
            self._report(held, "lost", reason)

    def _drop(self, count: int, cause: str, reason: str) -> None:
        with self._counts_lock:
            self._dropped += count
        self._report(count, cause, reason)

    def _report(self, count: int, cause: str, reason: str, error: Exception | None = None) -> None:
        self._drop_log.report(count, cause, reason, self._dropped, error=error)

    def _overflow(self) -> None:
        with self._counts_lock:
            self._dropped += 1
        self._drop_log.overflow(self._dropped)  # only the first now; the rest in summary lines

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
            self._close_writer()  # before a successor may start, as in _retire
            with self._start_lock:
                if self._thread is threading.current_thread():
                    self._thread = None
            self._drop_held("held by the worker that failed")  # flushes see no worker now
            return
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
            self._drop_log.log_overflow(self._dropped)
            self._drop_log.flush(self._dropped)
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
        while queue and not self._abandoned:
            batch, markers = take_batch(queue, self._max_batch_size)
            self._held_markers = markers
            with self._counts_lock:
                self._markers -= len(markers)
                self._dequeued += len(batch)
                taken = not self._abandoned
                if taken:
                    self._in_flight += len(batch)
                else:
                    self._dropped += len(batch)  # shutdown gave up before they were taken
            if self._waiting:
                with self._room:
                    self._room.notify_all()
            if batch and taken:
                self._delivery.export(batch)
            elif batch:
                self._report(len(batch), "left", "still queued at shutdown")
            if markers:
                # So every drop before a flush is logged when it returns.
                self._drop_log.log_overflow(self._dropped)
            for marker in markers:
                marker.release(reached=not self._abandoned)
            self._held_markers = []

    def _close_writer(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001
            _log.exception("%s: closing the writer failed", self)

    # -- process life --------------------------------------------------------------------------

    def reset_after_fork(self) -> None:
        """In a forked child: start empty, with new locks (they may have been held at fork
        time) and a worker started on first submit. The parent keeps and writes its queue."""
        self._reset_state()
