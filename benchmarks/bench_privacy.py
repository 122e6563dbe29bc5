"""Privacy benchmarks: what redaction and sampling cost, where they run.

- In-process redaction: ``InMemoryTracer`` (which redacts at the first read) and
  ``StructuredLogsTracer`` (which redacts in ``persist``) with the built-in redactor (secrets,
  e-mails, cards) against the same tracer without it, on the core benchmark's span pair whose
  child carries a 12 KB message list; once with the core benchmark's messages (each text a
  200-letter run: the worst case for the AWS-secret-key rule, which must look at every
  40-character run) and once with prose. Then what the first read pays: the span pair and a
  ``get_traces`` of its trace, with and without a redactor.
- Exporting tracers redact on the worker: the caller-side cost of ``SqliteTracer`` with and
  without a redactor, and the worker-side cost of writing a batch of 12 KB spans to SQLite with
  and without redaction (``RedactingWriter`` around the same ``SqliteSpanWriter``).
- Head sampling: spans of a sampled-out trace against ``NoopTracer``: the core span pair, and
  a root with ten children.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

from _harness import Report, interleaved
from bench_core import messages_12kb, tracer_case
from generative_ai_toolkit.tracer import (
    BaseTracer,
    InMemoryTracer,
    NoopTracer,
    SqliteTracer,
    StructuredLogsTracer,
    Trace,
)
from generative_ai_toolkit.tracer._privacy import RedactingWriter, SpanPolicy
from generative_ai_toolkit.tracer.redaction import Redactor
from generative_ai_toolkit.tracer.sampling import TraceIdRatio
from generative_ai_toolkit.tracer.sqlite._writer import SqliteSpanWriter

REDACT = Redactor(secrets=True, emails=True, credit_cards=True)
NUMBER = 300
ROUNDS = 5


def prose_12kb() -> list[dict[str, object]]:
    """50 chat messages of ordinary sentences, about 12 KB as JSON."""
    sentence = "The order 1042 shipped on Tuesday; Alice asked Bob to check the invoice. "
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": [{"text": sentence * 3}]}
        for i in range(50)
    ]


def ratio_row(report: Report, label: str, value: float, detail: str, target: float) -> None:
    report.add(label, f"{value:.2f}x ({detail})", f"<= {target}x", value <= target)


class _Discard(io.StringIO):
    """A stream that keeps nothing: the JSON lines tracer's cost without a growing buffer."""

    def write(self, text: str) -> int:
        return len(text)


def in_process(report: Report) -> None:
    """Redaction in-process: InMemoryTracer (at the first read) and JSON lines (in persist)."""
    cases: dict[str, Callable[[], object]] = {}
    for name, messages in (("w", messages_12kb()), ("prose", prose_12kb())):
        cases[f"plain-{name}"] = tracer_case(InMemoryTracer(10_000), child_extra=messages)
        cases[f"redacted-{name}"] = tracer_case(
            InMemoryTracer(10_000, redact=REDACT), child_extra=messages
        )
        cases[f"jsonl-{name}"] = tracer_case(
            StructuredLogsTracer(stream=_Discard()), child_extra=messages
        )
        cases[f"jsonl-redacted-{name}"] = tracer_case(
            StructuredLogsTracer(stream=_Discard(), redact=REDACT), child_extra=messages
        )
    per_op = interleaved(cases, ops_per_call=2, number=NUMBER, rounds=ROUNDS)
    for name, label in (("w", "200-letter runs"), ("prose", "prose")):
        for tracer, prefix in (("InMemoryTracer", ""), ("StructuredLogsTracer", "jsonl-")):
            plain = per_op[f"{prefix or 'plain-'}{name}"]
            redacted = per_op[f"{prefix}redacted-{name}"]
            ratio_row(
                report,
                f"{tracer} + built-in redactor, 12 KB message list ({label}), vs without",
                redacted / plain,
                f"{redacted * 2e6:.0f} vs {plain * 2e6:.0f} µs per root+child",
                2,
            )


def first_read(report: Report) -> None:
    """InMemoryTracer: the span pair and a read of its trace, which redacts it first."""

    def span_and_read(tracer: BaseTracer, messages: object) -> Callable[[], object]:
        make = tracer_case(tracer, child_extra=messages)

        def run() -> None:
            make()
            tracer.get_traces(trace_id=tracer.get_traces()[-1].trace_id)

        return run

    cases = {
        f"{kind}-{name}": span_and_read(InMemoryTracer(4, redact=redact), messages)
        for name, messages in (("w", messages_12kb()), ("prose", prose_12kb()))
        for kind, redact in (("plain", None), ("redacted", REDACT))
    }
    per_op = interleaved(cases, ops_per_call=2, number=NUMBER, rounds=ROUNDS)
    for name, label in (("w", "200-letter runs"), ("prose", "prose")):
        plain, redacted = per_op[f"plain-{name}"], per_op[f"redacted-{name}"]
        report.add(
            f"InMemoryTracer, 12 KB message list ({label}), span pair + the read that redacts "
            "it, vs without a redactor",
            f"{redacted / plain:.2f}x ({redacted * 2e6:.0f} vs {plain * 2e6:.0f} µs)",
            "reported",
            True,
        )


