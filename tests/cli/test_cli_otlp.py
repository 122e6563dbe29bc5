"""``gat-traces serve --otlp``: an agent instrumented only with the OpenTelemetry SDK, pointed at
the receiver, shows its conversations in ``list``, ``show`` and the viewer's API."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .conftest import Run, gat_traces_command


class Served:
    """A running ``gat-traces serve --otlp`` and the URLs it printed."""

    def __init__(self, process: subprocess.Popen[str], viewer: str, otlp: str) -> None:
        self.process = process
        self.viewer = viewer
        self.otlp = otlp


def wait_for_line(process: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    """The first line of the process's stdout that matches (it prints as it starts)."""
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"exited before printing {pattern!r}: {process.wait()}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``serve --db agent.sqlite3 --port 0 --otlp 0`` in a child process, stopped by Ctrl-C."""
    environ = {k: v for k, v in os.environ.items() if k != "GAT_TRACES_DB"}
    process = subprocess.Popen(
        [*gat_traces_command(), "serve", "--db", "agent.sqlite3", "--port", "0", "--otlp", "0"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        otlp = wait_for_line(process, r"Receiving OTLP/HTTP traces at (\S+)").group(1)
        viewer = wait_for_line(process, r"at (http://\S+/) ").group(1)
        yield Served(process, viewer, otlp)
    finally:
        process.send_signal(signal.SIGINT)
        assert 0 == process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()


def send_agent_turn(endpoint: str) -> None:
    """A GenAI-convention agent turn (agent, LLM call, tool call), as Strands emits it."""
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-agent"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("strands.telemetry.tracer")
    with tracer.start_as_current_span("invoke_agent") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("session.id", "otel-conversation")
        agent.set_attribute("input.value", "What is the weather in Paris?")
        with tracer.start_as_current_span("chat") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.request.model", "us.amazon.nova-lite-v1:0")
            llm.set_attribute("gen_ai.usage.input_tokens", 40)
            llm.set_attribute("gen_ai.usage.output_tokens", 8)
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "get_weather")
            tool.set_attribute("gen_ai.tool.call.arguments", '{"city": "Paris"}')
    provider.shutdown()  # flushes


def wait_until_listed(run: Run, conversation: str) -> dict[str, object]:
    """The conversation's row in ``list --json`` once the server's writer has stored it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = run("list", "--db", "agent.sqlite3", "--json")
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        for row in rows:
            if row["conversation_id"] == conversation and row["span_count"] == 3:
                return dict(row)
        time.sleep(0.2)
    raise AssertionError(f"{conversation} never listed with its 3 spans")


def test_an_otel_sdk_agent_shows_in_list_show_and_the_viewer(run: Run, served: Served) -> None:
    """Spans sent by the OTel SDK's exporter land in the served database as a conversation."""
    send_agent_turn(served.otlp)
    row = wait_until_listed(run, "otel-conversation")
    assert 0 == row["error_count"]
    shown = run("show", "otel-conversation", "--db", "agent.sqlite3")
    assert 0 == shown.returncode, shown.stderr
    assert "get_weather" in shown.stdout
    assert "What is the weather in Paris?" in shown.stdout
    with urllib.request.urlopen(served.viewer + "api/conversations") as response:
        listed = json.load(response)
    assert ["otel-conversation"] == [c["conversation_id"] for c in listed["conversations"]]


def test_otlp_needs_a_store_that_can_be_written(run: Run, tmp_path: Path) -> None:
    """``--otlp`` with a JSON-lines source is a one-line error, not a traceback."""
    (tmp_path / "spans.jsonl").write_text("")
    result = run("serve", "--jsonl", "spans.jsonl", "--port", "0", "--otlp", "0")
    assert (1, "") == (result.returncode, result.stdout)
    assert "--otlp stores into a SQLite file" in result.stderr


def test_otlp_port_must_be_a_port(run: Run) -> None:
    """A bad --otlp port is a usage error (exit 2)."""
    result = run("serve", "--otlp", "99999")
    assert 2 == result.returncode
    assert "not a port number" in result.stderr


def test_busy_otlp_port_is_one_line_and_creates_no_store(run: Run, tmp_path: Path) -> None:
    """A port already taken (a collector, Phoenix) is a one-line error; no SQLite file is left."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run("serve", "--db", "new.sqlite3", "--port", "0", "--otlp", str(port))
    assert (1, "") == (result.returncode, result.stdout)
    assert f"cannot receive OTLP on 127.0.0.1:{port}" in result.stderr
    assert 1 == len(result.stderr.strip().splitlines())
    assert not (tmp_path / "new.sqlite3").exists()
