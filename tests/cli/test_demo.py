"""The demo end to end: run it into a temporary database, then run the commands it prints."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from .conftest import gat_traces_command


def _run_demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GAT_TRACES_DB"}
    return subprocess.run(
        [sys.executable, "-m", "generative_ai_toolkit.tracer.demo", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_demo_records_conversations_and_its_commands_show_them(tmp_path: Path) -> None:
    """Every printed gat-traces command succeeds and shows the recorded conversations, with
    tokens and cost from the demo's pricing table (``serve``, which runs until Ctrl-C, is
    only checked to be offered)."""
    demo = _run_demo(tmp_path, "--db", "demo.sqlite3", "--tag", "t1", "--latency", "0")
    assert demo.returncode == 0, demo.stderr
    assert "ai.trace.type='tool-invocation'" in demo.stdout  # the terminal tracer ran too
    assert "Recorded 3 conversations" in demo.stdout
    commands = [
        line.strip()
        for line in demo.stdout.splitlines()
        if line.startswith("  ") and line.split()[0].endswith("gat-traces")
    ]
    assert len(commands) >= 5
    (serve,) = [command for command in commands if shlex.split(command)[1] == "serve"]
    assert "--pricing demo-pricing.json" in serve
    outputs = {}
    for command in [command for command in commands if command != serve]:
        argv = shlex.split(command)
        result = subprocess.run(
            [*gat_traces_command(), *argv[1:]],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.strip(), command
        outputs[" ".join(argv[1:3])] = result.stdout
    listed = outputs["list --pricing"]
    for conversation in ("weather-t1", "orders-t1", "research-t1"):
        assert conversation in listed
    assert re.search(r"TOKENS +COST", listed)
    assert re.search(r"orders-t1 .* \d+ +0\.\d+ USD", listed)
    shown = outputs["show orders-t1"]
    assert "LookupError: order A-999 does not exist" in shown
    assert "ERROR" in shown


def test_the_demo_writes_the_default_database_in_the_working_directory(tmp_path: Path) -> None:
    """Without --db the demo uses ./traces.sqlite3, and its commands need no --db."""
    demo = _run_demo(tmp_path, "--quiet", "--latency", "0")
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "traces.sqlite3").exists()
    assert re.search(
        r"^  \S*gat-traces list --pricing demo-pricing.json$", demo.stdout, re.MULTILINE
    )
    assert "DemoAgent" not in demo.stdout  # --quiet: no span printing


def test_the_demo_records_everything_and_exits_quietly_when_its_output_is_closed(
    tmp_path: Path,
) -> None:
    """`scripts/demo | head`: every conversation is recorded, exit 0, nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the demo writes a byte
    env = {k: v for k, v in os.environ.items() if k != "GAT_TRACES_DB"}
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "generative_ai_toolkit.tracer.demo", "--latency", "0"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (0, "") == (demo.returncode, demo.stderr)
    listed = subprocess.run(
        [*gat_traces_command(), "list", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert 3 == len(listed.stdout.splitlines())