def _spans(count: int, messages: list[dict[str, object]]) -> list[Trace]:
    tracer = InMemoryTracer(count)
    for _ in range(count):
        with tracer.trace("llm") as span:
            span.add_attribute("ai.conversation.id", "c-1")
            span.add_attribute("ai.llm.request.messages", messages)
    return list(tracer.get_traces())


def worker_side(report: Report, tmp: Path) -> None:
    """The export worker's cost per 12 KB span: SQLite write, with and without redaction."""
    batch = 100
    plain_writer = SqliteSpanWriter(tmp / "plain.sqlite3")
    redacting = RedactingWriter(
        SqliteSpanWriter(tmp / "redacted.sqlite3"), SpanPolicy(redact=REDACT, sampler=None)
    )
    for name, messages in (("w", messages_12kb()), ("prose", prose_12kb())):
        pools = {"plain": _spans(batch * 12, messages), "redacted": _spans(batch * 12, messages)}

        def writing(
            spans: list[Trace], writer: SqliteSpanWriter | RedactingWriter
        ) -> Callable[[], None]:

            def run() -> None:
                # Fresh spans each call: the ids are unique, as a store requires.
                writer.write([spans.pop() for _ in range(batch)])

            return run

        per_op = interleaved(
            {
                "plain": writing(pools["plain"], plain_writer),
                "redacted": writing(pools["redacted"], redacting),
            },
            ops_per_call=batch,
            number=2,
            rounds=5,
        )
        label = "200-letter runs" if name == "w" else "prose"
        ratio_row(
            report,
            f"SqliteTracer worker per 12 KB span ({label}): redact + write vs write",
            per_op["redacted"] / per_op["plain"],
            f"{per_op['redacted'] * 1e6:.0f} vs {per_op['plain'] * 1e6:.0f} µs",
            2,
        )
    plain_writer.close()
    redacting.close()


def caller_side(report: Report, tmp: Path) -> None:
    """What the agent's thread pays with ``redact=`` on an exporting tracer: nothing more."""
    plain = SqliteTracer(tmp / "caller-plain.sqlite3", max_queue_size=1_000_000)
    redacted = SqliteTracer(tmp / "caller-red.sqlite3", max_queue_size=1_000_000, redact=REDACT)
    messages = prose_12kb()
    per_op = interleaved(
        {
            "plain": tracer_case(plain, child_extra=messages),
            "redacted": tracer_case(redacted, child_extra=messages),
        },
        ops_per_call=2,
        number=NUMBER,
        rounds=ROUNDS,
    )
    plain.shutdown()
    redacted.shutdown()
    ratio_row(
        report,
        "SqliteTracer caller-side cost per span with redact= vs without (12 KB child)",
        per_op["redacted"] / per_op["plain"],
        f"{per_op['redacted'] * 1e6:.1f} vs {per_op['plain'] * 1e6:.1f} µs",
        1.5,
    )


def _root_with_children(tracer: BaseTracer, children: int) -> Callable[[], object]:
    """A root and ``children`` children, three attributes each (as ``tracer_case``)."""

    def run() -> None:
        with tracer.trace("root") as root:
            root.add_attribute("i", 1)
            root.add_attribute("s", "x")
            root.add_attribute("f", 1.5)
            for _ in range(children):
                with tracer.trace("child") as child:
                    child.add_attribute("i", 2)
                    child.add_attribute("s", "y")
                    child.add_attribute("f", 2.5)

    return run


def sampled_out(report: Report) -> None:
    """A sampled-out trace's spans against NoopTracer's."""
    per_op = interleaved(
        {
            "noop": tracer_case(NoopTracer()),
            "out": tracer_case(InMemoryTracer(sampler=TraceIdRatio(0.0))),
            "noop-10": _root_with_children(NoopTracer(), 10),
            "out-10": _root_with_children(InMemoryTracer(sampler=TraceIdRatio(0.0)), 10),
            "kept": tracer_case(InMemoryTracer(100_000, sampler=TraceIdRatio(1.0))),
            "memory": tracer_case(InMemoryTracer(100_000)),
        },
        ops_per_call=2,
        number=4000,
        rounds=7,
    )
    ratio_row(
        report,
        "head-sampled-out span (root + child, 3 attributes each) vs NoopTracer",
        per_op["out"] / per_op["noop"],
        f"{per_op['out'] * 1e6:.2f} vs {per_op['noop'] * 1e6:.2f} µs/span",
        2,
    )
    # ops_per_call=2 above: per root+10 children, the figure is per 5.5 spans.
    ratio_row(
        report,
        "head-sampled-out span (root + 10 children, 3 attributes each) vs NoopTracer",
        per_op["out-10"] / per_op["noop-10"],
        f"{per_op['out-10'] * 2e6 / 11:.2f} vs {per_op['noop-10'] * 2e6 / 11:.2f} µs/span",
        2,
    )
    ratio_row(
        report,
        "head-sampled-in span vs InMemoryTracer without a sampler",
        per_op["kept"] / per_op["memory"],
        f"{per_op['kept'] * 1e6:.2f} vs {per_op['memory'] * 1e6:.2f} µs/span",
        1.3,
    )


def run(report: Report) -> None:
    """Measure every privacy case and add its ratio to ``report``."""
    in_process(report)
    first_read(report)
    sampled_out(report)
    with tempfile.TemporaryDirectory() as tmp:
        caller_side(report, Path(tmp))
        worker_side(report, Path(tmp))
