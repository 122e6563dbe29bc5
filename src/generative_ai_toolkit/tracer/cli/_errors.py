"""What every part of the command line reports failures with."""

from __future__ import annotations

from typing import Final

PROG: Final = "gat-traces"


class CliError(Exception):
    """A failure to report as one line, exit status 1."""


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (its type's name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
