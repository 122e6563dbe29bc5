"""``Spans``: ended spans in start order, with the queries agent tests ask of them."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, overload

from .._genai_semconv import MODEL_ATTRIBUTE, USAGE_ATTRIBUTE, token_usage
from .._query import attribute_matches, build_tree, matches_filter
from .._trace import Trace
from ._tree import render_tree

TRACE_TYPE: Final = "ai.trace.type"
TOOL_NAME: Final = "ai.tool.name"
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts summed over LLM calls, as Bedrock's Converse API reports them."""

    input: int = 0
    output: int = 0
    total: int = 0


class Spans(Sequence[Trace]):
    """Ended spans, ordered by start time (spans starting together keep their given order).

    A sequence of ``Trace``: index it, slice it (a slice is a ``Spans``), iterate it, compare it
    with a list (``[] == spans.errors()``). The queries return new ``Spans`` and never change
    this one. ``capture_spans`` yields one that grows while its block runs; reading it from
    several threads is safe.
    """

    __slots__ = ("_closed", "_items", "_lock", "_seen")

    def __init__(self, spans: Iterable[Trace] = ()) -> None:
        self._items: list[Trace] = sorted(spans, key=_start)
        self._seen: set[int] | None = None
        self._closed = False
        self._lock = threading.Lock()

    def _add(self, span: Trace) -> None:
        """Insert ``span`` in start order unless it is here already or ``_close`` was called
        (a capture's sink)."""
        with self._lock:
            if self._closed:
                return  # a thread that ended its span as the capture closed
            seen = self._seen
            if seen is None:
                seen = self._seen = {id(s) for s in self._items}
            if id(span) in seen:
                return
            seen.add(id(span))
            bisect.insort(self._items, span, key=_start)

    def _close(self) -> None:
        with self._lock:
            self._closed = True

    def _snapshot(self) -> list[Trace]:
        with self._lock:
            return list(self._items)

    # -- the sequence --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Trace: ...

    @overload
    def __getitem__(self, index: slice) -> Spans: ...

    def __getitem__(self, index: int | slice) -> Trace | Spans:
        if isinstance(index, slice):
            return Spans(self._snapshot()[index])
        return self._snapshot()[index]

    def __iter__(self) -> Iterator[Trace]:
        return iter(self._snapshot())

    def __eq__(self, other: object) -> bool:
        """Equal to a ``Spans``, list or tuple holding equal spans in the same order."""
        if isinstance(other, Spans):
            return self._snapshot() == other._snapshot()
        if isinstance(other, (list, tuple)):
            return self._snapshot() == list(other)
        return NotImplemented

    # Unhashable like a list: a capture fills it while its block runs.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Spans({[span.span_name for span in self._snapshot()]!r})"

    # -- queries -------------------------------------------------------------------------------

    def filter(self, predicate: Callable[[Trace], bool]) -> Spans:
        """The spans for which ``predicate(span)`` is true."""
        return Spans(span for span in self._snapshot() if predicate(span))

    def with_attributes(self, attributes: Mapping[str, Any]) -> Spans:
        """The spans whose attributes (inherited ones included) match every item exactly:
        same type, equal value, as ``get_traces(attribute_filter=...)`` matches."""
        return self.filter(lambda span: matches_filter(span, attributes))

    def tool_calls(self, name: str | None = None) -> Spans:
        """The ``tool-invocation`` spans, of the tool ``name`` (``ai.tool.name``) when given."""
        return self.filter(
            lambda span: (
                span._attrs.get(TRACE_TYPE) == "tool-invocation"
                and (name is None or attribute_matches(span._attrs.get(TOOL_NAME, _MISSING), name))
            )
        )

    def llm_calls(self, model: str | None = None) -> Spans:
        """The ``llm-invocation`` spans, of ``model`` (``ai.llm.request.model.id``) when given."""
        return self.filter(
            lambda span: (
                span._attrs.get(TRACE_TYPE) == "llm-invocation"
                and (
                    model is None
                    or attribute_matches(span._attrs.get(MODEL_ATTRIBUTE, _MISSING), model)
                )
            )
        )

    def errors(self) -> Spans:
        """The spans that ended with status ``ERROR``."""
        return self.filter(lambda span: span._status == "ERROR")

    def turns(self) -> list[Spans]:
        """One ``Spans`` per turn, in start order: a ``converse`` span (``ai.trace.type``) and
        all its descendants here, the ``converse`` span first.

        A ``converse`` span inside another (a sub-agent called as a tool) belongs to the
        enclosing turn, not a turn of its own.
        """
        turns: list[Spans] = []
        pending = list(build_tree(self._snapshot()))
        while pending:
            node = pending.pop()
            if node.span._attrs.get(TRACE_TYPE) == "converse":
                # Start order with the converse span first, even when a child starts with it.
                turns.append(Spans(n.span for n in node.walk()))
            else:
                pending.extend(node.children)
        turns.sort(key=lambda turn: _start(turn._items[0]))
        return turns

    def within(self, span: Trace) -> Spans:
        """``span`` and its descendants among these spans (empty when ``span`` is not here)."""
        pending = list(build_tree(self._snapshot()))
        while pending:
            node = pending.pop()
            if node.span is span:
                return Spans(n.span for n in node.walk())
            pending.extend(node.children)
        return Spans()

    def values(self, key: str) -> list[Any]:
        """The value of attribute ``key`` of each span that has it, in start order."""
        return [span._attrs[key] for span in self._snapshot() if key in span._attrs]

    def tokens(self) -> TokenUsage:
        """Token usage summed over the spans with ``ai.llm.response.usage`` (the LLM calls).

        ``inputTokens``/``outputTokens`` (or ``input_tokens``/``output_tokens``) are summed;
        ``total`` sums ``totalTokens`` where a span reports it, else its input plus output.
        """
        tokens_in = tokens_out = total = 0
        for span in self._snapshot():
            attrs = span._attrs
            if USAGE_ATTRIBUTE not in attrs:
                continue
            span_in, span_out = token_usage(attrs)
            tokens_in += span_in or 0
            tokens_out += span_out or 0
            usage = attrs[USAGE_ATTRIBUTE]
            reported = (
                usage.get("totalTokens", usage.get("total_tokens"))
                if isinstance(usage, Mapping)
                else None
            )
            total += reported if type(reported) is int else (span_in or 0) + (span_out or 0)
        return TokenUsage(input=tokens_in, output=tokens_out, total=total)

    def as_tree(self, *, attributes: Sequence[str] = ()) -> str:
        """The spans as an indented tree, one line per span, for snapshot tests.

        Ids and times are left out and children follow their start order, so the text is the
        same on every run of deterministic code. Each line shows the span's name, kind (unless
        ``INTERNAL``), status (unless ``UNSET``), ``ai.trace.type`` (unless it is the name), the
        agent, model, tool and tool input, token usage as ``tokens=<input>/<output>``, the
        error, then each of ``attributes`` the span has. Text values that are simple words are
        shown bare, others as JSON; structured values as JSON with sorted keys. Ends with a
        newline unless empty.
        """
        return "".join(f"{line}\n" for line in render_tree(self._snapshot(), attributes=attributes))


def _start(span: Trace) -> int:
    return span._start_ns
