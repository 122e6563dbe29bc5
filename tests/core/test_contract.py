"""One contract, every tracer: the same cases run against each in-process tracer.

A tracer factory returns the tracer and a reader giving back what it recorded as plain dicts
(or ``None`` for a tracer that records nothing).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from generative_ai_toolkit.tracer import (
    BaseTracer,
    HumanReadableTracer,
    InMemoryTracer,
    NoopTracer,
    StructuredLogsTracer,
    TeeTracer,
    Trace,
)
from generative_ai_toolkit.tracer.redaction import Redactor
from generative_ai_toolkit.tracer.sampling import ConversationRatio, TailSampler, TraceIdRatio

Reader = Callable[[], list[dict[str, Any]] | None]


@dataclass
class Subject:
    tracer: BaseTracer
    read: Reader
    keeps_spans: bool


def _from_traces(traces: list[Trace]) -> list[dict[str, Any]]:
    return [
        {
            "name": t.span_name,
            "span_id": t.span_id,
            "parent_span_id": t.parent_span_id,
            "status": t.span_status,
            "attributes": t.attributes,
        }
        for t in traces
    ]


def in_memory() -> Subject:
    tracer = InMemoryTracer()
    return Subject(tracer, lambda: _from_traces(list(tracer.get_traces())), True)


def structured_logs() -> Subject:
    stream = io.StringIO()
    tracer = StructuredLogsTracer(stream=stream)

    def read() -> list[dict[str, Any]]:
        records = [json.loads(line)["trace"] for line in stream.getvalue().splitlines()]
        return [
            {
                "name": r["span_name"],
                "span_id": r["span_id"],
                "parent_span_id": r["parent_span_id"],
                "status": r["span_status"],
                "attributes": r["attributes"],
            }
            for r in records
        ]

    return Subject(tracer, read, False)


_HEADER = re.compile(
    r"^\[(?P<trace>[0-9a-f]{32})/(?P<parent>root|[0-9a-f]{16})/(?P<span>[0-9a-f]{16})\] "
    r".+? [A-Z]+ \S+Z - (?P<name>\S+)"
)


def human_readable() -> Subject:
    stream = io.StringIO()
    tracer = HumanReadableTracer(stream=stream)

    def read() -> list[dict[str, Any]]:
        records = []
        for line in stream.getvalue().splitlines():
            if match := _HEADER.match(line):
                records.append(
                    {
                        "name": match["name"],
                        "span_id": match["span"],
                        "parent_span_id": None if match["parent"] == "root" else match["parent"],
                    }
                )
        return records

    return Subject(tracer, read, False)


def noop() -> Subject:
    return Subject(NoopTracer(), lambda: None, False)


def tee() -> Subject:
    memory = InMemoryTracer()
    tracer = TeeTracer().add_tracer(memory).add_tracer(StructuredLogsTracer(stream=io.StringIO()))
    return Subject(tracer, lambda: _from_traces(list(tracer.get_traces())), True)


class _OwnTracer(BaseTracer):
    """A user's tracer, as in the notebook's last cell: only persist()."""

    def __init__(self) -> None:  # deliberately no super().__init__()
        self.kept: list[Trace] = []

    def persist(self, trace: Trace) -> None:
        self.kept.append(trace)


def own_tracer() -> Subject:
    tracer = _OwnTracer()
    return Subject(tracer, lambda: _from_traces(tracer.kept), False)


def redacting() -> Subject:
    """Redaction that finds nothing must change nothing the contract sees."""
    tracer = InMemoryTracer(redact=Redactor(secrets=True, emails=True, credit_cards=True))
    return Subject(tracer, lambda: _from_traces(list(tracer.get_traces())), True)


def head_sampled() -> Subject:
    tracer = InMemoryTracer(sampler=TraceIdRatio(1.0))
    return Subject(tracer, lambda: _from_traces(list(tracer.get_traces())), True)


def conversation_sampled() -> Subject:
    tracer = InMemoryTracer(sampler=ConversationRatio(1.0))
    return Subject(tracer, lambda: _from_traces(list(tracer.get_traces())), True)


def tail_sampled() -> Subject:
    tracer = InMemoryTracer(sampler=TailSampler(ratio=1.0))
    return Subject(tracer, lambda: _from_traces(list(tracer.get_traces())), True)


FACTORIES = [
    in_memory,
    structured_logs,
    human_readable,
    noop,
    tee,
    own_tracer,
    redacting,
    head_sampled,
    conversation_sampled,
    tail_sampled,
]


@pytest.fixture(params=FACTORIES, ids=lambda f: f.__name__)
def subject(request: pytest.FixtureRequest) -> Subject:
    """Each tracer in turn."""
    factory: Callable[[], Subject] = request.param
    return factory()


def test_nested_spans_are_recorded_children_first_with_parent_links(subject: Subject) -> None:
    """Every recording tracer sees the child (ended first) pointing at the parent."""
    with subject.tracer.trace("parent") as parent:
        parent.add_attribute("ai.conversation.id", "c1", inheritable=True)
        with subject.tracer.trace("child") as child:
            child.add_attribute("k", 1)
    records = subject.read()
    if records is None:
        return
    by_name = {r["name"]: r for r in records}
    assert {"parent", "child"} == set(by_name)
    assert by_name["parent"]["span_id"] == by_name["child"]["parent_span_id"]
    assert by_name["parent"]["parent_span_id"] is None
    if "attributes" in by_name["child"]:
        assert {"k": 1, "ai.conversation.id": "c1"} == by_name["child"]["attributes"]


def test_the_users_exception_propagates_unchanged_and_is_recorded(subject: Subject) -> None:
    """The traced code's own exception reaches its caller; recorders mark the span ERROR."""
    error = RuntimeError("agent failed")
    with pytest.raises(RuntimeError) as raised, subject.tracer.trace("failing"):
        raise error
    assert raised.value is error
    records = subject.read()
    if records and "status" in records[0]:
        assert "ERROR" == records[0]["status"]


def test_a_failing_persist_never_reaches_the_traced_code(
    subject: Subject, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Storage failures are logged and counted, not raised; the user's exception still wins."""

    def broken(trace: Trace) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(subject.tracer, "persist", broken)
    with subject.tracer.trace("ok"):
        pass
    with pytest.raises(KeyError), subject.tracer.trace("user-error"):
        raise KeyError("user's")
    if not isinstance(subject.tracer, NoopTracer):
        assert 2 == subject.tracer.stats["persist_errors"]
        assert "disk full" in caplog.text


def test_flush_and_shutdown_succeed(subject: Subject) -> None:
    """In-process tracers have nothing pending: flush says so, shutdown is quiet."""
    with subject.tracer.trace("span"):
        pass
    assert subject.tracer.flush(timeout=1) is True
    subject.tracer.shutdown()


def test_get_traces_answers_or_names_a_tracer_that_can(subject: Subject) -> None:
    """Stores return spans; tracers that keep nothing say which tracer to use instead."""
    with subject.tracer.trace("span"):
        pass
    if subject.keeps_spans:
        assert ["span"] == [t.span_name for t in subject.tracer.get_traces()]
    else:
        with pytest.raises(NotImplementedError, match="InMemoryTracer"):
            subject.tracer.get_traces()


def test_unknown_span_kinds_are_rejected(subject: Subject) -> None:
    """Every tracer validates span_kind."""
    with pytest.raises(ValueError, match="span_kind"):
        subject.tracer.trace("x", span_kind="SERVERLESS")
