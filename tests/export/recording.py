"""A recording ``SpanWriter`` and ended spans for the export engine's tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from generative_ai_toolkit.tracer import InMemoryTracer, Trace


class RecordingWriter:
    """A SpanWriter that keeps what it is given; ``fail`` may raise for a batch. ``entered`` is
    set once a write has begun; closing ``gate`` holds writes there (a hung sink)."""

    def __init__(self, fail: Callable[[int, Sequence[Trace]], None] | None = None) -> None:
        self.written: list[str] = []
        self.calls = 0
        self.closed = 0
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self._fail = fail

    def write(self, batch: Sequence[Trace]) -> None:
        self.entered.set()
        self.gate.wait()
        self.calls += 1
        if self._fail is not None:
            self._fail(self.calls, batch)
        self.written.extend(span.span_name for span in batch)

    def close(self) -> None:
        self.closed += 1


def ended_spans(count: int, prefix: str = "s") -> list[Trace]:
    """``count`` ended spans named ``{prefix}0``, ``{prefix}1`` ..."""
    tracer = InMemoryTracer(memory_size=max(count, 1))
    for i in range(count):
        with tracer.trace(f"{prefix}{i}"):
            pass
    return list(tracer.get_traces())
