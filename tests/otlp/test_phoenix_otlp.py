"""OtlpTracer against a real receiver: Arize Phoenix on 127.0.0.1 (started by the fixture)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from generative_ai_toolkit.tracer.otlp import OtlpTracer
from notebook import CELL_1, CELL_10
from services.phoenix import DEFAULT_PORT, Phoenix, attribute_values, configured_port

pytestmark = pytest.mark.integration

# The notebook's cells 1 and 10 verbatim; the epilogue only reports the trace id.
EPILOGUE = "print(parent_span.trace_id, flush=True)\n"


@pytest.fixture(scope="module")
def phoenix() -> Iterator[Phoenix]:
    """Phoenix on GAT_PHOENIX_PORT (default 4318), for this module's tests."""
    with Phoenix(configured_port()) as server:
        yield server


def of_trace(trace_id: str, count: int) -> Any:
    def holds(spans: list[dict[str, Any]]) -> bool:
        return len([s for s in spans if s["trace_id"] == trace_id]) >= count

    return holds


def spans_of_trace(phoenix: Phoenix, trace_id: str, count: int) -> dict[str, dict[str, Any]]:
    spans = phoenix.wait_for_spans(of_trace(trace_id, count), timeout=60)
    return {s["name"]: s for s in spans if s["trace_id"] == trace_id}


def test_notebook_cell_in_a_process_that_exits_right_after(phoenix: Phoenix) -> None:
    """Both spans reach Phoenix although the process exits at once: the queue is flushed."""
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("OTEL_EXPORTER_OTLP_")]:
        del env[key]
    if phoenix.port != DEFAULT_PORT:  # OtlpTracer() as written targets 4318; else say where
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = phoenix.base_url
    result = subprocess.run(
        [sys.executable, "-c", CELL_1 + CELL_10 + EPILOGUE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    trace_id = result.stdout.strip()
    assert "" == result.stderr
    spans = spans_of_trace(phoenix, trace_id, 2)
    parent, child = spans["parent"], spans["child"]
    assert parent["span_id"] == child["parent_span_id"]
    assert {
        "ai.trace.type": "tool-invocation",
        "ai.tool.input": "Hello, world!",
        "ai.tool.output": "World, hello!",
        "ai.conversation.id": "123456",
        "ai.auth.context": "user123",
        "gen_ai.conversation.id": "123456",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.call.arguments": "Hello, world!",
        "gen_ai.tool.call.result": "World, hello!",
    }.items() <= attribute_values(child["attributes"]).items()
    assert {"ai.conversation.id": "123456", "ai.auth.context": "user123"}.items() <= (
        attribute_values(parent["attributes"]).items()
    )


def test_ids_types_events_and_status_survive_phoenix(phoenix: Phoenix) -> None:
    """What Phoenix keeps comes back as sent: ids, links, typed values, events, status."""
    tracer = OtlpTracer(endpoint=phoenix.endpoint, schedule_delay=0.05)
    with tracer.trace("root", span_kind="SERVER") as root:
        root.add_attribute("count", 42)
        root.add_attribute("ratio", 0.25)
        root.add_attribute("flag", True)
        root.add_attribute("tags", ["a", "b"])
        root.add_attribute("scores", [1, 2, 3])
        root.add_attribute("huge", 2**80)
        root.add_attribute("nested", {"k": [1, "x"]})
        root.set_status("OK")
        with pytest.raises(KeyError), tracer.trace("failing") as failing:
            raise KeyError("missing")
    assert tracer.flush(10)
    tracer.shutdown()
    assert 0 == tracer.stats["dropped"]
    spans = spans_of_trace(phoenix, root.trace_id, 2)
    got_root, got_failing = spans["root"], spans["failing"]
    assert (root.span_id, None) == (got_root["span_id"], got_root.get("parent_span_id"))
    assert (failing.span_id, root.span_id) == (
        got_failing["span_id"],
        got_failing["parent_span_id"],
    )
    attrs = attribute_values(got_root["attributes"])
    assert {
        "count": 42,
        "ratio": 0.25,
        "flag": True,
        "tags": ["a", "b"],
        "scores": [1, 2, 3],
        "huge": str(2**80),
        "nested": '{"k":[1,"x"]}',
    }.items() <= attrs.items()
    assert 1 == got_root["status"]["code"]
    assert 2 == got_failing["status"]["code"]
    assert "'missing'" == got_failing["status"]["message"]
    (event,) = got_failing["events"]
    assert "exception" == event["name"]
    event_attrs = attribute_values(event["attributes"])
    assert ("KeyError", "'missing'") == (
        event_attrs["exception.type"],
        event_attrs["exception.message"],
    )
    assert "KeyError: 'missing'" in event_attrs["exception.stacktrace"]


def test_a_few_hundred_spans_all_arrive(phoenix: Phoenix) -> None:
    """A batch of 300 spans in one trace reaches Phoenix whole."""
    tracer = OtlpTracer(endpoint=phoenix.endpoint, schedule_delay=0.05, max_batch_size=100)
    with tracer.trace("bulk-root") as root:
        for i in range(299):
            with tracer.trace(f"bulk-{i}") as span:
                span.add_attribute("i", i)
    assert tracer.flush(10)
    tracer.shutdown()
    spans = spans_of_trace(phoenix, root.trace_id, 300)
    assert 300 == len(spans)
