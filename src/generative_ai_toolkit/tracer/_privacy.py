"""``SpanPolicy``: a tracer's ``redact=`` and ``sampler=`` options, wired in at construction.

A tracer without either option never meets this module: its ``trace`` and ``persist`` are the
class's own. With one, the tracer's ``trace`` (head sampling) and ``persist`` (conversation and
tail sampling, then redaction) are replaced on the instance by the paths built here, so only
what is configured costs anything. Exporting tracers redact on their background worker instead
(``RedactingWriter``), and ``InMemoryTracer`` when its spans are first read: the agent's thread
pays nothing for it.

Nothing here raises into the traced code: a failing redactor turns that value into
``[REDACTED:error]`` (counted in ``stats["redaction_errors"]``, logged once per cause), and a
failing sampler keeps the span.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from ._head import TraceFn, head_sampling_trace
from ._ids import IdGenerator
from ._redact import Redact, RedactedSpan, redact_span
from ._sampling import (
    ConversationRatio,
    Sampler,
    TailBuffer,
    TailSampler,
    TraceIdRatio,
    conversation_of,
    keeps_trace_id,
)
from ._span import Scope
from ._trace import Trace
from ._writer import SpanWriter

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: Conversation decisions remembered (each is cheap to recompute; this only saves the hash).
_CONVERSATIONS_REMEMBERED: Final = 10_000
#: Distinct causes of redaction failures logged with their traceback; later ones are counted.
_CAUSES_LOGGED: Final = 100

PersistFn = Callable[[Trace], None]


class PolicyOwner(Protocol):
    """What a policy needs of its tracer (``BaseTracer`` has all of it)."""

    _clock: Callable[[], int] | None
    _ids: IdGenerator
    _resource: Any
    _scope: Scope

    def persist(self, trace: Trace) -> None: ...

    def _persist_failed(self, trace: Trace) -> None: ...

    def _snapshot_now(self, span: Trace) -> None: ...

    def shutdown(self) -> None: ...


class SpanPolicy:
    """One tracer's redaction and sampling, and their counts."""

    def __init__(
        self,
        *,
        redact: Redact | None,
        sampler: Sampler | None,
        redact_later: bool = False,
    ) -> None:
        if redact is not None and not callable(redact):
            raise ValueError(
                f"redact must be a callable (key, value, span) -> value, not {redact!r}"
            )
        if sampler is not None and not isinstance(
            sampler, TraceIdRatio | ConversationRatio | TailSampler
        ):
            raise ValueError(
                "sampler must be a sampling.TraceIdRatio, ConversationRatio or TailSampler, "
                f"not {sampler!r}"
            )
        self.redact = redact
        self.sampler = sampler
        self.redact_later = redact_later
        self.tail = TailBuffer(sampler) if isinstance(sampler, TailSampler) else None
        self.sampled_out = 0
        self.redaction_errors = 0
        self._conversations: dict[Any, bool] = {}
        self._causes: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    # -- wiring ------------------------------------------------------------------------------

    def install(self, tracer: PolicyOwner) -> None:
        """Replace ``tracer``'s ``trace``/``persist``/``shutdown`` with the configured paths."""
        if isinstance(self.sampler, TraceIdRatio):
            tracer.trace = self.head_trace(tracer, self.sampler.bound)  # type: ignore[attr-defined]
        elif self.tail is not None:
            tracer.trace = self._root_noting_trace(tracer, self.tail)  # type: ignore[attr-defined]
        if self.sampler is None and (self.redact is None or self.redact_later):
            return
        tracer.persist = self._persist_path(tracer, tracer.persist)  # type: ignore[method-assign,assignment]
        if self.tail is not None:
            tracer.shutdown = self._tail_closing(tracer, tracer.shutdown)  # type: ignore[method-assign]

    def head_trace(self, tracer: PolicyOwner, bound: int | None) -> TraceFn:
        """``trace`` deciding each new root by trace id (``bound``; ``None``: keep all) and
        making children of unrecorded spans unrecorded (``_head``)."""
        return head_sampling_trace(tracer, bound, self)

    def _root_noting_trace(self, tracer: PolicyOwner, tail: TailBuffer) -> TraceFn:
        base_trace: TraceFn = tracer.trace  # type: ignore[attr-defined]

        def trace(
            span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None
        ) -> Trace:
            span = base_trace(span_name, span_kind=span_kind, parent=parent)
            if parent is not None and parent._owner is None and type(span) is Trace:
                tail.local_root(span)  # a remote parent: this span is the root here
            return span

        return trace

    def _persist_path(self, tracer: PolicyOwner, inner: PersistFn) -> PersistFn:
        stage = self._stage(tracer)
        redact_one = self.redact_one if self.redact is not None and not self.redact_later else None

        def persist(trace: Trace) -> None:
            if stage is None:
                spans: Sequence[Trace] = (trace,)
            else:
                try:
                    spans = stage(trace)
                except Exception:  # noqa: BLE001 - a broken sampler keeps the span
                    _log.exception("sampling span %r failed; keeping it", trace.span_name)
                    spans = (trace,)
            for span in spans:
                try:
                    inner(span if redact_one is None else redact_one(span))
                except Exception:  # noqa: BLE001 - one span failing must not lose the others
                    tracer._persist_failed(span)

        return persist

    def _stage(self, tracer: PolicyOwner) -> Callable[[Trace], Sequence[Trace]] | None:
        sampler = self.sampler
        if isinstance(sampler, TraceIdRatio):
            bound = sampler.bound

            def by_trace_id(span: Trace) -> Sequence[Trace]:
                # Spans this tracer opened were decided at the root; others (a tee's) here.
                if span._owner is tracer or keeps_trace_id(span._trace_id, bound):
                    return (span,)
                self.sampled_out += 1
                return ()

            return by_trace_id
        if isinstance(sampler, ConversationRatio):
            return self._by_conversation(sampler)
        if self.tail is not None:
            return self.tail.end
        return None

    def _by_conversation(self, sampler: ConversationRatio) -> Callable[[Trace], Sequence[Trace]]:
        decisions = self._conversations
        bound = sampler.bound

        def by_conversation(span: Trace) -> Sequence[Trace]:
            conversation = conversation_of(span)
            if conversation is None:
                keep = keeps_trace_id(span._trace_id, bound)
            else:
                try:
                    keep = decisions[conversation]
                except (KeyError, TypeError):
                    keep = sampler.keeps_conversation(conversation)
                    if len(decisions) >= _CONVERSATIONS_REMEMBERED:
                        decisions.clear()
                    with contextlib.suppress(TypeError):  # unhashable ids: hashed every time
                        decisions[conversation] = keep
            if keep:
                return (span,)
            self.sampled_out += 1
            return ()

        return by_conversation

    def _tail_closing(self, tracer: PolicyOwner, inner: Callable[[], None]) -> Callable[[], None]:
        tail = self.tail
        assert tail is not None

        def shutdown() -> None:
            for span in tail.close():
                try:
                    tracer.persist(span)
                except Exception:  # noqa: BLE001
                    tracer._persist_failed(span)
            inner()

        return shutdown

    # -- redaction ---------------------------------------------------------------------------

    def redact_one(self, span: Trace, *, thaw_once: bool = True) -> Trace:
        """``span`` as the redactor leaves it; a span redacted before is returned as it is.

        ``thaw_once`` (for a writer that encodes the span next): see ``redact_span``."""
        redact = self.redact
        if redact is None or type(span) is RedactedSpan:
            return span
        redacted, errors = redact_span(span, redact, thaw_once=thaw_once)
        if errors:
            self._count_errors(span, errors)
        return redacted

    def _count_errors(self, span: Trace, errors: list[tuple[str, Exception]]) -> None:
        for key, exc in errors:
            frames = traceback.extract_tb(exc.__traceback__)
            where = frames[-1] if frames else None
            cause = (
                type(exc).__qualname__,
                where.filename if where else "",
                where.lineno or 0 if where else 0,
            )
            with self._lock:
                self.redaction_errors += 1
                first = cause not in self._causes and len(self._causes) < _CAUSES_LOGGED
                if first:
                    self._causes.add(cause)
            if first:
                _log.error(
                    "redacting %r of span %r failed; stored [REDACTED:error] instead "
                    "(logged once per cause, counted in stats['redaction_errors'])",
                    key,
                    span.span_name,
                    exc_info=exc,
                )

    # -- counts ------------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """``redaction_errors`` (with a redactor); ``sampled_out`` (with a sampler, or once
        spans were not stored under a remote parent that said "not sampled"); ``buffered`` and
        ``decided_early`` (with a tail sampler)."""
        stats: dict[str, int] = {}
        if self.redact is not None:
            stats["redaction_errors"] = self.redaction_errors
        if self.sampler is not None or self.sampled_out:
            tail = self.tail
            stats["sampled_out"] = self.sampled_out + (tail.dropped if tail else 0)
            if tail is not None:
                stats["buffered"] = tail.buffered
                stats["decided_early"] = tail.decided_early
        return stats


class RedactingWriter:
    """Wraps an exporting tracer's writer: each batch is redacted on the worker, then written.

    Spans handed back for a retry are already redacted and are not redacted again.
    """

    def __init__(self, writer: SpanWriter, policy: SpanPolicy) -> None:
        self._writer = writer
        self._redact_one = policy.redact_one

    def __repr__(self) -> str:
        return repr(self._writer)

    def write(self, batch: Sequence[Trace]) -> None:
        """Redact every span of ``batch``, then write them."""
        redact_one = self._redact_one
        self._writer.write([redact_one(span) for span in batch])

    def close(self) -> None:
        """Close the wrapped writer."""
        self._writer.close()
