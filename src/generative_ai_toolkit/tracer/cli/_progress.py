"""A one-line progress indicator for long imports and exports, shown only on a terminal."""

from __future__ import annotations

import time
from typing import IO, Any, TextIO


class Progress:
    """A one-line progress indicator on ``stream``, shown only when it is a terminal."""

    def __init__(self, label: str, total: int | None, stream: TextIO) -> None:
        self._label = label
        self._total = total
        self._stream = stream
        self._on = isatty(stream)
        self._done = 0
        self._count = 0
        self._shown = 0.0

    def advance(self, amount: int = 1, *, items: int = 0) -> None:
        self._done += amount
        self._count += items
        now = time.monotonic()
        if self._on and now - self._shown > 0.1:
            self._shown = now
            self._draw()

    def item(self) -> None:
        self._count += 1

    def _draw(self) -> None:
        if self._total:
            fraction = min(1.0, self._done / self._total)
            bar = "#" * int(fraction * 30)
            text = f"\r{self._label} [{bar:<30}] {fraction:4.0%} {self._count} spans"
        else:
            text = f"\r{self._label} {self._count} spans"
        self._stream.write(text)
        self._stream.flush()

    def finish(self) -> None:
        if self._on:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()


def isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
