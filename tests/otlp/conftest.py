"""Fixtures of the OTLP tests: a capture endpoint per test, and a tracer pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otlp.capture import CaptureServer


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    """A fresh OTLP/HTTP capture endpoint on 127.0.0.1."""
    with CaptureServer() as server:
        yield server
