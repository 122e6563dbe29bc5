"""The library's warnings on the command line: one line each, each distinct one once.

Without ``-v`` the CLI shows what the library warns about (a DynamoDB table without its summary
indexes, a table it could not describe, a value it had to cut) as ``gat-traces: warning: ...``
on stderr, after the command's own output. A command that fails says so in one line and no
more: warnings held until then are dropped (they would only repeat the failure). Commands that
run until stopped (``serve``, ``tail``) show them as soon as they are running (``show_now``).
Errors are not shown here: a command reports its own failure. ``-v`` shows every log message
instead, as it happens.
"""

from __future__ import annotations

import logging
from typing import Final, TextIO

from ._sources import PROG

#: The library's logger, which the CLI's handler is installed on.
LIBRARY_LOGGER: Final = "generative_ai_toolkit.tracer"
#: The name of the CLI's handler on it (one at a time: ``main`` may run many times).
HANDLER_NAME: Final = "gat-traces"
#: Distinct warnings shown before the rest are left to ``-v``.
SHOWN: Final = 20


class WarningsOnce(logging.Handler):
    """Holds each distinct warning (its first line) until ``show_now``, then writes it to
    ``stream``, once; ``drop`` forgets those held."""

    def __init__(self, stream: TextIO, *, shown: int = SHOWN) -> None:
        super().__init__(logging.WARNING)
        self.addFilter(lambda record: record.levelno == logging.WARNING)
        self._stream = stream
        self._shown = shown
        self._seen: set[str] = set()
        self._held: list[str] | None = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = (record.getMessage().strip().splitlines() or [""])[0]
            if text in self._seen or len(self._seen) > self._shown:
                return
            self._seen.add(text)
            if len(self._seen) > self._shown:
                text = "more warnings not shown: run with -v to see every message"
            line = f"{PROG}: warning: {text}\n"
            if self._held is None:
                self._stream.write(line)
            else:
                self._held.append(line)
        except Exception:  # noqa: BLE001 - a bad log call or a closed stream must not stop the command
            self.handleError(record)

    def show_now(self) -> None:
        """Write the warnings held so far, and from now on each as it comes."""
        self.acquire()  # the handler's own lock, which ``emit`` runs under
        try:
            held, self._held = self._held or [], None
            for line in held:
                self._stream.write(line)
        finally:
            self.release()

    def drop(self) -> None:
        """Forget the warnings held so far (the command failed and said why)."""
        self.acquire()
        try:
            if self._held is not None:
                self._held.clear()
        finally:
            self.release()


def installed() -> WarningsOnce | None:
    """The CLI's warnings handler, when one is installed (not with ``-v``)."""
    for handler in logging.getLogger(LIBRARY_LOGGER).handlers:
        if handler.get_name() == HANDLER_NAME and isinstance(handler, WarningsOnce):
            return handler
    return None


def show_warnings_now() -> None:
    """For commands that run until stopped: show warnings from now on as they come."""
    handler = installed()
    if handler is not None:
        handler.show_now()
