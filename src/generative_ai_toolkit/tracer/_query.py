"""The one read interface over stored spans, which the CLI and the web viewer use.

Every store (``InMemoryTracer``, ``SqliteTracer``, ``DynamoDbTracer``, a JSON-lines file)
offers ``TraceQuery``. ``SpanListQuery`` implements it over any list of spans; stores with
indexes implement the same methods natively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

from ._clock import datetime_from_ns
from ._pricing import Cost, PricingSource, as_pricing
from ._snapshot import last_seen_ns
from ._trace import Trace
from ._usage import NO_USAGE, Usage, UsageByModel, rollup

CONVERSATION_ID: Final = "ai.conversation.id"
_MISSING: Final = object()
AUTH_CONTEXT: Final = "ai.auth.context"


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One conversation: the spans carrying one ``ai.conversation.id``.

    ``conversation_id`` is the id as text (stores index it as text). ``total_duration_ns`` is the
    summed duration of the conversation's root spans (its turns). ``usage`` is the token usage
    of its LLM calls, ``usage_by_model`` the same per model id (sorted; see ``_usage``).
    """

    conversation_id: str
    auth_context: str | None
    first_started_at: datetime
    last_ended_at: datetime
    span_count: int
    error_count: int
    trace_count: int
    total_duration_ns: int
    usage: Usage = NO_USAGE
    usage_by_model: UsageByModel = ()

    def cost(self, pricing: PricingSource) -> Cost | None:
        """This conversation's cost under ``pricing`` (see ``pricing.Pricing.cost``)."""
        found = as_pricing(pricing)
        return None if found is None else found.cost(self.usage_by_model)


