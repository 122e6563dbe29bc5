"""Freezing attribute values at the moment they are added to a span.

A span must not change after the fact because the caller later mutated a list or dict it passed
in, so mutable values are copied when they are added. Immutable scalars are stored as they are.
"""

from __future__ import annotations

import copy
import gc
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

#: What ``marshal`` writes as itself inside a container. Any other type there is either refused
#: (``datetime``: the ``deepcopy`` path keeps it) or, with the buffer protocol (numpy scalars and
#: arrays, ``array.array``), written as its raw memory: those are made plain first.
_PLAIN: frozenset[type] = frozenset(
    {str, int, float, bool, type(None), bytes, complex, list, dict, tuple, set, frozenset}
)
#: Nesting levels made plain (as deep as the JSON encoders go).
_MAX_LEVELS = 200
#: Past this many objects or levels, each object is looked into once: shared containers repeat
#: (``marshal`` writes a list holding the same list twice, 30 levels deep, in 300 bytes; walked
#: naively it is 2**30 items), and cycles would never end.
_UNIQUE_AFTER_OBJECTS = 100_000
_UNIQUE_AFTER_LEVELS = 64
#: A value whose shared containers make it longer than this written out as a tree (as JSON
#: writes it: each container once per path to it), and 10 times longer than it is, is stored
#: as a note saying so: written out, it would stall the writer and fill the store.
MAX_EXPANDED_ITEMS = 1_000_000
_warned_expanded = False


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
    as they are. numpy-like values, at the top or nested up to 200 levels deep, become what they
    mean (``plain_value``). Never raises.
    """
    kind = type(value)
    if kind in ATOMIC_TYPES:
        return value
    if kind not in _CONTAINERS:
        value = plain_value(value)  # a numpy scalar or array, say: marshal would keep its bytes
        if type(value) in ATOMIC_TYPES:
            return value
    marshalled = _marshalled(value)
    if marshalled is not None:
        return marshalled
    # What marshal refuses (a datetime inside, say) is copied with its sharing kept: the same
    # bound on its length written out applies.
    too_long = _too_long_written_out(value) if type(value) in _CONTAINERS else None
    if too_long is not None:
        return too_long
    try:
        return copy.deepcopy(_plain_tree(value, 0, {}))
    except Exception:  # noqa: BLE001 - e.g. objects holding locks or sockets
        _log.debug("attribute value of type %s cannot be copied; storing its text", type(value))
    return safe_str(value)


def _marshalled(value: Any) -> Frozen | str | None:
    """``value`` frozen by ``marshal`` (made plain first if need be), or a note when it is far
    too long written out (``MAX_EXPANDED_ITEMS``); ``None`` when ``marshal`` refuses it."""
    try:
        blob = marshal.dumps(value)
        plain, repeats = _look_inside(value)
        if not plain:
            # numpy-like values inside, which marshal would keep as bytes: made plain first,
            # sharing kept, and looked at again (the first look stopped where it met them).
            value = _plain_tree(value, 0, {})
            blob = marshal.dumps(value)
            _, repeats = _look_inside(value)
    except Exception:  # noqa: BLE001 - unmarshallable values take the slower paths
        return None
    if repeats:
        too_long = _too_long_written_out(value)
        if too_long is not None:
            return too_long
    return Frozen(blob)


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


def _look_inside(value: Any) -> tuple[bool, bool]:
    """Whether every value inside a container that ``marshal`` took is of a ``_PLAIN`` type,
    and whether the walk, once it looked at each object once, met a container again.

    One C-level sweep per nesting level (``gc.get_referents`` yields a level's items, ``map``
    their types): no Python code runs per item, unless the value is huge, shared or cyclic.
    """
    level = gc.get_referents(value)
    visited = 0
    depth = 0
    seen: set[int] | None = None
    repeats = False
    while level:
        if not set(map(type, level)) <= _PLAIN:
            return False, repeats
        visited += len(level)
        depth += 1
        if seen is not None or visited > _UNIQUE_AFTER_OBJECTS or depth > _UNIQUE_AFTER_LEVELS:
            seen = seen or set()
            fresh = unseen(level, seen)
            if len(fresh) < len(level) and not repeats:
                repeats = _containers_in(level) > _containers_in(fresh)
            level = fresh
        level = gc.get_referents(*level)
    return True, repeats


def _containers_in(items: list[Any]) -> int:
    return sum(type(item) in _CONTAINERS for item in items)


def _too_long_written_out(value: Any) -> str | None:
    """A note to store instead of ``value`` when its shared containers make it far longer
    written out than it is (``MAX_EXPANDED_ITEMS``), else ``None``.

    Counted level by level, each object once per level with the number of paths to it, so a
    list holding the same list twice, 40 levels deep (2**40 paths), costs 80 steps.
    """
    global _warned_expanded  # one warning per process, not one per span
    level: dict[int, tuple[Any, int]] = {id(value): (value, 1)}
    written, objects = 0, 0
    for _ in range(_MAX_LEVELS + 1):
        below: dict[int, tuple[Any, int]] = {}
        for item, paths in level.values():
            written += paths
            objects += 1
            if type(item) in _CONTAINERS:
                for inner in gc.get_referents(item):
                    known = below.get(id(inner))
                    below[id(inner)] = (inner, paths + (known[1] if known else 0))
        level = below
        if not level:
            break
    if written <= MAX_EXPANDED_ITEMS or written <= 10 * objects:
        return None
    if not _warned_expanded:
        _warned_expanded = True
        _log.warning(
            "an attribute value holds the same containers so many times over that it is %d "
            "items long written out: stored as a note saying so (pass a copy without the "
            "sharing to keep it); later ones are stored the same way without this warning",
            written,
        )
    return f"[not stored: {written:,} items written out, its containers shared over and over]"


def unseen(items: list[Any], seen: set[int]) -> list[Any]:
    """The objects of ``items`` whose ids are not in ``seen``, once each, now added to it: how
    level-by-level walks over shared or cyclic containers look into each object only once."""
    fresh = []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            fresh.append(item)
    return fresh


def _plain_tree(value: Any, depth: int, made: dict[int, tuple[Any, Any]]) -> Any:
    """A copy of ``value`` with the numpy-like values inside made plain (``plain_value``).

    ``made`` maps the id of each object met to (that object, its copy): a container met twice
    is copied once (a cycle stays a cycle), and holding the object keeps its id from reuse.
    """
    kind = type(value)
    if kind in ATOMIC_TYPES or depth > _MAX_LEVELS:
        return value
    done = made.get(id(value))
    if done is not None:
        return done[1]
    out: Any
    if kind is list:
        out = []
        made[id(value)] = (value, out)
        out.extend([_plain_tree(item, depth + 1, made) for item in value])
    elif kind is dict:
        out = {}
        made[id(value)] = (value, out)
        for key, item in value.items():
            out[_plain_tree(key, depth + 1, made)] = _plain_tree(item, depth + 1, made)
    elif kind in _CONTAINERS:  # tuples and sets: immutable, built from their parts
        out = kind([_plain_tree(item, depth + 1, made) for item in value])
        made[id(value)] = (value, out)
    else:
        out = plain_value(value)
        if out is not value:
            out = _plain_tree(out, depth + 1, made)  # an array's list: plain all the way down
        made[id(value)] = (value, out)
    return out


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
