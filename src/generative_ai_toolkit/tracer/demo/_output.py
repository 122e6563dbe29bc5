"""The demo's standard output, made safe to pipe into ``head``."""

from __future__ import annotations

import io
import os
from typing import TextIO


class PipeSafeOutput(io.TextIOBase):
    """Writes to ``stream`` until its reader goes away, then discards quietly.

    ``scripts/demo | head`` closes the pipe early; the demo must still record every conversation
    and exit 0 without a ``BrokenPipeError`` traceback.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._broke()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._broke()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def _broke(self) -> None:
        self.broken = True
        # What is still buffered would fail again when Python flushes at exit: send it nowhere.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
