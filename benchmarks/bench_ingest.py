"""OTLP ingest: the OpenTelemetry SDK's BatchSpanProcessor sending into ``gat-traces``'s receiver.

The receiver runs in a child process (``OtlpReceiver`` over a ``SqliteTracer`` in a temporary
folder), the SDK in this one, both on this machine. Throughput is spans ended by the SDK to
spans committed to the SQLite file, from the first span to the last commit: with the spans made
beforehand, and end to end from two agent processes with a ``BatchSpanProcessor`` each (one
process alone is bounded by the SDK's own cost per span, reported as a note). The memory case
sends faster than the store can write, with a small ``max_pending``, and reports the
receiver's peak memory and how many requests it answered 429 instead of growing.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import Report

SPANS = int(os.environ.get("GAT_BENCH_INGEST_SPANS", "60000"))
ROUNDS = 3


def _serve(db: str, max_pending: int, pipe: Any) -> None:
    """The child: a receiver into SQLite; reports its URL, then stats when told the count."""
    import resource  # noqa: PLC0415

    from generative_ai_toolkit.tracer import SqliteTracer  # noqa: PLC0415
    from generative_ai_toolkit.tracer.otlp import OtlpReceiver  # noqa: PLC0415

    store = SqliteTracer(db)
    receiver = OtlpReceiver(store, port=0, max_pending=max_pending, hold_seconds=1).start()
    pipe.send(receiver.url)
    expected = pipe.recv()
    before = resource.getrusage(resource.RUSAGE_SELF)
    deadline = time.monotonic() + 120
    while receiver.stats["spans"] < expected and time.monotonic() < deadline:
        time.sleep(0.005)
    store.flush(60)
    committed_at = time.time()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    stats = {**receiver.stats, **store.stats, "cpu_ns": int(cpu * 1e9)}
    receiver.close()
    store.shutdown()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipe.send((committed_at, stats, peak_kb))


def _agent_turns(tracer: Any, count: int) -> None:
    """``count`` agent-shaped spans from an OpenTelemetry ``tracer``: turns of an agent span
    (naming its conversation) around nine tool calls, GenAI conventions."""
    for turn in range(count // 10):
        with tracer.start_as_current_span("invoke_agent") as root:
            root.set_attribute("gen_ai.operation.name", "invoke_agent")
            root.set_attribute("session.id", f"conversation-{turn % 100}")
            for step in range(9):
                with tracer.start_as_current_span("execute_tool") as span:
                    span.set_attribute("gen_ai.operation.name", "execute_tool")
                    span.set_attribute("gen_ai.tool.name", f"tool-{step}")
                    span.set_attribute("gen_ai.tool.call.arguments", '{"city": "Paris"}')


def _send(url: str, count: int, *, queue: int = 20_000) -> float:
    """End ``count`` agent-shaped spans with the SDK exporting to ``url``; the start time."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=url),
            max_queue_size=queue,
            max_export_batch_size=2048,
            schedule_delay_millis=50,
        )
    )
    tracer = provider.get_tracer("bench")
    start = time.time()
    _agent_turns(tracer, count)
    provider.shutdown()
    return start


def _agent_process(url: str, count: int, pipe: Any) -> None:
    """A child: an agent of its own, ``count`` spans through its own BatchSpanProcessor; sends
    its start time."""
    pipe.send(_send(url, count, queue=count))


