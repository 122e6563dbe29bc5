"""The printed formats: human-readable text and JSON log lines."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generative_ai_toolkit.tracer import HumanReadableTracer, InMemoryTracer, StructuredLogsTracer
from generative_ai_toolkit.tracer.testing import SequentialIds, StepClock


def make_tracer() -> InMemoryTracer:
    """Deterministic ids and times, service MyAgent."""
    tracer = InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())
    tracer.set_context(resource_attributes={"service.name": "MyAgent"})
    return tracer


def test_human_readable_header_shows_ids_service_kind_time_name_and_key_attributes() -> None:
    """Header: [trace/parent-or-root/span] service KIND time - name (known keys, in order)."""
    tracer = make_tracer()
    with tracer.trace("turn", span_kind="SERVER") as span:
        span.add_attribute("ai.auth.context", "user123")
        span.add_attribute("other", "hidden")
        span.add_attribute("ai.conversation.id", 488044)
        span.add_attribute("peer.service", "bedrock")
    assert (
        "[00000000000000000000000000000001/root/0000000000000001] MyAgent SERVER "
        "2025-04-15T20:24:45.208Z - turn (peer.service='bedrock' ai.conversation.id='488044' "
        "ai.auth.context='user123')\n"
    ) == span.as_human_readable()


def test_human_readable_without_known_keys_has_no_parentheses() -> None:
    """No header attributes: just the name; no service: <missing service.name>."""
    tracer = InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())
    with tracer.trace("span") as span:
        span.add_attribute("foo", "bar")
    assert (
        "[00000000000000000000000000000001/root/0000000000000001] <missing service.name> "
        "INTERNAL 2025-04-15T20:24:45.208Z - span\n"
    ) == span.as_human_readable()


@pytest.mark.parametrize(
    ("trace_type", "attributes", "details"),
    [
        (
            "tool-invocation",
            {"ai.tool.input": "in", "ai.tool.output": "out", "ai.tool.error": "boom"},
            "       Input: in\n      Output: out\n       Error: boom\n",
        ),
        (
            "llm-invocation",
            {
                "ai.llm.request.messages": [{"role": "user", "content": "first"}, "last one"],
                "ai.llm.response.output": "answer",
                "ai.llm.response.error": "throttled",
            },
            "Last message: last one\n    Response: answer\n       Error: throttled\n",
        ),
        (
            "converse",
            {"ai.user.input": "hi", "ai.agent.response": "hello", "exception.message": "x"},
            "       Input: hi\n    Response: hello\n       Error: x\n",
        ),
    ],
)
def test_human_readable_details_per_trace_type(
    trace_type: str, attributes: dict[str, Any], details: str
) -> None:
    """Detail lines with right-aligned titles in a 14-character field."""
    tracer = make_tracer()
    with tracer.trace("span") as span:
        span.add_attribute("ai.trace.type", trace_type)
        for key, value in attributes.items():
            span.add_attribute(key, value)
    assert details == span.as_human_readable().split("\n", 1)[1]


def test_human_readable_cuts_long_values_into_four_lines_of_200() -> None:
    """Long values wrap at 200 characters, at most 4 lines, the last ending in '...'."""
    tracer = make_tracer()
    with tracer.trace("span") as span:
        span.add_attribute("ai.trace.type", "tool-invocation")
        span.add_attribute("ai.tool.input", "a" * 1000)
        span.add_attribute("ai.tool.output", "line1\nline2")
    lines = span.as_human_readable().splitlines()[1:]
    assert "       Input: " + "a" * 200 == lines[0]
    assert [" " * 14 + "a" * 200] * 2 == lines[1:3]
    assert " " * 14 + "a" * 197 + "..." == lines[3]
    assert "      Output: line1\\nline2" == lines[4]


def test_human_readable_is_plain_unless_colour_is_asked_for() -> None:
    """No ANSI codes by default; color=True adds them."""
    tracer = make_tracer()
    with tracer.trace("span") as span:
        pass
    assert "\x1b[" not in span.as_human_readable()
    assert "\x1b[" in span.as_human_readable(color=True)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_human_readable_tracer_colours_only_terminals_without_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A terminal gets colours unless NO_COLOR is set; other streams never do."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    for stream, coloured in [(_Terminal(), True), (io.StringIO(), False)]:
        tracer = HumanReadableTracer(stream=stream)
        with tracer.trace("span"):
            pass
        assert coloured == ("\x1b[" in stream.getvalue())
    monkeypatch.setenv("NO_COLOR", "1")
    terminal = _Terminal()
    with HumanReadableTracer(stream=terminal).trace("span"):
        pass
    assert "\x1b[" not in terminal.getvalue()


def test_human_readable_tracer_writes_a_blank_line_after_each_span() -> None:
    """Each record is as_human_readable() plus an empty line, children first."""
    stream = io.StringIO()
    tracer = HumanReadableTracer(stream=stream, clock=StepClock(), id_generator=SequentialIds())
    with tracer.trace("parent") as parent, tracer.trace("child") as child:
        pass
    assert child.as_human_readable() + "\n" + parent.as_human_readable() + "\n" == stream.getvalue()


def json_lines(tracer: StructuredLogsTracer) -> list[dict[str, Any]]:
    """The records the tracer wrote, parsed strictly (NaN/Infinity rejected)."""
    stream = tracer.stream
    assert isinstance(stream, io.StringIO)

    def reject(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return [json.loads(line, parse_constant=reject) for line in stream.getvalue().splitlines()]


def test_json_line_keeps_types_and_microseconds_even_when_zero() -> None:
    """Numbers stay numbers; datetimes are str(datetime) with microseconds always present."""
    tracer = StructuredLogsTracer(
        stream=io.StringIO(), clock=StepClock(step_ns=1000), id_generator=SequentialIds()
    )
    tracer._clock = lambda: 1_744_748_685_000_000_000  # an exact second
    with tracer.trace("span") as span:
        span.add_attribute("int", 488044)
        span.add_attribute("float", 1.5)
        span.add_attribute("bool", True)
        span.add_attribute("none", None)
        span.add_attribute("list", [1, "a"])
    (record,) = json_lines(tracer)
    assert "2025-04-15 20:24:45.000000+00:00" == record["trace"]["started_at"]
    assert {"int": 488044, "float": 1.5, "bool": True, "none": None, "list": [1, "a"]} == record[
        "trace"
    ]["attributes"]
    assert span.span_id == record["trace"]["span_id"]


def test_json_line_carries_values_json_cannot() -> None:
    """NaN/Infinity as text, bytes as base64, sets as lists, tuple keys and objects as text."""
    tracer = StructuredLogsTracer(stream=io.StringIO())

    class Thing:
        def __str__(self) -> str:
            return "a thing"

    with tracer.trace("span") as span:
        span.add_attribute("nan", math.nan)
        span.add_attribute("inf", [math.inf, -math.inf])
        span.add_attribute("bytes", b"\x00\xff")
        span.add_attribute("set", {1})
        span.add_attribute("tuple_keys", {(1, 2): "v"})
        span.add_attribute("object", Thing())
        span.add_attribute("big", 2**100)
    (record,) = json_lines(tracer)
    assert {
        "nan": "NaN",
        "inf": ["Infinity", "-Infinity"],
        "bytes": "AP8=",
        "set": [1],
        "tuple_keys": {"(1, 2)": "v"},
        "object": "a thing",
        "big": 2**100,
    } == record["trace"]["attributes"]


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**130), max_value=2**130),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=64),
    st.builds(_Unprintable),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), children, max_size=4),
        st.dictionaries(st.tuples(st.integers(), st.integers()), children, max_size=2),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_values)
def test_any_attribute_value_yields_a_strict_json_line_and_never_raises(value: Any) -> None:
    """Property: whatever the value, tracing succeeds and the line is strict JSON."""
    tracer = StructuredLogsTracer(stream=io.StringIO())
    memory = InMemoryTracer()
    for target in (tracer, memory):
        with target.trace("span") as span:
            span.add_attribute("value", value)
            span.add_attribute("inheritable", value, inheritable=True)
        span.as_human_readable()
        repr(span)
    (record,) = json_lines(tracer)
    assert "value" in record["trace"]["attributes"]
    assert 0 == tracer.stats["persist_errors"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x" * 1_000_000, id="1 MB string"),
        pytest.param(_nested(5000), id="deeply nested"),
        pytest.param(_nested(600), id="nested past the JSON encoder's comfort"),
        pytest.param(_Unprintable(), id="str and repr raise"),
    ],
)
def test_extreme_values_are_stored_safely(value: Any) -> None:
    """Huge, deep or unprintable values never raise and still give a strict JSON line."""
    tracer = StructuredLogsTracer(stream=io.StringIO())
    with tracer.trace("span") as span:
        span.add_attribute("value", value)
    (record,) = json_lines(tracer)
    assert "value" in record["trace"]["attributes"]
    span.as_human_readable()


def test_cyclic_values_do_not_break_the_line() -> None:
    """A list that contains itself is stored and encoded with a cycle marker."""
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    tracer = StructuredLogsTracer(stream=io.StringIO())
    with tracer.trace("span") as span:
        span.add_attribute("cyclic", cyclic)
    (record,) = json_lines(tracer)
    assert [1, "<cycle>"] == record["trace"]["attributes"]["cyclic"]
