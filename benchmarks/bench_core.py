"""Core benchmarks: cost per span of the in-process tracers against a pure-Python floor and the
OpenTelemetry SDK, and indexed ``get_traces`` against a linear filter.

Span shape: a root with one child, three attributes each (int, str, float). The floor does per
span what any tracer must at least do in pure Python: a ``ContextVar`` set/reset, two
``random.getrandbits`` ids, two ``time.time_ns()`` calls and a small dict appended to a list.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from contextvars import ContextVar

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from _harness import Report, interleaved
from generative_ai_toolkit.tracer import (
    BaseTracer,
    HumanReadableTracer,
    InMemoryTracer,
    NoopTracer,
    StructuredLogsTracer,
    Trace,
)

NUMBER = 4000
ROUNDS = 7

_floor_var: ContextVar[object] = ContextVar("floor", default=None)


def floor_case() -> Callable[[], object]:
    """Root + child done the minimal pure-Python way."""
    out: list[dict[str, object]] = []

    def one_span(name: str, parent: int) -> int:
        token = _floor_var.set(name)
        span_id = random.getrandbits(64)
        trace_id = random.getrandbits(128)
        start = time.time_ns()
        end = time.time_ns()
        out.append(
            {
                "n": name,
                "t": trace_id,
                "s": span_id,
                "p": parent,
                "b": start,
                "e": end,
                "a": {"i": 1, "s": "x", "f": 1.5},
            }
        )
        _floor_var.reset(token)
        return span_id

    def run() -> None:
        if len(out) > 100_000:
            out.clear()
        one_span("child", one_span("root", 0))

    return run


def tracer_case(tracer: BaseTracer, *, child_extra: object = None) -> Callable[[], object]:
    """Root + child through ``tracer``; the child optionally carries one extra big attribute."""

    def run() -> None:
        with tracer.trace("root") as root:
            root.add_attribute("i", 1)
            root.add_attribute("s", "x")
            root.add_attribute("f", 1.5)
            with tracer.trace("child") as child:
                child.add_attribute("i", 2)
                child.add_attribute("s", "y")
                child.add_attribute("f", 2.5)
                if child_extra is not None:
                    child.add_attribute("ai.llm.request.messages", child_extra)

    return run


def otel_case() -> Callable[[], object]:
    """Root + child through the OpenTelemetry SDK: SimpleSpanProcessor + InMemorySpanExporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")

    def run() -> None:
        if len(exporter._finished_spans) > 100_000:
            exporter.clear()
        with tracer.start_as_current_span("root") as root:
            root.set_attribute("i", 1)
            root.set_attribute("s", "x")
            root.set_attribute("f", 1.5)
            with tracer.start_as_current_span("child") as child:
                child.set_attribute("i", 2)
                child.set_attribute("s", "y")
                child.set_attribute("f", 2.5)

    return run


def messages_12kb() -> list[dict[str, object]]:
    """50 chat messages, about 12 KB as JSON, nested like Bedrock's converse format."""
    return [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": [{"text": f"{i:03d} " + "w" * 200}],
        }
        for i in range(50)
    ]


def run(report: Report) -> None:
    """Measure every core case and add its ratio to ``report``."""
    cases: dict[str, Callable[[], object]] = {
        "floor": floor_case(),
        "memory": tracer_case(InMemoryTracer(memory_size=10_000)),
        "noop": tracer_case(NoopTracer()),
        "jsonl": tracer_case(StructuredLogsTracer(stream=io.StringIO())),
        "human": tracer_case(HumanReadableTracer(stream=io.StringIO())),
        "messages": tracer_case(InMemoryTracer(memory_size=10_000), child_extra=messages_12kb()),
    }
    cases["otel"] = otel_case()
    per_op = interleaved(cases, ops_per_call=2, number=NUMBER, rounds=ROUNDS)
    floor = per_op["floor"]
    report.note(f"floor: {floor * 1e6:.2f} µs per span")

    def ratio(name: str, target: float, label: str) -> None:
        value = per_op[name] / floor
        report.add(
            label,
            f"{value:.2f}x floor ({per_op[name] * 1e6:.2f} µs/span)",
            f"<= {target}x floor",
            value <= target,
        )

    ratio("memory", 3, "InMemoryTracer")
    ratio("noop", 0.5, "NoopTracer")
    ratio("jsonl", 6, "StructuredLogsTracer to a StringIO")
    ratio("human", 6, "HumanReadableTracer to a StringIO")
    ratio("messages", 15, "child carries a 12 KB message list (avg over root+child)")
    value = per_op["memory"] / per_op["otel"]
    report.add(
        "InMemoryTracer vs OpenTelemetry SDK (SimpleSpanProcessor + InMemorySpanExporter)",
        f"{value:.3f}x ({per_op['otel'] * 1e6:.2f} µs/span for the SDK)",
        "<= 0.15x",
        value <= 0.15,
    )
    lookup_by_conversation(report)


def lookup_by_conversation(report: Report) -> None:
    """``get_traces`` by conversation id with 20,000 spans stored, against a linear filter."""
    tracer = InMemoryTracer(memory_size=20_000)
    for conversation in range(2_000):
        with tracer.trace("turn") as turn:
            turn.add_attribute("ai.conversation.id", conversation, inheritable=True)
            for _ in range(9):
                with tracer.trace("step"):
                    pass
    everything = list(tracer.get_traces())
    wanted = 1234

    def indexed() -> list[Trace]:
        return tracer.get_traces(attribute_filter={"ai.conversation.id": wanted})

    def linear() -> list[Trace]:
        return sorted(
            (t for t in everything if t.attributes.get("ai.conversation.id") == wanted),
            key=lambda t: t.started_at,
        )

    assert len(indexed()) == 10
    assert len(linear()) == 10
    per_op = interleaved({"indexed": indexed, "linear": linear}, ops_per_call=1, number=5, rounds=5)
    speedup = per_op["linear"] / per_op["indexed"]
    report.add(
        "get_traces by conversation id, 20,000 spans stored",
        f"{speedup:,.0f}x faster than a linear filter ({per_op['indexed'] * 1e6:.1f} µs vs "
        f"{per_op['linear'] * 1e3:.1f} ms)",
        ">= 100x",
        speedup >= 100,
    )