def _two_agents(url: str, count: int) -> float:
    """Two agent processes, each with the SDK's BatchSpanProcessor, sending ``count`` spans in
    all to ``url``; the first one's start time."""
    context = multiprocessing.get_context("spawn")
    pipes = [context.Pipe() for _ in range(2)]
    agents = [
        context.Process(target=_agent_process, args=(url, count // 2, end)) for _, end in pipes
    ]
    for agent in agents:
        agent.start()
    start: float = min(ours.recv() for ours, _ in pipes)
    for agent in agents:
        agent.join()
    return start


def _made_spans(count: int) -> list[Any]:
    """``count`` agent-shaped spans ended by the SDK into memory (not timed)."""
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: PLC0415
        InMemorySpanExporter,
    )

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    _agent_turns(tracer, count)
    return list(memory.get_finished_spans())


def _export_made(url: str, spans: list[Any]) -> float:
    """Send ``spans`` with the SDK's ``OTLPSpanExporter`` from two threads, 2,048 a request (as
    BatchSpanProcessor batches them); the start time."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    chunks = [spans[i : i + 2048] for i in range(0, len(spans), 2048)]
    exporters = [OTLPSpanExporter(endpoint=url) for _ in range(2)]

    def send(index: int) -> None:
        for chunk in chunks[index::2]:
            exporters[index].export(chunk)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    start = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return start


def _receiver_round(
    count: int, send: Callable[[str], float], *, max_pending: int = 50_000
) -> tuple[float, dict[str, int], int]:
    """A receiver into SQLite in a child process, ``send(url)`` (returning its start time) for
    ``count`` spans: seconds from the start to the last commit, the stats, the peak KB."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    with tempfile.TemporaryDirectory() as folder:
        process = context.Process(
            target=_serve, args=(str(Path(folder) / "ingest.sqlite3"), max_pending, child)
        )
        process.start()
        url = parent.recv()
        parent.send(count)
        start = send(url)
        committed_at, stats, peak_kb = parent.recv()
        process.join()
    return committed_at - start, stats, peak_kb


def run(report: Report) -> None:
    """Ingest throughput (best of rounds) and the receiver's memory under an outrunning sender."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    made = _made_spans(SPANS)
    best = float("inf")
    stats: dict[str, int] = {}
    cpu_ns: list[int] = []
    for _ in range(ROUNDS):
        elapsed, stats, _ = _receiver_round(SPANS, lambda url: _export_made(url, made))
        best = min(best, elapsed)
        cpu_ns.append(stats["cpu_ns"])
    rate = stats["written"] / best
    report.add(
        f"OTLP ingest, the SDK's OTLPSpanExporter -> receiver -> SQLite ({SPANS:,} spans)",
        f"{rate:,.0f} spans/s stored",
        ">= 20,000 spans/s",
        rate >= 20_000 and stats["written"] == SPANS,
    )
    report.note(
        f"the receiver process's CPU (HTTP, decoding, mapping, the SQLite writer): "
        f"{min(cpu_ns) / SPANS / 1000:.1f}-{max(cpu_ns) / SPANS / 1000:.1f} µs a span"
    )
    # The SDK's queue as long as the run: it drops nothing.
    elapsed, stats, _ = _receiver_round(SPANS, lambda url: _send(url, SPANS, queue=SPANS))
    report.note(
        f"end to end with the SDK making the spans too (BatchSpanProcessor, one process): "
        f"{stats['written'] / elapsed:,.0f} spans/s, bounded by the SDK's own cost per span"
    )
    rates = []
    for _ in range(ROUNDS):
        elapsed, stats, _ = _receiver_round(SPANS, lambda url: _two_agents(url, SPANS))
        rates.append(stats["written"] / elapsed)
    report.add(
        f"OTLP ingest end to end: two agent processes, each making its spans and sending them "
        f"through the SDK's BatchSpanProcessor -> receiver -> SQLite ({SPANS:,} spans)",
        f"{max(rates):,.0f} spans/s stored (rounds: "
        + ", ".join(f"{rate:,.0f}" for rate in rates)
        + ")",
        ">= 20,000 spans/s",
        max(rates) >= 20_000 and stats["written"] == SPANS,
    )
    # An outrunning sender: a receiver that lets at most 2,000 spans wait for the store.
    small = SPANS // 3
    _, _, light_kb = _receiver_round(small, lambda url: _send(url, small), max_pending=2_000)
    _, heavy, heavy_kb = _receiver_round(
        SPANS, lambda url: _send(url, SPANS, queue=SPANS), max_pending=2_000
    )
    growth = heavy_kb / light_kb
    report.add(
        "receiver memory, 3x the spans against a slow store (max_pending 2,000)",
        f"peak {light_kb / 1024:.0f} MB -> {heavy_kb / 1024:.0f} MB ({growth:.2f}x); "
        f"{heavy['throttled']} requests answered 429",
        "bounded (< 1.5x for 3x the spans)",
        growth < 1.5,
    )
