"""Assertions over spans that fail with the spans shown as a tree, the relevant ones marked.

They raise ``AssertionError``, so any test runner reports them; pytest hides their own frames
(``__tracebackhide__``) and shows the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from .._trace import Trace
from ._spans import Spans
from ._tree import message_tree

_ANY: Final[Any] = object()


def assert_called_tool(
    spans: Iterable[Trace], name: str, *, input: Any = _ANY, times: int | None = None
) -> Spans:
    """Assert that tool ``name`` was called (with exactly ``input``, when given): at least once,
    or exactly ``times`` times when given (``times=0``: never). Returns the matching calls.

    ``input`` is compared with ``==`` to the span's ``ai.tool.input``.
    """
    __tracebackhide__ = True
    spans = _as_spans(spans)
    calls = spans.tool_calls(name)
    matching = calls if input is _ANY else calls.filter(lambda s: _tool_input(s) == input)
    if (len(matching) > 0) if times is None else (len(matching) == times):
        return matching
    with_input = "" if input is _ANY else f" with input {input!r}"
    if times == 0:
        expected = f"never to be called{with_input}"
    else:
        expected = f"to be called {'at least once' if times is None else _times(times)}{with_input}"
    if not calls:
        actual = "it was never called"
    elif input is _ANY or len(matching) == len(calls):
        actual = f"it was called {_times(len(calls))}"
    else:
        actual = f"it was called {_times(len(calls))}, {_times(len(matching))} with that input"
    if times == 0:
        marked, what = matching, "those calls"
    elif calls:
        marked, what = calls, "its calls"
    else:
        marked, what = spans.tool_calls(), "the tool calls"
    raise _failure(f"expected tool {name!r} {expected}, but {actual}", spans, marked, what)


def assert_no_errors(spans: Iterable[Trace]) -> None:
    """Assert that no span ended with status ``ERROR``."""
    __tracebackhide__ = True
    spans = _as_spans(spans)
    errors = spans.errors()
    if errors:
        count = f"{len(errors)} span{'s' * (len(errors) != 1)}"
        raise _failure(
            f"expected no errors, but {count} ended with status ERROR", spans, errors, "the errors"
        )


def assert_tool_order(spans: Iterable[Trace], *names: str) -> None:
    """Assert that within one turn, the tools ``names`` were called in this order (by start
    time; other calls may come between). Without ``converse`` spans, all ``spans`` are one turn.
    """
    __tracebackhide__ = True
    if not names:
        raise ValueError("assert_tool_order needs at least one tool name")
    spans = _as_spans(spans)
    turns = spans.turns() or [spans]
    called = [[_tool_name(s) for s in turn.tool_calls()] for turn in turns]
    if any(_in_order(names, turn) for turn in called):
        return
    wanted = ", then ".join(repr(name) for name in names)
    seen = "; ".join(
        f"turn {n}: {', '.join(repr(name) for name in turn) or 'no tools'}"
        for n, turn in enumerate(called, start=1)
    )
    raise _failure(
        f"expected tools {wanted} within one turn, but the tools called by turn were: {seen}",
        spans,
        spans.tool_calls(),
        "the tool calls",
    )


def _failure(summary: str, spans: Spans, marked: Spans, what: str) -> AssertionError:
    return AssertionError(f"{summary}.\nThe spans (> marks {what}):\n{message_tree(spans, marked)}")


def _as_spans(spans: Iterable[Trace]) -> Spans:
    return spans if isinstance(spans, Spans) else Spans(spans)


def _tool_input(span: Trace) -> Any:
    return span._attrs.get("ai.tool.input", _ANY)


def _tool_name(span: Trace) -> str:
    return str(span._attrs.get("ai.tool.name"))


def _in_order(names: Sequence[str], called: Sequence[str]) -> bool:
    """Whether ``names`` is a subsequence of ``called``."""
    rest = iter(called)
    return all(name in rest for name in names)


def _times(count: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(count, f"{count} times")
