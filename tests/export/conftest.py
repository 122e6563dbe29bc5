"""Fixtures for the export engine's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from export.recording import RecordingWriter
from generative_ai_toolkit.tracer._export import BackgroundExporter


@pytest.fixture
def make() -> Iterator[Callable[..., BackgroundExporter]]:
    """Builds fast exporters (short delays) and shuts them down after the test."""
    made: list[tuple[BackgroundExporter, RecordingWriter]] = []

    def build(writer: RecordingWriter, **options: object) -> BackgroundExporter:
        options.setdefault("schedule_delay", 0.01)
        options.setdefault("initial_retry_delay", 0.001)
        options.setdefault("max_retry_delay", 0.01)
        exporter = BackgroundExporter(writer, name="test", **options)  # type: ignore[arg-type]
        made.append((exporter, writer))
        return exporter

    yield build
    for exporter, writer in made:
        writer.gate.set()  # a writer the test left hanging lets its worker end
        exporter.shutdown(timeout=5)
