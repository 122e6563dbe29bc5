"""Head sampling: the ``trace`` that decides each new root as it opens, as its trace id decides.

With the default id generator the decision is drawn first and the trace id after it, on the
decided side of the bound (so every service reading the id decides alike); with another
generator its trace id decides. A kept root is an ordinary span. A dropped one is a
``SampledOutRoot``: one object, current while open, whose ids are drawn only if something reads
them; spans opened inside it are the tracer's one shared ``UnsampledChild``, so a dropped trace
costs about what ``NoopTracer``'s spans cost (``benchmarks/bench_privacy.py``). Spans below a
remote parent whose ``traceparent`` said "not sampled" are not recorded either, with or
without a sampler.
"""

from __future__ import annotations

from collections.abc import Callable
from random import getrandbits, random, randrange
from time import perf_counter_ns
from typing import Any, Protocol

from ._clock import OFFSET_NS
from ._ids import RandomIdGenerator
from ._sampling import keeps_trace_id
from ._span import SPAN_KINDS
from ._trace import Trace, current_span
from ._unsampled import SampledOutRoot, UnsampledChild, UnsampledSpan

TraceFn = Callable[..., Trace]


class SampledOutCount(Protocol):
    """Where the spans not recorded are counted (``SpanPolicy``: ``stats["sampled_out"]``)."""

    sampled_out: int


def _bad_kind(span_kind: str) -> ValueError:
    return ValueError(f"span_kind must be one of {sorted(SPAN_KINDS)}, not {span_kind!r}")


def head_sampling_trace(tracer: Any, bound: int | None, counts: SampledOutCount) -> TraceFn:
    """``tracer.trace`` keeping a new root when its trace id's low 64 bits fall below
    ``bound`` (``None``: keep every root) and leaving spans inside unrecorded spans unrecorded.

    ``tracer.trace`` as it is now serves every span with a recorded parent; the tracer's id
    generator as it is now draws the ids.
    """
    base_trace: TraceFn = tracer.trace
    shared_child = UnsampledChild("unsampled", None, tracer)
    random_ids = type(tracer._ids) is RandomIdGenerator
    limit = 1 << 64 if bound is None else bound  # a root is kept when its low 64 bits are below
    dropped_root = SampledOutRoot.of_tracer(tracer, limit)
    # The decision first, drawn as a float (cheaper than 64 bits); the trace id is then drawn
    # on the decided side of the bound, so it decides alike wherever it is read.
    share = limit / (1 << 64)

    def trace(span_name: str, *, span_kind: str = "INTERNAL", parent: Trace | None = None) -> Trace:
        if span_kind not in SPAN_KINDS:
            raise _bad_kind(span_kind)
        if parent is not None:
            return nested(span_name, span_kind, parent, implicit=False)
        parent = current_span()
        if parent is not None:
            if type(parent) is dropped_root:
                # The common case inside a dropped trace, first: as little as NoopTracer.
                counts.sampled_out += 1
                return shared_child
            while parent is not None and parent._owner is not tracer:
                parent = parent._outer  # another tracer's span: not a parent here
            if parent is not None:
                return nested(span_name, span_kind, parent, implicit=True)
        if not random_ids:
            return root_with_ids(span_name, span_kind)
        if random() >= share:
            counts.sampled_out += 1
            span = dropped_root()
            span._name = span_name
            return span
        trace_id = (getrandbits(64) << 64 | randrange(limit)) or 1
        return kept_root(span_name, span_kind, trace_id, getrandbits(64) or 1)

    def root_with_ids(span_name: str, span_kind: str) -> Trace:
        ids = tracer._ids
        trace_id = ids.new_trace_id()
        span_id = ids.new_span_id()
        if not keeps_trace_id(trace_id, limit):
            counts.sampled_out += 1
            return dropped_root.with_ids(span_name, trace_id, span_id)
        return kept_root(span_name, span_kind, trace_id, span_id)

    def kept_root(span_name: str, span_kind: str, trace_id: int, span_id: int) -> Trace:
        clock = tracer._clock
        return Trace(
            span_name,
            span_kind,
            trace_id,
            span_id,
            None,
            OFFSET_NS + perf_counter_ns() if clock is None else clock(),
            tracer,
            tracer._resource,
            tracer._scope,
        )

    def nested(span_name: str, span_kind: str, parent: Trace, *, implicit: bool) -> Trace:
        """A span under ``parent``: given, or (``implicit``) this tracer's span found current."""
        if isinstance(parent, UnsampledSpan):
            return below_unsampled(span_name, parent, implicit=implicit)
        return base_trace(span_name, span_kind=span_kind, parent=parent)

    def below_unsampled(span_name: str, parent: UnsampledSpan, *, implicit: bool) -> Trace:
        counts.sampled_out += 1
        if parent._owner is None:  # a remote parent: this span carries the context here
            ids = tracer._ids
            span_id = getrandbits(64) or 1 if type(ids) is RandomIdGenerator else ids.new_span_id()
            return UnsampledSpan(span_name, parent._trace_id, span_id, parent._span_id, tracer)
        if implicit:
            return shared_child
        # An explicit parent= may be used where it is not current: the child holds on to it.
        above = parent._span_above() if isinstance(parent, UnsampledChild) else parent
        return shared_child if above is None else UnsampledChild(span_name, above, tracer)

    return trace
