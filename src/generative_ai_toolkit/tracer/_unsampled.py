"""Spans that are not recorded: a root that head sampling dropped, the spans opened inside an
unrecorded span, and a remote parent whose ``traceparent`` said "not sampled".

They carry the trace's context and nothing else. An unrecorded root is current while it is
open, so ``current_trace``, ``inject_traceparent`` (flags ``00``) and the spans opened inside it
follow its decision. The spans opened inside it cost what ``NoopTracer``'s do: each tracer hands
out one shared inert span that reads the trace's ids from the unrecorded span current where it
is read. None of them is ever handed to ``persist``, and none of them ever ends (``is_ended``
stays false, as for ``NoopTracer``'s span), but the stand-in for a remote parent, which reads
as ended as ``Trace.remote_parent``'s does.
"""

from __future__ import annotations

import threading
from contextvars import Token
from random import getrandbits, randrange
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

from ._span import DEFAULT_SCOPE
from ._trace import Trace, current_span, make_current, restore_current

_DRAWING: Final = threading.Lock()


class InertSpan:
    """Mixed into inert spans (``NoopTracer``'s, those inside an unrecorded span): ``with``
    leaves them as they are and never makes them current; so does ``@traced``."""

    __slots__ = ()

    _inert: ClassVar[bool] = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class UnsampledSpan(Trace):
    """A span that is not recorded: it holds context (ids, the current span) and nothing else.

    Adding attributes and setting the status do nothing; it is never handed to ``persist``.
    Spans opened inside it are not recorded either.
    """

    __slots__ = ()

    # Read-only defaults for the fields a recorded span sets in __init__ (a cheaper span).
    _raw: ClassVar[dict[str, Any]] = {}  # type: ignore[misc]
    _parent: ClassVar[None] = None  # type: ignore[misc]
    _resource: ClassVar[dict[str, Any]] = {}  # type: ignore[misc]
    _scope = DEFAULT_SCOPE
    _status: ClassVar[str] = "UNSET"  # type: ignore[misc]
    _kind: ClassVar[str] = "INTERNAL"  # type: ignore[misc]
    _start_ns: ClassVar[int] = 0  # type: ignore[misc]
    _thawed: ClassVar[None] = None  # type: ignore[misc]
    _inh: ClassVar[None] = None  # type: ignore[misc]
    _inh_full: ClassVar[None] = None  # type: ignore[misc]
    _n_own: ClassVar[int] = -1  # type: ignore[misc]

    def __init__(self, name: str, trace_id: int, span_id: int, parent_id: int, owner: Any) -> None:
        self._name = name
        self._trace_id = trace_id
        self._span_id = span_id
        self._parent_id = parent_id
        self._owner = owner
        self._end_ns = 0
        self._outer = None
        self._token = None

    def add_attribute(self, key: str, value: Any, inheritable: bool = False) -> None:
        """Ignored: nothing of this span is recorded."""

    def set_status(self, status: Any) -> None:
        """Ignored: nothing of this span is recorded."""

    def record_exception(self, exc: BaseException) -> None:
        """Ignored: nothing of this span is recorded."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            token = self._token
        except AttributeError:  # a dropped root left without being entered: nothing to restore
            return
        if token is not None:
            self._token = None
            try:
                restore_current(token)
            except ValueError:  # exited in another context than entered: as Trace does
                make_current(_outside(token))

    def end(self, exc: BaseException | None = None) -> None:
        """Nothing to do: the span is never handed to any tracer."""


class SampledOutRoot(UnsampledSpan):
    """A root span that head sampling did not keep: what the agent pays for a dropped trace.

    Each tracer opens them as its own subclass (``of_tracer``), whose class attributes are
    that tracer (``_owner``: its spans recognize a dropped root of theirs by type alone) and
    its sampler's bound (``_bound``). The tracer builds one with no arguments and sets only
    ``_name``. Its trace and span ids are drawn when first read, the trace id's low 64 bits
    at or above the bound, so every service that sees the id in a ``traceparent`` drops it
    too. ``with_ids`` builds one whose ids are already known.
    """

    __slots__ = ("_drawn", "_over")

    _bound: ClassVar[int] = 0
    _drawn: tuple[int, int]
    _over: Trace | None
    _parent_id: ClassVar[int] = 0  # type: ignore[misc]
    _end_ns: ClassVar[int] = 0  # type: ignore[misc]

    if TYPE_CHECKING:

        def __init__(self) -> None: ...

    else:
        # Built with no arguments (the tracer sets two fields after): object's own __init__,
        # in C, makes ``cls()`` the cheapest way to a new instance.
        __init__ = object.__init__

    @classmethod
    def of_tracer(cls, tracer: Any, bound: int) -> type[SampledOutRoot]:
        """The class of the roots ``tracer`` drops, keeping those whose trace ids' low 64 bits
        fall below ``bound``."""
        return type(cls.__name__, (cls,), {"__slots__": (), "_owner": tracer, "_bound": bound})

    @classmethod
    def with_ids(cls, name: str, trace_id: int, span_id: int) -> SampledOutRoot:
        """A sampled-out root (of a tracer's class) whose ids came from its id generator."""
        span = cls()
        span._name = name
        span._drawn = (trace_id, span_id)
        return span

    @property
    def _trace_id(self) -> int:  # type: ignore[override]
        try:
            return self._drawn[0]
        except AttributeError:
            return self._draw()[0]

    @property
    def _span_id(self) -> int:  # type: ignore[override]
        try:
            return self._drawn[1]
        except AttributeError:
            return self._draw()[1]

    def _draw(self) -> tuple[int, int]:
        with _DRAWING:  # two threads reading the ids first at once must see the same ids
            try:
                return self._drawn
            except AttributeError:
                # Never zero: a zero low half means a bound of 0, which drops the id 1 too.
                low = randrange(self._bound, 1 << 64)
                self._drawn = ((getrandbits(64) << 64 | low) or 1, getrandbits(64) or 1)
                return self._drawn

    # What was current outside this span: the token knows it under ``with``; a ``@traced``
    # generator, which makes the span current itself, sets it (``_over``).
    @property
    def _outer(self) -> Trace | None:
        token = getattr(self, "_token", None)
        return getattr(self, "_over", None) if token is None else _outside(token)

    @_outer.setter
    def _outer(self, span: Trace | None) -> None:
        self._over = span

    def __enter__(self) -> Self:
        self._token = make_current(self)
        return self


class UnsampledChild(InertSpan, UnsampledSpan):
    """A span opened inside an unrecorded span: inert like ``NoopTracer``'s.

    It never becomes current (``with`` and ``@traced`` leave the unrecorded span above it
    current, so spans opened inside it follow the same decision). Its ids are those of the
    unrecorded span ``_above`` it: the one given as ``parent=``, or, for the tracer's shared
    child (``_above`` is ``None``), the unrecorded span of its tracer current where the ids are
    read (all zeros outside one). Its trace id is that span's and its parent span id is that
    span's span id.
    """

    __slots__ = ("_above",)

    # Never entered, never ended: these stay as they are, so they need not be set per span.
    _end_ns: ClassVar[int] = 0  # type: ignore[misc]
    _token: ClassVar[None] = None  # type: ignore[misc]
    _outer: ClassVar[None] = None  # type: ignore[misc]

    def __init__(self, name: str, above: UnsampledSpan | None, owner: Any) -> None:
        self._name = name
        self._above = above
        self._owner = owner

    def _span_above(self) -> UnsampledSpan | None:
        above = self._above
        return current_unsampled(self._owner) if above is None else above

    # The ids are the span above's: read only when asked for, never stored.
    @property
    def _trace_id(self) -> int:  # type: ignore[override]
        above = self._span_above()
        return 0 if above is None else above._trace_id

    @property
    def _span_id(self) -> int:  # type: ignore[override]
        above = self._span_above()
        return 0 if above is None else above._span_id

    @property
    def _parent_id(self) -> int:  # type: ignore[override]
        return self._span_id


def _outside(token: Token[Trace | None]) -> Trace | None:
    """What was current before ``token``'s ``set``."""
    outside = token.old_value
    return None if outside is Token.MISSING else outside


def current_unsampled(owner: Any) -> UnsampledSpan | None:
    """The innermost span of ``owner`` current here, when that span is not recorded."""
    span = current_span()
    while span is not None:
        if span._owner is owner:
            return span if isinstance(span, UnsampledSpan) else None
        span = span._outer
    return None


def unsampled_remote_parent(trace_id: str, span_id: str) -> Trace:
    """A remote parent whose ``traceparent`` said "not sampled": its local children are not
    recorded either (by tracers with or without a sampler)."""
    tid, sid = int(trace_id, 16), int(span_id, 16)
    if not tid or not sid:
        raise ValueError("trace_id and span_id of a remote parent must not be all zeros")
    span = UnsampledSpan("remote", tid, sid, 0, None)
    span._end_ns = 1
    return span
