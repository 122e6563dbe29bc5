"""Process life of the export engines: the flush at interpreter exit, after ``os.fork()``, in
``multiprocessing`` children, and (opt-in) on ``SIGTERM``.

Every live ``BackgroundExporter`` registers here. At interpreter exit they all shut down at
once, sharing one deadline: the largest ``shutdown_timeout`` among them, so exit waits at most
that long however many tracers there are. A ``multiprocessing`` child started with ``fork``
leaves through ``os._exit`` (no ``atexit``); the same shutdown then runs from
``multiprocessing``'s own exit finalizers. ``SIGTERM`` ends a process without any of this
unless ``flush_on_sigterm()`` installed its handler.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
import weakref
from types import FrameType
from typing import Final, Protocol


class _FlushRequest(Protocol):
    def wait(self, timeout: float | None) -> bool: ...


class Exporter(Protocol):
    """What the process hooks need from an exporter (``BackgroundExporter``)."""

    shutdown_timeout: float

    def begin_shutdown(self, deadline: float) -> bool: ...

    def finish_shutdown(self, deadline: float) -> None: ...

    def request_flush(self) -> _FlushRequest: ...

    def reset_after_fork(self) -> None: ...


_EXPORTERS: weakref.WeakSet[Exporter] = weakref.WeakSet()

#: ``multiprocessing`` runs finalizers of this priority or more before it joins children.
_EXIT_PRIORITY: Final = 0


def register(exporter: Exporter) -> None:
    """Shut ``exporter`` down with the others at exit (it is held weakly)."""
    _EXPORTERS.add(exporter)


def unregister(exporter: Exporter) -> None:
    """Forget ``exporter`` (it was shut down)."""
    _EXPORTERS.discard(exporter)


def _deadline(exporters: list[Exporter]) -> float:
    longest = max((e.shutdown_timeout for e in exporters), default=0.0)
    return time.monotonic() + max(longest, 0.0)


def shutdown_all() -> None:
    """Shut every live exporter down at once, all within the largest ``shutdown_timeout``."""
    exporters = list(_EXPORTERS)
    deadline = _deadline(exporters)
    started = [e for e in exporters if e.begin_shutdown(deadline)]
    for exporter in started:
        exporter.finish_shutdown(deadline)


def flush_all() -> bool:
    """Flush every live exporter at once, waiting at most the largest ``shutdown_timeout``;
    whether all finished in time."""
    exporters = list(_EXPORTERS)
    deadline = _deadline(exporters)
    requests = [e.request_flush() for e in exporters]
    finished = True
    for request in requests:  # every one waited for, even after one ran out of time
        finished = request.wait(max(deadline - time.monotonic(), 0.0)) and finished
    return finished


# -- fork and multiprocessing ---------------------------------------------------------------


class _Hook:
    """A weakly referenceable key for ``multiprocessing.util.register_after_fork``."""


_HOOK: Final = _Hook()
_hooked_multiprocessing = False


def _reset_all_after_fork() -> None:
    for exporter in list(_EXPORTERS):
        exporter.reset_after_fork()


def _before_fork() -> None:
    # Hooked only once multiprocessing is in use, so importing the tracer does not import it.
    global _hooked_multiprocessing
    if _hooked_multiprocessing or "multiprocessing.util" not in sys.modules:
        return
    from multiprocessing import util  # noqa: PLC0415

    util.register_after_fork(_HOOK, _shutdown_at_multiprocessing_exit)
    _hooked_multiprocessing = True


def _shutdown_at_multiprocessing_exit(_: object) -> None:
    # Runs in a forked multiprocessing child once its finalizer registry was cleared: the
    # child ends in os._exit, after multiprocessing's exit finalizers but without atexit.
    from multiprocessing import util  # noqa: PLC0415

    util.Finalize(None, shutdown_all, exitpriority=_EXIT_PRIORITY)


atexit.register(shutdown_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_reset_all_after_fork)


# -- SIGTERM ----------------------------------------------------------------------------------


def flush_on_sigterm() -> None:
    """Install a ``SIGTERM`` handler that flushes every tracer, then does what ``SIGTERM`` did
    before: calls the previous Python handler, or ends the process by the signal (default).

    The flush waits at most the largest ``shutdown_timeout`` of the live tracers. Without this,
    ``SIGTERM`` ends the process at once and the spans still queued are lost. Call it from the
    main thread (a rule of ``signal.signal``); calling it again adds nothing.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if getattr(previous, "_flushes_tracers", False):
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        # On a thread of its own: the interrupted main thread may hold a lock the flush needs.
        flusher = threading.Thread(target=flush_all, name="span-flush-on-sigterm", daemon=True)
        flusher.start()
        flusher.join(max((e.shutdown_timeout for e in list(_EXPORTERS)), default=0.0))
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    handler._flushes_tracers = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, handler)
