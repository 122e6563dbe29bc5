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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import perf_counter_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from ._clock import OFFSET_NS
from ._freeze import ATOMIC_TYPES, Frozen, freeze, safe_str, thaw
from ._human_format import format_human

if TYPE_CHECKING:
    from ._base import BaseTracer

_log = logging.getLogger("generative_ai_toolkit.tracer")

SpanKind = Literal["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
SpanStatus = Literal["UNSET", "OK", "ERROR"]
SPAN_KINDS: Final[frozenset[str]] = frozenset(
    {"INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
)
SPAN_STATUSES: Final[frozenset[str]] = frozenset({"UNSET", "OK", "ERROR"})

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: The innermost open span in this thread or task, of whichever tracer. Spans of one tracer find
#: their parent by walking outwards through ``Trace._outer``, so tracers never adopt each other's
#: spans, and one variable (not one per tracer) is all a copied context has to carry.
CURRENT_SPAN: ContextVar[Trace | None] = ContextVar(
    "generative_ai_toolkit_current_span", default=None
)


@dataclass(frozen=True, slots=True)
class Scope:
    """The instrumentation scope that produced a span (OpenTelemetry's ``InstrumentationScope``)."""

    name: str = "generative-ai-toolkit"
    version: str = "current"

    def __repr__(self) -> str:
        return f"{self.name}@{self.version}"

    __str__ = __repr__


DEFAULT_SCOPE: Final = Scope()


def datetime_from_ns(ns: int) -> datetime:
    """The UTC datetime of ``ns`` nanoseconds since the epoch, truncated to microseconds."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def ns_from_datetime(value: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class Trace:
    """One span: a named, timed unit of work with attributes, inside a trace.

    Open one with ``tracer.trace(name)`` and use it as a (sync or async) context manager. While it
    is open it is the tracer's ``current_trace`` in this thread or task, and spans opened inside it
    become its children. When it ends it becomes an immutable snapshot and is handed to the
    tracer's ``persist``.
    """

    __slots__ = (
        "_end_ns",
        "_inh",
        "_inh_full",
        "_kind",
        "_n_own",
        "_name",
        "_outer",
        "_owner",
        "_parent",
        "_parent_id",
        "_raw",
        "_resource",
        "_scope",
        "_span_id",
        "_start_ns",
        "_status",
        "_thawed",
        "_token",
        "_trace_id",
    )

    _name: str
    _kind: str
    _trace_id: int
    _span_id: int
    _parent_id: int
    _parent: Trace | None
    _start_ns: int
    _end_ns: int
    _raw: dict[str, Any]
    _thawed: dict[str, Any] | None
    _inh: dict[str, Any] | None
    _inh_full: dict[str, Any] | None
    _n_own: int
    _status: str
    _resource: Mapping[str, Any]
    _scope: Scope
    _owner: BaseTracer | None
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
        owner: BaseTracer | None,
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

    # -- the fields shown in repr(), readable as attributes ---------------------------------

    @property
    def span_name(self) -> str:
        """The span's name."""
        return self._name

    @property
    def span_kind(self) -> str:
        """``INTERNAL``, ``SERVER``, ``CLIENT``, ``PRODUCER`` or ``CONSUMER``."""
        return self._kind

    @property
    def trace_id(self) -> str:
        """The 32-hex-digit id shared by every span of one trace."""
        return f"{self._trace_id:032x}"

    @property
    def span_id(self) -> str:
        """This span's 16-hex-digit id."""
        return f"{self._span_id:016x}"

    @property
    def parent_span_id(self) -> str | None:
        """The parent span's id, or ``None`` for a root span."""
        return f"{self._parent_id:016x}" if self._parent_id else None

    @property
    def started_at(self) -> datetime:
        """When the span started (UTC, microsecond precision)."""
        return datetime_from_ns(self._start_ns)

    @property
    def ended_at(self) -> datetime | None:
        """When the span ended (UTC), or ``None`` while it is open."""
        return datetime_from_ns(self._end_ns) if self._end_ns else None

    @property
    def start_time_ns(self) -> int:
        """Start time in nanoseconds since the epoch (exact; for exporters)."""
        return self._start_ns

    @property
    def end_time_ns(self) -> int | None:
        """End time in nanoseconds since the epoch, or ``None`` while open."""
        return self._end_ns or None

    @property
    def duration_ns(self) -> int | None:
        """How long the span took, in nanoseconds; ``None`` while open. Never negative."""
        return self._end_ns - self._start_ns if self._end_ns else None

    @property
    def attributes(self) -> dict[str, Any]:
        """A copy of the span's attributes: its own first, then those inherited from ancestors.

        While the span is open, inherited attributes are those its ancestors hold now; once ended,
        those they held when it ended.
        """
        attrs = {key: thaw(value) for key, value in self._raw.items()}
        if not self._end_ns and self._parent is not None:
            up = self._parent._inheritable()
            if up:
                for key, value in up.items():
                    if key not in attrs:
                        attrs[key] = thaw(value)
        return attrs

    @property
    def _attrs(self) -> dict[str, Any]:
        """The attributes for reading inside the library (encoders, filters): values thawed,
        shared between readers, so never to be mutated. Cached once the span has ended."""
        thawed = self._thawed
        if thawed is not None:
            return thawed
        raw = self._raw
        for value in raw.values():
            if type(value) is Frozen:
                thawed = {key: thaw(item) for key, item in raw.items()}
                break
        else:
            thawed = raw
        if self._end_ns:
            self._thawed = thawed
        return thawed

    @property
    def inherited_attribute_keys(self) -> tuple[str, ...]:
        """Keys of ``attributes`` inherited from ancestors rather than set on this span."""
        if self._n_own < 0:
            return ()
        return tuple(self._raw)[self._n_own :]

    @property
    def span_status(self) -> str:
        """``UNSET``, ``OK`` or ``ERROR``."""
        return self._status

    @property
    def resource_attributes(self) -> dict[str, Any]:
        """A copy of the resource attributes (``service.name`` ...) set by ``set_context``."""
        return dict(self._resource)

    @property
    def scope(self) -> Scope:
        """The instrumentation scope, printed as ``generative-ai-toolkit@current``."""
        return self._scope

    @property
    def is_ended(self) -> bool:
        """Whether the span has ended (and so can no longer change)."""
        return self._end_ns != 0

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
        if type(key) is not str:
            key = safe_str(key)
        self._raw[key] = value
        if inheritable:
            if self._inh is None:
                self._inh = {key: value}
            else:
                self._inh[key] = value
        elif self._inh is not None:
            self._inh.pop(key, None)

    def set_status(self, status: SpanStatus) -> None:
        """Set the status to ``UNSET``, ``OK`` or ``ERROR`` (once ended: ignored, warns)."""
        if status not in SPAN_STATUSES:
            raise ValueError(f"span_status must be one of {sorted(SPAN_STATUSES)}, not {status!r}")
        if self._end_ns:
            _log.warning("set_status(%r) on span %r after it ended: ignored", status, self._name)
            return
        self._status = status

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

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._outer = CURRENT_SPAN.get()
        self._token = CURRENT_SPAN.set(self)
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
                CURRENT_SPAN.reset(token)
            except ValueError:
                # Exited in another context than it was entered in (e.g. an async generator
                # finalised elsewhere): restore what was current outside this span instead.
                CURRENT_SPAN.set(self._outer)
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
                up = parent._inheritable()
                if up:
                    self._inherit(up)
                self._parent = None
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

    def _inheritable(self) -> dict[str, Any] | None:
        """What descendants inherit from this span: its own inheritable attributes, then its
        ancestors' (nearer wins). ``None`` when there are none."""
        if self._end_ns:
            return self._inh_full
        parent = self._parent
        up = parent._inheritable() if parent is not None else None
        own = self._inh
        if not up:
            return own
        if not own:
            return up
        full = dict(own)
        for key, value in up.items():
            full.setdefault(key, value)
        return full

    # -- rendering -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"Trace(span_name={self._name!r}, span_kind={self._kind!r}, "
            f"trace_id={self.trace_id!r}, span_id={self.span_id!r}, "
            f"parent_span_id={self.parent_span_id!r}, started_at={self.started_at!r}, "
            f"ended_at={self.ended_at!r}, attributes={_safe_repr(self._attrs)}, "
            f"span_status={self._status!r}, resource_attributes={dict(self._resource)!r}, "
            f"scope={self._scope!r})"
        )

    def as_dict(self) -> dict[str, Any]:
        """The span as a plain dict, keys in the order of the JSON log format."""
        return {
            "span_name": self._name,
            "span_kind": self._kind,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "attributes": self.attributes,
            "span_status": self._status,
            "resource_attributes": dict(self._resource),
            "scope": {"name": self._scope.name, "version": self._scope.version},
        }

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


def _safe_repr(attributes: dict[str, Any]) -> str:
    try:
        return repr(attributes)
    except Exception:  # noqa: BLE001 - a value with a broken __repr__ must not break printing
        items = ", ".join(f"{key!r}: {safe_str(value)}" for key, value in attributes.items())
        return "{" + items + "}"


def _as_datetime(value: datetime | str | int) -> datetime | int:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