@dataclass(frozen=True, slots=True)
class SpanNode:
    """A span with its children (ordered by start time), as in ``TraceQuery.trace_tree``."""

    span: Trace
    children: list[SpanNode] = field(default_factory=list)
    depth: int = 0

    def walk(self) -> Iterable[SpanNode]:
        """This node, then its descendants depth-first, in start order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """What ``list_conversations`` returns: all given conditions hold.

    ``since``/``until`` keep the conversations active within that window: last span ended at or
    after ``since``, first span started at or before ``until``. ``search`` is a substring of
    the conversation id, in any case (ASCII letters only in SQLite); ``auth_context`` matches
    exactly (a tenant's scope: ``"bob"`` never lists ``"bobby"``); ``auth_search`` is a
    substring of the auth context in any case, as ``search`` is of the id (for people looking
    for one; conversations without an auth context never match it).
    """

    auth_context: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    errors_only: bool = False
    search: str | None = None
    auth_search: str | None = None


@runtime_checkable
class TraceQuery(Protocol):
    """Reading spans back: by trace, by conversation, and conversations as a list."""

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> Sequence[Trace]:
        """Ended spans matching ``trace_id`` and every ``attribute_filter`` item, by start;
        with ``include_open``, also the latest snapshot of each span still open."""
        ...

    def list_conversations(
        self, where: ConversationFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations matching ``where``, most recently active first, one page."""
        ...

    def conversation_spans(
        self, conversation_id: str, *, auth_context: str | None = None, include_open: bool = False
    ) -> list[Trace]:
        """Every ended span of one conversation (ids compared as text), by start time; with
        ``include_open``, open ones too."""
        ...

    def trace_tree(self, trace_id: str, *, include_open: bool = False) -> list[SpanNode]:
        """The ended spans of one trace as trees (normally one root), children by start
        time; with ``include_open``, open ones too."""
        ...


def attribute_matches(actual: Any, expected: Any) -> bool:
    """Exact match: equal values of the same type (so ``True`` does not match ``1``)."""
    return type(actual) is type(expected) and actual == expected


def matches_filter(trace: Trace, attribute_filter: Mapping[str, Any]) -> bool:
    """Whether ``trace`` (inherited attributes included) matches every filter item exactly."""
    attrs = trace._attrs
    return all(
        attribute_matches(attrs.get(key, _MISSING), value)
        for key, value in attribute_filter.items()
    )


def sorted_by_start(traces: Iterable[Trace]) -> list[Trace]:
    """Spans ordered by start time; a parent starting with its child comes first (stable sort)."""
    return sorted(traces, key=_start_key)


def _start_key(trace: Trace) -> int:
    return trace._start_ns


def conversation_key(value: Any) -> str | None:
    """A conversation id as stores index it: text (``488044`` -> ``"488044"``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return str(value)


def summarize(traces: Iterable[Trace]) -> dict[str, ConversationSummary]:
    """Per conversation id (as text), a summary of the given spans."""
    groups: dict[str, list[Trace]] = {}
    for span in traces:
        key = conversation_key(span._attrs.get(CONVERSATION_ID))
        if key is not None:
            groups.setdefault(key, []).append(span)
    return {key: _summary(key, spans) for key, spans in groups.items()}


def _summary(key: str, spans: list[Trace]) -> ConversationSummary:
    # Open spans (snapshots) are activity, but a span is counted once it has ended.
    ids = {s._span_id for s in spans}
    roots = [s for s in spans if not s._parent_id or s._parent_id not in ids]
    auth = next(
        (str(s._attrs[AUTH_CONTEXT]) for s in spans if s._attrs.get(AUTH_CONTEXT) is not None),
        None,
    )
    usage, by_model = rollup(s for s in spans if s._end_ns)
    return ConversationSummary(
        conversation_id=key,
        auth_context=auth,
        first_started_at=datetime_from_ns(min(s._start_ns for s in spans)),
        last_ended_at=datetime_from_ns(max(last_seen_ns(s) for s in spans)),
        span_count=sum(1 for s in spans if s._end_ns),
        error_count=sum(1 for s in spans if s._status == "ERROR" and s._end_ns),
        trace_count=len({s._trace_id for s in spans}),
        total_duration_ns=sum(last_seen_ns(s) - s._start_ns for s in roots),
        usage=usage,
        usage_by_model=by_model,
    )


def filter_summaries(
    summaries: Iterable[ConversationSummary],
    where: ConversationFilter | None,
    *,
    limit: int,
    offset: int,
) -> list[ConversationSummary]:
    """Apply ``where``, sort most recently active first, and cut one page."""
    where = where or ConversationFilter()
    selected = [
        s
        for s in summaries
        if (where.auth_context is None or s.auth_context == where.auth_context)
        and (where.since is None or s.last_ended_at >= where.since)
        and (where.until is None or s.first_started_at <= where.until)
        and (not where.errors_only or s.error_count > 0)
        and (not where.search or where.search.casefold() in s.conversation_id.casefold())
        and (not where.auth_search or contains_folded(s.auth_context, where.auth_search))
    ]
    selected.sort(key=lambda s: (s.last_ended_at, s.conversation_id), reverse=True)
    return selected[offset : offset + limit]


def contains_folded(text: str | None, part: str) -> bool:
    """Whether ``part`` is in ``text`` in any case (a missing text contains nothing)."""
    return text is not None and part.casefold() in text.casefold()


def build_tree(traces: Iterable[Trace]) -> list[SpanNode]:
    """Arrange spans into trees by ``parent_span_id``; spans whose parent is missing are roots."""
    ordered = sorted_by_start(traces)
    by_id = {s._span_id: s for s in ordered}
    children: dict[int, list[Trace]] = {}
    roots: list[Trace] = []
    for span in ordered:
        if span._parent_id and span._parent_id in by_id and span._parent_id != span._span_id:
            children.setdefault(span._parent_id, []).append(span)
        else:
            roots.append(span)

    def node(span: Trace, depth: int, seen: frozenset[int]) -> SpanNode:
        kids = [
            node(child, depth + 1, seen | {span._span_id})
            for child in children.get(span._span_id, [])
            if child._span_id not in seen
        ]
        return SpanNode(span=span, children=kids, depth=depth)

    return [node(root, 0, frozenset()) for root in roots]


class SpanListQuery:
    """``TraceQuery`` over spans held in a list, for stores without indexes of their own
    (a JSON-lines file) and for the in-memory tracer."""

    def __init__(self, spans: Iterable[Trace]) -> None:
        self._all = sorted_by_start(latest_per_span(spans))
        self._spans = [s for s in self._all if s._end_ns]

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> list[Trace]:
        """Spans matching ``trace_id`` and every filter item exactly, by start time."""
        wanted = int(trace_id, 16) if trace_id is not None else None
        return [
            s
            for s in (self._all if include_open else self._spans)
            if (wanted is None or s._trace_id == wanted)
            and (not attribute_filter or matches_filter(s, attribute_filter))
        ]

    def list_conversations(
        self, where: ConversationFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations matching ``where``, most recently active first."""
        summaries = summarize(self._all).values()
        return filter_summaries(summaries, where, limit=limit, offset=offset)

    def conversation_spans(
        self, conversation_id: str, *, auth_context: str | None = None, include_open: bool = False
    ) -> list[Trace]:
        """Every span whose ``ai.conversation.id`` reads as ``conversation_id``, by start."""
        spans = self._all if include_open else self._spans
        return spans_of_conversation(spans, conversation_id, auth_context)

    def trace_tree(self, trace_id: str, *, include_open: bool = False) -> list[SpanNode]:
        """The spans of ``trace_id`` as trees."""
        return build_tree(self.get_traces(trace_id=trace_id, include_open=include_open))


def latest_per_span(spans: Iterable[Trace]) -> list[Trace]:
    """The spans with at most one snapshot per open span: snapshots of a span that has ended
    are left out, and of the others the latest is kept (a log written with snapshots holds
    several records per span). Ended spans are all kept, as they are."""
    ended: list[Trace] = []
    latest: dict[tuple[int, int], Trace] = {}
    for span in spans:
        if span._end_ns:
            ended.append(span)
            continue
        key = (span._trace_id, span._span_id)
        held = latest.get(key)
        if held is None or newer_view(span, held):
            latest[key] = span
    if latest:
        for span in ended:
            latest.pop((span._trace_id, span._span_id), None)
    return [*ended, *latest.values()]


def newer_view(span: Trace, held: Trace) -> bool:
    """Whether ``span`` replaces ``held``, an open span's snapshot: an ended span always does,
    a snapshot when it was taken later."""
    if span._end_ns:
        return True
    return bool(getattr(span, "_snapshot_ns", 0) > getattr(held, "_snapshot_ns", 0))


def spans_of_conversation(
    spans: Iterable[Trace], conversation_id: str, auth_context: str | None
) -> list[Trace]:
    """The spans of one conversation (and auth context, when given), by start time."""
    return [
        s
        for s in spans
        if conversation_key(s._attrs.get(CONVERSATION_ID)) == conversation_id
        and (auth_context is None or s._attrs.get(AUTH_CONTEXT) == auth_context)
    ]
