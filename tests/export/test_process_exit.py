"""Spans queued when a process ends: written at interpreter exit, in ``multiprocessing``
children started with ``fork`` (which leave through ``os._exit``), and on ``SIGTERM`` once
``flush_on_sigterm()`` is installed; exit waits at most the largest ``shutdown_timeout``."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path
from typing import Any

import pytest

from export.recording import RecordingWriter, ended_spans
from generative_ai_toolkit.tracer import _exit
from generative_ai_toolkit.tracer._export import BackgroundExporter
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


SIGTERMED = """
    import signal, sys, time
    from generative_ai_toolkit.tracer import SqliteTracer, flush_on_sigterm

    tracer = SqliteTracer(sys.argv[1], schedule_delay=60)
    if sys.argv[2] == "chain":
        def previous(signum, frame):
            print("previous handler", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, previous)
    flush_on_sigterm()
    for i in range(50):
        with tracer.trace(f"span-{i}"):
            pass
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGTERM")
@pytest.mark.parametrize(
    ("previous", "expected_code", "expected_out"),
    [
        ("default", -signal.SIGTERM, "ready\n"),
        ("chain", 3, "ready\nprevious handler\n"),
    ],
)
def test_flush_on_sigterm_flushes_then_does_what_sigterm_did_before(
    tmp_path: Path, previous: str, expected_code: int, expected_out: str
) -> None:
    """SIGTERM with flush_on_sigterm() installed: the queued spans are stored, then the
    previous handler runs (or the signal's default action ends the process)."""
    db_path = tmp_path / "traces.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SIGTERMED), str(db_path), previous],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    rest, errors = process.communicate(timeout=60)
    assert (expected_code, expected_out, "") == (process.returncode, first + rest, errors)
    with sqlite3.connect(db_path) as conn:
        assert (50,) == conn.execute("SELECT count(*) FROM spans").fetchone()


def test_exit_shuts_every_exporter_down_at_once_within_one_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At exit all exporters are told to stop first, then waited for against one deadline (the
    largest shutdown_timeout): exit never adds up each exporter's own timeout."""
    monkeypatch.setattr(_exit, "_EXPORTERS", weakref.WeakSet())
    events: list[tuple[str, str, float]] = []
    writers = [RecordingWriter() for _ in range(3)]
    exporters = []
    for i, (writer, timeout) in enumerate(zip(writers, (0.1, 0.3, 0.2), strict=True)):
        writer.gate.clear()  # every sink hangs
        exporter = BackgroundExporter(
            writer, name=f"e{i}", schedule_delay=0.01, shutdown_timeout=timeout
        )
        for method in ("begin_shutdown", "finish_shutdown"):
            original = getattr(exporter, method)

            def record(deadline: float, method: str = method, original: Any = original) -> Any:
                events.append((method, repr(original.__self__), deadline))
                return original(deadline)

            monkeypatch.setattr(exporter, method, record)
        exporter.submit(ended_spans(1)[0])
        exporters.append(exporter)
    for writer in writers:
        assert writer.entered.wait(10)
    _exit.shutdown_all()
    for writer in writers:
        writer.gate.set()
    assert ["begin_shutdown"] * 3 + ["finish_shutdown"] * 3 == [e[0] for e in events]
    assert 1 == len({e[2] for e in events})
    assert [1, 1, 1] == [e.stats["dropped"] for e in exporters]
