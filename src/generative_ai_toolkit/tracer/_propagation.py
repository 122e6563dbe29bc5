"""Carrying the current span into other threads.

Spans nest through ``contextvars``: asyncio tasks inherit the context they were created in, but
a new thread or a thread-pool worker starts from an empty one. These helpers run work in a copy
of the submitting thread's context, so spans opened there become children of the span that was
current at submission.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def with_current_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind ``fn`` to the current context: wherever it is called, it runs with the spans
    that are current now.

    Each call runs in its own copy, so the result can be called from many threads at once::

        with tracer.trace("fan-out"):
            threading.Thread(target=with_current_context(work)).start()
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run


class ContextPropagatingExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in the context of the code that submitted them.

    ``executor.submit(fn)`` and ``executor.map(fn, ...)`` inside a span make spans opened by
    ``fn`` children of that span.
    """

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)`` to run in a copy of the current context."""
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
