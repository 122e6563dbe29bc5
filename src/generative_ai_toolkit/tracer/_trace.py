"""The span model: ``Trace``, a span that is live while open and an immutable snapshot once ended.

One object serves both roles because the notebook hands users the same ``Trace`` inside
``with tracer.trace(...)`` and back from ``get_traces()``; making a second object at the end of
every span would double the cost of the hot path. Once ended, nothing about a ``Trace`` changes:
``add_attribute`` warns and does nothing, and every dict it hands out is a copy.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from contextvars import ContextVar, Token
from datetime import datetime
from time import perf_counter_ns
from types import TracebackType
from typing import Any, ClassVar, Final, Self

from ._clock import OFFSET_NS, ns_from_datetime
from ._freeze import ATOMIC_TYPES, freeze, safe_str
from ._human_format import format_human
from ._span import DEFAULT_SCOPE, SPAN_STATUSES, Scope, SpanFields, SpanOwner, SpanStatus
from ._text import MAX_KEY_LENGTH, clean_key

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: The innermost open span in this thread or task, of whichever tracer. Spans of one tracer find
#: their parent by walking outwards through ``Trace._outer``, so tracers never adopt each other's
#: spans, and one variable (not one per tracer) is all a copied context has to carry.
CURRENT_SPAN: ContextVar[Trace | None] = ContextVar(
    "generative_ai_toolkit_current_span", default=None
)
# Its methods, bound once: looking a method up on a ContextVar costs as much as calling it.
current_span: Final = CURRENT_SPAN.get
make_current: Final = CURRENT_SPAN.set
restore_current: Final = CURRENT_SPAN.reset


class Trace(SpanFields):
    """One span: a named, timed unit of work with attributes, inside a trace.

    Open one with ``tracer.trace(name)`` and use it as a (sync or async) context manager. While it
    is open it is the tracer's ``current_trace`` in this thread or task, and spans opened inside it
    become its children. When it ends it becomes an immutable snapshot and is handed to the
    tracer's ``persist``.
    """

    __slots__ = ()

    #: Inert spans (``NoopTracer``'s, those inside an unrecorded span) never become current.
    _inert: ClassVar[bool] = False
    # Narrower than SpanFields says: a live span's relatives are live spans too.
    _parent: Trace | None
    _outer: Trace | None
    _token: Token[Trace | None] | None

    def __init__(  # noqa: PLR0917 - positional: built once per span on the hot path
        self,
        name: str,
        kind: str,
        trace_id: int,
        span_id: int,
        parent: Trace | None,
        start_ns: int,
        owner: SpanOwner | None,
        resource: Mapping[str, Any],
        scope: Scope,
    ) -> None:
        # Positional and unvalidated on purpose: only tracers call this, on the hot path.
        self._name = name
        self._kind = kind
        self._trace_id = trace_id
        self._span_id = span_id
        self._parent = parent
        self._parent_id = parent._span_id if parent is not None else 0
        self._start_ns = start_ns
        self._end_ns = 0
        self._raw = {}
        self._thawed = None
        self._inh = None
        self._inh_full = None
        self._n_own = -1
        self._status = "UNSET"
        self._resource = resource
        self._scope = scope
        self._owner = owner
        self._outer = None
        self._token = None

    @classmethod
    def _shell_of(cls, span: Trace) -> Self:
        """A new, open span of this class with ``span``'s name, kind, ids, parent id, start,
        resource and scope, and no attributes: what copies (snapshots, redacted spans) fill."""
        shell = cls(
            span._name,
            span._kind,
            span._trace_id,
            span._span_id,
            None,
            span._start_ns,
            None,
            span._resource,
            span._scope,
        )
        shell._parent_id = span._parent_id
        return shell

    @classmethod
    def restore(
        cls,
        *,
        span_name: str,
        span_kind: str = "INTERNAL",
        trace_id: str,
        span_id: str,
        parent_span_id: str | None = None,
        started_at: datetime | int,
        ended_at: datetime | int,
        attributes: Mapping[str, Any] | None = None,
        span_status: str = "UNSET",
        resource_attributes: Mapping[str, Any] | None = None,
        scope: Scope | None = None,
        inherited_keys: int | None = None,
    ) -> Trace:
        """Rebuild an ended span from stored fields (times as datetimes or epoch nanoseconds).

        Stores use this to hand spans back from ``get_traces``. ``inherited_keys`` is how many of
        the last attribute keys were inherited from ancestors, when the store knows it.
        """
        return stored_span(
            span_name,
            span_kind,
            int(trace_id, 16),
            int(span_id, 16),
            int(parent_span_id, 16) if parent_span_id else 0,
            started_at if isinstance(started_at, int) else ns_from_datetime(started_at),
            ended_at if isinstance(ended_at, int) else ns_from_datetime(ended_at),
            dict(attributes or {}),
            span_status,
            dict(resource_attributes or {}),
            scope or DEFAULT_SCOPE,
            inherited_keys or 0,
        )

    @classmethod
    def remote_parent(cls, trace_id: str, span_id: str) -> Trace:
        """A stand-in for a span of another process, to continue its trace.

        Pass it as ``tracer.trace(name, parent=...)``: the new span joins trace ``trace_id`` as a
        child of ``span_id`` (e.g. from an incoming W3C ``traceparent`` header). It is never
        stored itself and carries no attributes.
        """
        tid, sid = int(trace_id, 16), int(span_id, 16)
        if not tid or not sid:
            raise ValueError("trace_id and span_id of a remote parent must not be all zeros")
        span = cls("remote", "INTERNAL", tid, sid, None, 0, None, {}, DEFAULT_SCOPE)
        span._end_ns = 1  # ended: nothing can be added to it, and it holds nothing to inherit
        return span

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trace:
        """Rebuild an ended span from ``as_dict()`` output, or from its JSON form.

        Datetimes may be ``datetime`` objects or text such as ``2025-04-15 20:24:45.972976+00:00``.
        """
        scope = data.get("scope") or {}
        return cls.restore(
            span_name=data["span_name"],
            span_kind=data.get("span_kind", "INTERNAL"),
            trace_id=data["trace_id"],
            span_id=data["span_id"],
            parent_span_id=data.get("parent_span_id"),
            started_at=_as_datetime(data["started_at"]),
            ended_at=_as_datetime(data["ended_at"]),
            attributes=data.get("attributes"),
            span_status=data.get("span_status", "UNSET"),
            resource_attributes=data.get("resource_attributes"),
            scope=Scope(**scope) if isinstance(scope, Mapping) else DEFAULT_SCOPE,
        )

    # -- relatives -----------------------------------------------------------------------------

    @property
    def parent_span(self) -> Trace | None:
        """The parent span while it is known in this process (the span was opened here, under
        it), else ``None``: for root spans, spans read back from a store, and children of a
        remote parent (``Trace.remote_parent``), which only ``parent_span_id`` names."""
        parent = self._parent
        if parent is None or (parent._start_ns == 0 and parent._end_ns == 1):
            return None  # none, or the stand-in for a span of another process
        return parent

    @property
    def parents(self) -> list[Trace]:
        """The ancestors known in this process, nearest first (``parent_span``, its parent ...)."""
        found: list[Trace] = []
        parent = self.parent_span
        while parent is not None:
            found.append(parent)
            parent = parent.parent_span
        return found

    # -- mutation while open -------------------------------------------------------------------

    def add_attribute(self, key: str, value: Any, inheritable: bool = False) -> None:
        """Set attribute ``key`` to (a frozen copy of) ``value``.

        An inheritable attribute is also carried by every descendant span that ends while this
        span holds it. On an ended span this logs a warning and does nothing; it never raises.
        """
        if self._end_ns:
            _log.warning("add_attribute(%r) on span %r after it ended: ignored", key, self._name)
            return
        if type(value) not in ATOMIC_TYPES:
            value = freeze(value)
        if type(key) is not str or len(key) > MAX_KEY_LENGTH:
            key = clean_key(key)  # rare: not text, or too long (stores repair invalid text)
        self._raw[key] = value
        if inheritable:
            if self._inh is None:
                self._inh = {key: value}
            else:
                self._inh[key] = value
        elif self._inh is not None:
            self._inh.pop(key, None)

    def set_status(self, status: SpanStatus | str) -> None:
        """Set the status to ``UNSET``, ``OK`` or ``ERROR``, in any case (``"error"`` too).

        Never raises into the traced code: any other value, or a call once the span has ended,
        is ignored with a warning on the library logger.
        """
        normal = status.upper() if isinstance(status, str) else status
        if normal not in SPAN_STATUSES:
            _log.warning(
                "set_status(%r) on span %r: not one of %s; ignored",
                status,
                self._name,
                ", ".join(sorted(SPAN_STATUSES)),
            )
            return
        if self._end_ns:
            _log.warning("set_status(%r) on span %r after it ended: ignored", status, self._name)
            return
        self._status = normal

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span as failed by ``exc``: status ERROR plus ``exception.*`` attributes."""
        if self._end_ns:
            return
        self._status = "ERROR"
        attrs = self._raw
        attrs["exception.type"] = type(exc).__qualname__
        attrs["exception.message"] = safe_str(exc)
        try:
            attrs["exception.traceback"] = "".join(traceback.format_exception(exc))
        except Exception:  # noqa: BLE001 - a broken __str__ inside the chain
            attrs["exception.traceback"] = f"{type(exc).__qualname__}: <traceback unavailable>"

    def emit_snapshot(self) -> None:
        """Write a snapshot of this open span now: the span as it is, marked open, with the
        attributes its ancestors would pass on now. Stores keep one row per span, replaced by a
        newer snapshot or by the ended span (never the other way round). Does nothing once the
        span has ended, on a snapshot, or on a tracer that keeps no partial spans (OTLP);
        never raises."""
        owner = self._owner
        if self._end_ns or owner is None or type(self) is not Trace:
            return
        try:
            owner._snapshot_now(self)
        except Exception:  # noqa: BLE001 - telemetry never breaks the traced code
            _log.exception("snapshot of span %r failed", self._name)

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._outer = current_span()
        self._token = make_current(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._token
        if token is not None:
            self._token = None
            try:
                restore_current(token)
            except ValueError:
                # Exited in another context than it was entered in (e.g. an async generator
                # finalised elsewhere): restore what was current outside this span instead.
                make_current(self._outer)
        self.end(exc)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def end(self, exc: BaseException | None = None) -> None:
        """End the span (recording ``exc`` if given) and hand it to its tracer. Idempotent.

        Ending captures the inheritable attributes the ancestors hold now; from then on the span
        is an immutable snapshot.
        """
        if self._end_ns:
            return
        try:
            if exc is not None and not isinstance(exc, GeneratorExit):
                self.record_exception(exc)
            owner = self._owner
            if owner is None:
                end_ns = self._start_ns
            elif owner._clock is None:
                end_ns = OFFSET_NS + perf_counter_ns()
            else:
                end_ns = owner._clock()
            parent = self._parent
            if parent is not None:
                # The reference is kept (``parent_span``): it costs nothing per span, and an
                # ended span only pins its ancestors, never its descendants.
                up = parent._inheritable()
                if up:
                    self._inherit(up)
            elif self._inh is not None:
                self._inh_full = self._inh
            self._outer = None
            # A clock stepping backwards (an injected one, say) must not yield negative durations.
            self._end_ns = end_ns if end_ns > self._start_ns else self._start_ns + 1
        except Exception:  # noqa: BLE001 - ending a span must never raise into the traced code
            _log.exception("ending span %r failed", self._name)
            self._end_ns = self._end_ns or self._start_ns + 1
            return
        if owner is not None:
            try:
                owner.persist(self)
            except Exception:  # noqa: BLE001 - a broken sink must never break the agent
                owner._persist_failed(self)

    def _inherit(self, up: dict[str, Any]) -> None:
        attrs = self._raw
        self._n_own = len(attrs)
        for key, value in up.items():
            if key not in attrs:
                attrs[key] = value
        own = self._inh
        if own is None:
            self._inh_full = up
        else:
            full = dict(own)
            for key, value in up.items():
                full.setdefault(key, value)
            self._inh_full = full
        if self._n_own == len(attrs):
            self._n_own = -1

    # -- rendering -----------------------------------------------------------------------------

    def as_human_readable(self, *, color: bool = False) -> str:
        """The span as the notebook prints it: a header line, then inputs/outputs; ends in ``\\n``.

        ``color=True`` adds ANSI colours for terminals.
        """
        return format_human(self, color=color)


def stored_span(  # noqa: PLR0917 - positional: stores rebuild many spans per read
    name: str,
    kind: str,
    trace_id: int,
    span_id: int,
    parent_id: int,
    start_ns: int,
    end_ns: int,
    attributes: dict[str, Any],
    status: str,
    resource: Mapping[str, Any],
    scope: Scope,
    inherited_keys: int,
) -> Trace:
    """An ended span from stored fields, taking ownership of ``attributes`` and ``resource``
    (neither may be changed afterwards). ``Trace.restore`` is the checked, copying front door."""
    span = Trace(name, kind, trace_id, span_id, None, start_ns, None, resource, scope)
    span._parent_id = parent_id
    span._end_ns = end_ns or start_ns + 1
    span._raw = attributes
    span._status = status
    if inherited_keys:
        span._n_own = len(attributes) - inherited_keys
    return span


def _as_datetime(value: datetime | str | int) -> datetime | int:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
