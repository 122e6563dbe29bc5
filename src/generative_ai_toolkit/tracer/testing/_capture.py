"""``capture_spans``: record what existing tracers end inside a block, changing nothing they do."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .._base import Tracer
from .._trace import Trace
from ._spans import Spans

# Tracers being captured (by id; the hook holds the tracer, so the id cannot be reused meanwhile).
_hooks: dict[int, _PersistHook] = {}
_hooks_lock = threading.Lock()


class _PersistHook:
    """Wraps one tracer instance's ``persist``: the original runs first, unchanged, then the
    span goes to every capture open on the tracer."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        # An instance attribute to restore afterwards, if the tracer had one.
        self.own = getattr(tracer, "__dict__", {}).get("persist")
        self.original: Callable[[Trace], None] = tracer.persist
        # Replaced whole (copy-on-write), so threads ending spans never see a torn tuple.
        self.sinks: tuple[Spans, ...] = ()

    def persist(self, trace: Trace) -> None:
        try:
            self.original(trace)
        finally:
            # Recorded whether or not the tracer managed to keep it: the span did end. What the
            # original raised still reaches the tracer's own failure handling.
            for sink in self.sinks:
                sink._add(trace)

    def install(self) -> None:
        try:
            setattr(self.tracer, "persist", self.persist)  # noqa: B010 - mypy: assigning a method
        except AttributeError:
            raise TypeError(
                f"cannot capture the spans of {type(self.tracer).__name__}: its persist method "
                "cannot be wrapped (the instance has no __dict__)"
            ) from None

    def uninstall(self) -> None:
        if vars(self.tracer).get("persist") != self.persist:
            return  # someone wrapped it after us; theirs calls ours, so leave both in place
        if self.own is None:
            delattr(self.tracer, "persist")
        else:
            setattr(self.tracer, "persist", self.own)  # noqa: B010 - mypy: assigning a method


@contextmanager
def capture_spans(*tracers: Tracer) -> Iterator[Spans]:
    """Record every span that ``tracers`` end while the block runs, in any thread or task.

    ```python
    with capture_spans(app.tracer) as spans:
        app.handle(request)
    assert_no_errors(spans)
    ```

    Works with any tracer whose instance has a ``persist`` method (``SqliteTracer``,
    ``DynamoDbTracer``, ``OtlpTracer``, ``TeeTracer``, ``InMemoryTracer`` ...): for the block's
    duration, ``persist`` is wrapped on that instance so each ended span is also added to the
    yielded ``Spans``, after the tracer has handled it as always. Captures may nest and overlap,
    on the same tracers or others, from any thread; each records what ends while it is open. A
    span reaching one capture through several tracers (a ``TeeTracer`` and one of its tracers)
    is recorded once. Spans that end after the block are not recorded; the yielded ``Spans``
    does not change after it. Raises ``ValueError`` without tracers and ``TypeError`` for a
    tracer whose ``persist`` cannot be wrapped.
    """
    if not tracers:
        raise ValueError("capture_spans needs at least one tracer")
    spans = Spans()
    attached: list[_PersistHook] = []
    try:
        for tracer in tracers:
            attached.append(_attach(tracer, spans))
        yield spans
    finally:
        for hook in attached:
            _detach(hook, spans)
        spans._close()


def _attach(tracer: Tracer, sink: Spans) -> _PersistHook:
    with _hooks_lock:
        hook = _hooks.get(id(tracer))
        if hook is None:
            hook = _PersistHook(tracer)
            hook.install()
            _hooks[id(tracer)] = hook
        hook.sinks = (*hook.sinks, sink)
        return hook


def _detach(hook: _PersistHook, sink: Spans) -> None:
    with _hooks_lock:
        # By identity: two captures' Spans may well be equal (both empty, say).
        sinks = list(hook.sinks)
        del sinks[next(i for i, s in enumerate(sinks) if s is sink)]
        hook.sinks = tuple(sinks)
        if not sinks:
            del _hooks[id(hook.tracer)]
            hook.uninstall()
