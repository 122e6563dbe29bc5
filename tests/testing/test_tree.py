"""``Spans.as_tree()``: a stable text rendering for snapshot tests."""

from __future__ import annotations

from textwrap import dedent

from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.testing import SequentialIds, Spans, StepClock, ended_span
from generative_ai_toolkit.tracer.testing._tree import MESSAGE_LINES, message_tree
from testing.agent import Tool, converse


def run_agent(tracer: InMemoryTracer) -> Spans:
    """Two turns of the scripted agent, the second with a failing tool."""
    converse(tracer, "Weather in Paris?", Tool("get_weather", {"city": "Paris", "unit": "C"}))
    converse(
        tracer,
        "Where is order A-9?",
        Tool("lookup_order", {"order_id": "A-9"}, error="order A-9 does not exist"),
    )
    return Spans(tracer.get_traces())


def test_as_tree_is_one_indented_line_per_span() -> None:
    """Name, kind, status, agent, model, tool and input, tokens and errors; no ids or times."""
    spans = run_agent(InMemoryTracer(clock=StepClock(), id_generator=SequentialIds()))
    assert (
        dedent(
            """\
            converse SERVER OK agent=assistant
              llm-invocation CLIENT model=fake-model-1 tokens=10/5
              tool-invocation tool=get_weather input={"city": "Paris", "unit": "C"}
              llm-invocation CLIENT model=fake-model-1 tokens=10/5
            converse SERVER OK agent=assistant
              llm-invocation CLIENT model=fake-model-1 tokens=10/5
              tool-invocation ERROR tool=lookup_order input={"order_id": "A-9"} error="LookupError: order A-9 does not exist"
              llm-invocation CLIENT model=fake-model-1 tokens=10/5
            """  # noqa: E501 - the snapshot's lines are as long as they are
        )
        == spans.as_tree()
    )


def test_as_tree_is_the_same_with_random_ids_and_the_real_clock() -> None:
    """Nothing that changes between runs is shown."""
    deterministic = run_agent(InMemoryTracer(clock=StepClock(), id_generator=SequentialIds()))
    assert deterministic.as_tree() == run_agent(InMemoryTracer()).as_tree()


def test_as_tree_shows_the_attributes_asked_for() -> None:
    """Extra attributes follow, as ``key=value``, on the spans that have them."""
    spans = run_agent(InMemoryTracer())
    lines = spans.as_tree(attributes=["ai.user.input", "ai.conversation.id"]).splitlines()
    assert (
        'converse SERVER OK agent=assistant ai.user.input="Weather in Paris?" '
        "ai.conversation.id=c-1"
    ) == lines[0]
    assert (
        "  llm-invocation CLIENT model=fake-model-1 tokens=10/5 ai.conversation.id=c-1" == lines[1]
    )


def test_values_are_bare_words_or_json() -> None:
    """Words bare; other text, numbers, JSON literals as text, and structures as JSON."""
    attributes = {
        "word": "fake-model-1",
        "text": "two words",
        "number_text": "42",
        "literal_text": "true",
        "number": 42,
        "flag": True,
        "nothing": None,
        "structure": {"b": [1, 2], "a": "x"},
        "mixed_keys": {1: "one", "two": 2},
    }
    span = ended_span("s", trace_id=1, span_id=1, start_ns=1, attributes=attributes)
    assert (
        's word=fake-model-1 text="two words" number_text="42" literal_text="true" number=42 '
        'flag=true nothing=null structure={"a": "x", "b": [1, 2]} '
        'mixed_keys={"1":"one","two":2}\n'
    ) == Spans([span]).as_tree(attributes=list(attributes))


def test_kind_status_type_and_errors_show_when_they_say_something() -> None:
    """INTERNAL and UNSET are left out, a trace type equal to the name too; an ERROR span
    without an error attribute shows its exception; a name stays on one line."""
    spans = Spans(
        [
            ended_span("plain", trace_id=1, span_id=1, start_ns=1),
            ended_span(
                "fetch",
                trace_id=1,
                span_id=2,
                parent_id=1,
                start_ns=2,
                kind="CLIENT",
                status="ERROR",
                attributes={
                    "ai.trace.type": "http",
                    "exception.type": "TimeoutError",
                    "exception.message": "read timed out",
                },
            ),
            ended_span("bare-error", trace_id=1, span_id=3, start_ns=3, status="ERROR"),
            ended_span("two\nlines", trace_id=1, span_id=4, start_ns=4),
        ]
    )
    assert (
        dedent(
            """\
            plain
              fetch CLIENT ERROR type=http error="TimeoutError: read timed out"
            bare-error ERROR
            two\\nlines
            """
        )
        == spans.as_tree()
    )


def test_children_follow_their_start_and_orphans_are_roots() -> None:
    """Siblings in start order, whatever order they ended in; a span whose parent is not
    among the spans is a root."""
    spans = Spans(
        [
            ended_span("second", trace_id=1, span_id=3, parent_id=1, start_ns=30),
            ended_span("first", trace_id=1, span_id=2, parent_id=1, start_ns=20),
            ended_span("root", trace_id=1, span_id=1, start_ns=10),
            ended_span("orphan", trace_id=1, span_id=4, parent_id=99, start_ns=40),
        ]
    )
    assert "root\n  first\n  second\norphan\n" == spans.as_tree()
    assert "" == Spans().as_tree()


def test_failure_messages_cut_long_trees() -> None:
    """A message shows at most MESSAGE_LINES spans, then how many more there are."""
    spans = Spans(ended_span(f"s{n}", trace_id=1, span_id=n, start_ns=n) for n in range(1, 206))
    lines = message_tree(spans, marked=[spans[0]]).splitlines()
    assert MESSAGE_LINES + 1 == len(lines)
    assert ["  > s1", "    s2"] == lines[:2]
    assert "    ... 5 more spans" == lines[-1]
