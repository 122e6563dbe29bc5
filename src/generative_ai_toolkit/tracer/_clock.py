"""The wall clock spans are stamped with.

Span times must be wall-clock (users correlate them with logs) yet durations must never go
negative when NTP steps the system clock. So wall time is read once, at import, and advanced
by the monotonic ``perf_counter_ns`` from then on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: A clock returns nanoseconds since the Unix epoch. Injected into tracers for deterministic tests.
Clock = Callable[[], int]

#: Wall-clock nanoseconds at ``perf_counter_ns() == 0``; hot paths inline the addition.
OFFSET_NS = time.time_ns() - time.perf_counter_ns()


def monotonic_wall_ns() -> int:
    """Nanoseconds since the epoch, never going backwards within this process."""
    return OFFSET_NS + time.perf_counter_ns()
