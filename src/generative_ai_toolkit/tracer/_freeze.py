"""Freezing attribute values at the moment they are added to a span.

A span must not change after the fact because the caller later mutated a list or dict it passed
in, so mutable values are copied when they are added. Immutable scalars are stored as they are.
"""

from __future__ import annotations

import copy
import logging
import marshal
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: Types whose values can never change, so they are stored without copying.
ATOMIC_TYPES: frozenset[type] = frozenset(
    {str, int, float, bool, type(None), bytes, complex, Decimal, datetime, date, time, timedelta}
)


#: Containers ``marshal`` serialises itself (anything else with the buffer protocol it would
#: store as its raw memory).
_CONTAINERS: frozenset[type] = frozenset({list, dict, tuple, set, frozenset})


class Frozen:
    """A container value as it was when added: its ``marshal`` serialisation.

    Serialising is the cheap half of a copy; the other half (rebuilding the objects) is paid
    only when somebody reads the value, and each ``thaw()`` returns a fresh copy, so no reader
    can change what the span holds.
    """

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def thaw(self) -> Any:
        """A new copy of the value."""
        return marshal.loads(self.blob)

    def __repr__(self) -> str:
        return repr(self.thaw())


def freeze(value: Any) -> Any:
    """Return ``value`` in a form that later mutations of ``value`` cannot reach.

    Plain containers (lists, dicts, tuples, sets of plain values) become ``Frozen`` (``marshal``
    is an order of magnitude faster than ``copy.deepcopy``); anything else falls back to
    ``deepcopy`` and, when even that fails, to a text rendering. Immutable scalars are returned
    as they are. Never raises.
    """
    kind = type(value)
    if kind in ATOMIC_TYPES:
        return value
    if kind not in _CONTAINERS:
        value = plain_value(value)  # a numpy scalar or array, say: marshal would keep its bytes
        if type(value) in ATOMIC_TYPES:
            return value
    try:
        return Frozen(marshal.dumps(value))
    except Exception:  # noqa: BLE001 - unmarshallable values take the slower paths below
        pass
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - e.g. objects holding locks or sockets
        _log.debug("attribute value of type %s cannot be copied; storing its text", type(value))
    return safe_str(value)


def plain_value(value: Any) -> Any:
    """What a numpy-like object means, in plain Python; other values as they are.

    A scalar (anything with ``__index__`` or ``__float__`` and an ``item()``: ``np.float64``,
    ``np.int64``, a one-element tensor) becomes its Python number; an array (``tolist()``) a
    list; any other object with the buffer protocol its text (never its raw memory). Bytes,
    bytearrays and memoryviews are returned as they are. Never raises.
    """
    kind = type(value)
    if kind in ATOMIC_TYPES or isinstance(value, (bytes, bytearray, memoryview)):
        return value
    try:
        if hasattr(kind, "item") and (hasattr(kind, "__index__") or hasattr(kind, "__float__")):
            try:
                item = value.item()
            except (ValueError, TypeError):  # an array of more than one element
                item = None
            if type(item) in ATOMIC_TYPES and item is not None:
                return item
        if hasattr(kind, "tolist"):
            return value.tolist()
        memoryview(value)  # raises TypeError unless value has the buffer protocol
    except Exception:  # noqa: BLE001 - no buffer protocol, or a broken item()/tolist()
        return value
    return safe_str(value)


def thaw(value: Any) -> Any:
    """The plain value of an attribute as stored: ``Frozen`` values thawed, others as they are."""
    return value.thaw() if type(value) is Frozen else value


def private_copy(value: Any) -> Any:
    """A deep copy of ``value`` that nobody else holds (scalars as they are). Never raises."""
    return thaw(freeze(value))


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder naming the type when ``__str__`` itself fails."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a user's broken __str__ must not break tracing
        pass
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__qualname__}>"
