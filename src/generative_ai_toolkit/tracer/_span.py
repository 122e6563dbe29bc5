"""What a span holds and how it reads: ``SpanFields``, the base of ``Trace``, and the vocabulary.

``Trace`` (in ``_trace``) adds opening, mutation and ending; everything here only reads, so
formatters and encoders can depend on it without depending on the span's lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from ._clock import datetime_from_ns
from ._freeze import Frozen, safe_str, thaw

SpanKind = Literal["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
SpanStatus = Literal["UNSET", "OK", "ERROR"]
SPAN_KINDS: Final[frozenset[str]] = frozenset(
    {"INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
)
SPAN_STATUSES: Final[frozenset[str]] = frozenset({"UNSET", "OK", "ERROR"})


@dataclass(frozen=True, slots=True)
class Scope:
    """The instrumentation scope that produced a span (OpenTelemetry's ``InstrumentationScope``)."""

    name: str = "generative-ai-toolkit"
    version: str = "current"

    def __repr__(self) -> str:
        return f"{self.name}@{self.version}"

    __str__ = __repr__


DEFAULT_SCOPE: Final = Scope()


class SpanOwner(Protocol):
    """What an open span needs of its tracer: its clock, and where to hand the span when it ends."""

    _clock: Callable[[], int] | None

    def persist(self, trace: Any) -> None: ...

    def _persist_failed(self, trace: Any) -> None: ...

    def _snapshot_now(self, span: Any) -> None: ...


class SpanFields:
    """The fields of a span and their read-only views; ``Trace`` is the one subclass."""

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
    _parent: SpanFields | None
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
    _owner: SpanOwner | None

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
    def duration_ms(self) -> int | None:
        """How long the span took, in whole milliseconds (rounded down); ``None`` while open."""
        return (self._end_ns - self._start_ns) // 1_000_000 if self._end_ns else None

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


def _safe_repr(attributes: dict[str, Any]) -> str:
    try:
        return repr(attributes)
    except Exception:  # noqa: BLE001 - a value with a broken __repr__ must not break printing
        items = ", ".join(f"{key!r}: {safe_str(value)}" for key, value in attributes.items())
        return "{" + items + "}"
