"""Spans queued when a process ends: written at interpreter exit, in ``multiprocessing``
children started with ``fork`` (which leave through ``os._exit``), and on ``SIGTERM`` once
``flush_on_sigterm()`` is installed; exit waits at most the largest ``shutdown_timeout``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otlp.capture import CaptureServer

fork_only = pytest.mark.skipif(sys.platform == "win32", reason="needs the fork start method")


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


FORKED_CHILD = """
    import multiprocessing, sys
    {setup}

    def work():
        for i in range(100):
            with tracer.trace(f"child-{{i}}"):
                pass

    child = multiprocessing.get_context("fork").Process(target=work)
    child.start()
    child.join()
    print(child.exitcode)
"""


@fork_only
def test_spans_ended_in_a_forked_multiprocessing_child_are_stored(tmp_path: Path) -> None:
    """A fork-started child leaves through os._exit: its spans are flushed before that."""
    db_path = tmp_path / "traces.sqlite3"
    script = FORKED_CHILD.format(
        setup="from generative_ai_toolkit.tracer import SqliteTracer; "
        "tracer = SqliteTracer(sys.argv[1], schedule_delay=60)"
    )
    result = _run(script, str(db_path))
    assert ("0\n", "") == (result.stdout, result.stderr)
    with sqlite3.connect(db_path) as conn:
        assert (100,) == conn.execute("SELECT count(*) FROM spans").fetchone()


@fork_only
def test_spans_ended_in_a_forked_multiprocessing_child_reach_an_otlp_receiver() -> None:
    """The same for OtlpTracer: the child's 100 spans arrive."""
    with CaptureServer() as capture:
        script = FORKED_CHILD.format(
            setup="from generative_ai_toolkit.tracer.otlp import OtlpTracer; "
            "tracer = OtlpTracer(endpoint=sys.argv[1], schedule_delay=60)"
        )
        result = _run(script, capture.endpoint)
        assert ("0\n", "") == (result.stdout, result.stderr)
        assert 100 == len(capture.spans())
