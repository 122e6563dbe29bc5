"""What the library warns about reaches the command line: one line each, each once."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from generative_ai_toolkit.tracer.cli._warnings import WarningsOnce


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("generative_ai_toolkit.tracer.test_warnings")
    log.propagate = False
    yield log
    log.handlers.clear()


def test_each_warning_is_one_line_shown_once_and_errors_are_left_to_the_command(
    logger: logging.Logger,
) -> None:
    stream = io.StringIO()
    handler = WarningsOnce(stream, shown=2)
    logger.addHandler(handler)
    logger.warning("table %r has no summary indexes\nrun migrate", "T")
    logger.warning("table %r has no summary indexes\nrun migrate", "T")
    logger.error("the command says this itself")
    logger.info("retrying")
    logger.warning("a value was cut")
    logger.warning("a third")
    logger.warning("a fourth")
    assert "" == stream.getvalue()  # held until the command has done its work
    handler.show_now()
    assert [
        "gat-traces: warning: table 'T' has no summary indexes",
        "gat-traces: warning: a value was cut",
        "gat-traces: warning: more warnings not shown: run with -v to see every message",
    ] == stream.getvalue().splitlines()


def test_warnings_held_by_a_command_that_fails_are_dropped(logger: logging.Logger) -> None:
    """The failure is said in one line; the warnings before it would only repeat it."""
    stream = io.StringIO()
    handler = WarningsOnce(stream)
    logger.addHandler(handler)
    logger.warning("could not describe the table: not checked")
    handler.drop()
    handler.show_now()
    assert "" == stream.getvalue()


def test_once_running_a_command_shows_each_warning_as_it_comes(logger: logging.Logger) -> None:
    """``serve`` and ``tail`` run until stopped: warnings cannot wait for the end."""
    stream = io.StringIO()
    handler = WarningsOnce(stream)
    logger.addHandler(handler)
    handler.show_now()
    logger.warning("table has no summary indexes")
    assert "gat-traces: warning: table has no summary indexes\n" == stream.getvalue()
