"""Tracers that write each span to a text stream: human-readable text or JSON lines."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from ._base import BaseTracer
from ._clock import Clock
from ._human_format import format_human
from ._ids import IdGenerator
from ._json_encode import SpanJsonEncoder
from ._redact import Redact
from ._sampling import Sampler
from ._span import Scope
from ._text import valid_text
from ._trace import Trace


class _StreamTracer(BaseTracer):
    """Writes one text record per span to ``stream`` (``sys.stdout`` at the time of writing when
    ``None``), as each span ends: children before parents."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        """Where records go."""
        return self._stream if self._stream is not None else sys.stdout

    def flush(self, timeout: float | None = None) -> bool:
        """Flush the stream."""
        self.stream.flush()
        return True


class HumanReadableTracer(_StreamTracer):
    """Writes each span as ``trace.as_human_readable()`` followed by a blank line.

    ANSI colours are used only when ``color`` is true, or, by default, when the stream is a
    terminal and the ``NO_COLOR`` environment variable is not set. With ``snapshot_interval``
    (seconds; off by default, so the output is one record per span as the notebook prints it) a
    span still open a moment after it opened is written as a snapshot too, its header starting
    with ``(open)``, and again every ``snapshot_interval`` seconds while it stays open.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        color: bool | None = None,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = None,
    ) -> None:
        super().__init__(
            stream,
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )
        # Decided once for a given stream; a default stream is re-checked, as it may be swapped.
        self._color = color if color is not None or stream is None else _wants_color(stream)

    def persist(self, trace: Trace) -> None:
        """Write the span's human-readable text and a blank line."""
        stream = self.stream
        color = self._color if self._color is not None else _wants_color(stream)
        text = format_human(trace, color=color)
        if not trace._end_ns:
            text = "(open) " + text
        # A lone surrogate in a value would make a UTF-8 stream refuse the whole record.
        stream.write(valid_text(text) + "\n")


class StructuredLogsTracer(_StreamTracer):
    """Writes each span as one line of strict JSON, in the notebook's log-record shape.

    With ``snapshot_interval`` (seconds; off by default) open spans are written too, as lines
    whose ``ended_at`` is ``null``; readers keep the ended line, else the latest such line.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = None,
    ) -> None:
        super().__init__(
            stream,
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )
        self._encoder = SpanJsonEncoder()

    def persist(self, trace: Trace) -> None:
        """Write the span as one JSON line."""
        self.stream.write(
            '{"logger":"TraceLogger","level":"INFO","message":"Trace","trace":'
            + self._encoder.encode(trace)
            + "}\n"
        )


def _wants_color(stream: TextIO) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    try:
        return stream.isatty()
    except Exception:  # noqa: BLE001 - closed or exotic streams: plain text is the safe choice
        return False
