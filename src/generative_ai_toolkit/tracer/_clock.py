"""The wall clock spans are stamped with.

Span times must be wall-clock (users correlate them with logs) yet durations must never go
negative when NTP steps the system clock. So wall time is read once, at import, and advanced
by the monotonic ``perf_counter_ns`` from then on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

#: A clock returns nanoseconds since the Unix epoch. Injected into tracers for deterministic tests.
Clock = Callable[[], int]

#: Wall-clock nanoseconds at ``perf_counter_ns() == 0``; hot paths inline the addition.
OFFSET_NS = time.time_ns() - time.perf_counter_ns()


def monotonic_wall_ns() -> int:
    """Nanoseconds since the epoch, never going backwards within this process."""
    return OFFSET_NS + time.perf_counter_ns()


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def datetime_from_ns(ns: int) -> datetime:
    """The UTC datetime of ``ns`` nanoseconds since the epoch, truncated to microseconds."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def ns_from_datetime(value: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
