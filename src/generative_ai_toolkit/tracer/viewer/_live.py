"""Live updates for the web viewer, over nothing but ``TraceQuery``.

``updates`` answers the page's polls (stateless: the page keeps the marks); ``LiveFeed`` tells
one event stream what changed since it last asked; ``ReloadingQuery`` keeps a
JSON-lines file's spans current while an agent appends to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .._clock import datetime_from_ns
from .._pricing import Pricing
from .._query import ConversationFilter, ConversationSummary, SpanNode, TraceQuery
from .._snapshot import last_seen_ns
from .._trace import Trace
from ._json import span_key, span_outline, summary_json

_log = logging.getLogger(__name__)

#: Spans that end up to this long before the page's newest one are sent again when live
#: updates (re)connect: stores may write a span after a later-ending one; the page de-duplicates.
LIVE_OVERLAP_US: Final = 10_000_000
#: How many matching conversations a poll asks for when looking for the followed one.
_MARK_PAGE: Final = 100


def list_mark(query: TraceQuery) -> tuple[str, ConversationSummary | None]:
    """What changes whenever the conversations list does (as text), and the top summary."""
    top = query.list_conversations(None, limit=1)
    if not top:
        return "", None
    first = top[0]
    return f"{first.conversation_id}\n{first.last_ended_at.isoformat()}\n{first.span_count}", first


def conversation_summary(query: TraceQuery, conversation: str) -> ConversationSummary | None:
    """The conversation's summary, or None when it is not on the first page of matches."""
    found = query.list_conversations(ConversationFilter(search=conversation), limit=100)
    return next((s for s in found if s.conversation_id == conversation), None)


def conversation_mark(summary: ConversationSummary | None) -> str:
    """Text that changes whenever a span is added to the conversation ("" when unknown)."""
    if summary is None:
        return ""
    return f"{summary.span_count}/{summary.error_count}/{summary.last_ended_at.isoformat()}"


def spans_mark(spans: Sequence[Trace]) -> str:
    """``conversation_mark`` as the conversation's summary would give it for exactly ``spans``
    (no second query; should a store count differently, the next poll reads the spans once)."""
    if not spans:
        return ""
    ended = [s for s in spans if s._end_ns]
    errors = sum(1 for s in ended if s._status == "ERROR")
    last = datetime_from_ns(max(last_seen_ns(s) for s in spans))
    return f"{len(ended)}/{errors}/{last.isoformat()}"


def updates(
    query: TraceQuery,
    conversation: str | None,
    *,
    mark: str,
    since_us: int,
    pricing: Pricing | None = None,
) -> dict[str, Any]:
    """One poll of the page, stateless: the list's mark and top summary and, when following a
    conversation whose mark is not ``mark`` (or unknown), its spans that ended at or after
    ``since_us`` less the overlap. The page keeps the marks and ignores spans it already has.
    """
    mark_now, top = list_mark(query)
    answer: dict[str, Any] = {
        "list_mark": mark_now,
        "latest": summary_json(top, pricing) if top else None,
    }
    if conversation is not None:
        summary = conversation_summary(query, conversation)
        current = conversation_mark(summary)
        spans: list[Trace] = []
        if not current or current != mark:
            cutoff = since_us - LIVE_OVERLAP_US
            spans = [
                s
                for s in query.conversation_spans(conversation, include_open=True)
                if last_seen_ns(s) // 1000 >= cutoff
            ]
        answer["conversation"] = {
            "mark": current,
            "span_count": None if summary is None else summary.span_count,
            "auth_context": None if summary is None else summary.auth_context,
            "spans": [span_outline(s, pricing) for s in spans],
        }
    return answer


