"""Span and trace id generation.

``random.getrandbits`` is used because the ``random`` module reseeds itself in a forked child,
so processes forked from one parent never share an id stream.
"""

from __future__ import annotations

import random
import time
from typing import Protocol


class IdGenerator(Protocol):
    """Makes the ids of new spans. Both methods must return non-zero integers."""

    def new_trace_id(self) -> int:
        """Return a new 128-bit trace id."""
        ...

    def new_span_id(self) -> int:
        """Return a new 64-bit span id."""
        ...


class RandomIdGenerator:
    """Random 128-bit trace ids and 64-bit span ids (the W3C and OpenTelemetry default)."""

    def new_trace_id(self) -> int:
        """Return a random non-zero 128-bit trace id."""
        return random.getrandbits(128) or 1

    def new_span_id(self) -> int:
        """Return a random non-zero 64-bit span id."""
        return random.getrandbits(64) or 1


class XRayIdGenerator(RandomIdGenerator):
    """Trace ids whose first 8 hex digits are the epoch seconds, as AWS X-Ray requires."""

    def new_trace_id(self) -> int:
        """Return a trace id that X-Ray accepts: epoch seconds, then 96 random bits."""
        return (int(time.time()) << 96) | (random.getrandbits(96) or 1)
