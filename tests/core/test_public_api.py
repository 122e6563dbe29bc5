"""The public surface: exactly the documented names, importable on a plain install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import generative_ai_toolkit.tracer as tracer_package

PUBLIC = {
    "BaseTracer",
    "Clock",
    "ContextPropagatingExecutor",
    "ConversationFilter",
    "ConversationSummary",
    "HumanReadableTracer",
    "IdGenerator",
    "InMemoryTracer",
    "NoCurrentTraceError",
    "NoopTracer",
    "RandomIdGenerator",
    "Scope",
    "SpanListQuery",
    "SpanNode",
    "StructuredLogsTracer",
    "TeeTracer",
    "Trace",
    "TraceQuery",
    "Tracer",
    "XRayIdGenerator",
    "traced",
    "with_current_context",
}


def test_all_lists_the_public_names_sorted() -> None:
    """__all__ is sorted and contains at least the core names (stores add theirs)."""
    assert sorted(tracer_package.__all__) == tracer_package.__all__
    assert PUBLIC <= set(tracer_package.__all__)
    for name in tracer_package.__all__:
        assert hasattr(tracer_package, name), name


def test_the_notebooks_imports_work_without_optional_dependencies() -> None:
    """Cell 1 imports on a plain install: boto3 and protobuf are not needed to import."""
    code = textwrap.dedent(
        """
        import sys
        for blocked in ("boto3", "botocore", "google.protobuf", "opentelemetry"):
            sys.modules[blocked] = None  # any import of these now fails
        from generative_ai_toolkit.tracer import (
            Tracer, NoopTracer, HumanReadableTracer, InMemoryTracer, StructuredLogsTracer,
            TeeTracer,
        )
        from generative_ai_toolkit.tracer.otlp import OtlpTracer
        from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "ok\n" == result.stdout, result.stderr