class LiveFeed:
    """What changed since the last ``poll()``: the list of conversations, and (when following
    one) the conversation's new spans. Built on ``TraceQuery`` alone: cheap summaries say
    whether anything changed, the spans are read only then."""

    def __init__(
        self,
        query: TraceQuery,
        conversation: str | None,
        *,
        since_us: int,
        pricing: Pricing | None = None,
    ) -> None:
        self._query = query
        self._pricing = pricing
        self._conversation = conversation
        self._since_us = since_us - LIVE_OVERLAP_US
        self._list_mark: object = None
        self._conversation_mark: object = None
        self._seen: set[tuple[tuple[int, int], int]] | None = None
        self._conversation_since = datetime_from_ns(max(self._since_us, 0) * 1000)

    def poll(self) -> list[tuple[str, Any]]:
        """``[(event, data), ...]`` for what changed; the first poll reports spans only."""
        events: list[tuple[str, Any]] = []
        mark, top = list_mark(self._query)
        if self._list_mark is not None and mark != self._list_mark:
            latest = summary_json(top, self._pricing) if top else None
            events.append(("conversations", {"latest": latest}))
        self._list_mark = mark
        if self._conversation is not None:
            spans = self._new_spans(self._conversation)
            if spans:
                outlines = [span_outline(s, self._pricing) for s in spans]
                events.append(("spans", {"spans": outlines}))
        return events

    def _new_spans(self, conversation: str) -> list[Trace]:
        mark = self._summary_mark(conversation)
        if mark is not None and mark == self._conversation_mark and self._seen is not None:
            return []
        self._conversation_mark = mark
        spans = self._query.conversation_spans(conversation, include_open=True)
        if self._seen is None:
            self._seen = set()
            fresh = [s for s in spans if last_seen_ns(s) // 1000 >= self._since_us]
        else:
            # A newer snapshot of an open span, or its end, is news too.
            fresh = [s for s in spans if _seen_key(s) not in self._seen]
        self._seen.update(_seen_key(s) for s in spans)
        return fresh

    def _summary_mark(self, conversation: str) -> object:
        # A conversation's summary changes whenever a span is added to it. Only conversations
        # active since this one's last known activity are asked for, so a poll reads what
        # changed, not every conversation (a Query on DynamoDB's summary index). None: not
        # found on a full page of matches, so the spans are read on every poll instead.
        since = self._conversation_since
        where = ConversationFilter(search=conversation, since=since)
        found = self._query.list_conversations(where, limit=_MARK_PAGE)
        for summary in found:
            if summary.conversation_id == conversation:
                self._conversation_since = summary.last_ended_at
                return (summary.span_count, summary.last_ended_at, summary.error_count)
        return None if len(found) >= _MARK_PAGE else ("quiet since", since)


def _seen_key(span: Trace) -> tuple[tuple[int, int], int]:
    return span_key(span), last_seen_ns(span)


class ReloadingQuery:
    """``TraceQuery`` over a file that grows while it is read (a JSON-lines log): ``load()``
    runs again whenever ``version()`` (say, the file's size and mtime) changes. A reload that
    fails (a line half-written) keeps the previous contents and is retried on the next read."""

    def __init__(self, load: Callable[[], TraceQuery], version: Callable[[], object]) -> None:
        self._load = load
        self._version = version
        self._lock = threading.Lock()
        self._seen = version()
        self._query = load()

    def _current(self) -> TraceQuery:
        with self._lock:
            version = self._version()
            if version != self._seen:
                try:
                    self._query = self._load()
                    self._seen = version
                except Exception as exc:  # noqa: BLE001 - a half-written file: try again later
                    _log.info("re-reading the trace file failed, keeping the old spans: %s", exc)
            return self._query

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        include_open: bool = False,
    ) -> Sequence[Trace]:
        return self._current().get_traces(trace_id, attribute_filter, include_open=include_open)

    def list_conversations(
        self, where: ConversationFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        return self._current().list_conversations(where, limit=limit, offset=offset)

    def conversation_spans(
        self, conversation_id: str, *, auth_context: str | None = None, include_open: bool = False
    ) -> list[Trace]:
        return self._current().conversation_spans(
            conversation_id, auth_context=auth_context, include_open=include_open
        )

    def trace_tree(self, trace_id: str, *, include_open: bool = False) -> list[SpanNode]:
        return self._current().trace_tree(trace_id, include_open=include_open)
