"""The instrument package imports without boto3; instrumenting without it says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_helpers_work_and_instrumenting_names_the_extra_without_boto3() -> None:
    """With boto3 and botocore unavailable, the helpers run and instrument_bedrock raises an
    ImportError naming the ``bedrock`` extra; uninstrument_bedrock is a no-op."""
    code = textwrap.dedent(
        """
        import sys
        for blocked in ("boto3", "botocore"):
            sys.modules[blocked] = None  # any import of these now fails
        from generative_ai_toolkit.tracer import InMemoryTracer
        from generative_ai_toolkit.tracer.instrument import (
            agent_turn, instrument_bedrock, traced_tool, uninstrument_bedrock,
        )
        tracer = InMemoryTracer()
        with agent_turn(tracer, "hi"):
            traced_tool(tracer=tracer)(lambda x: x)(1)
        uninstrument_bedrock()
        try:
            instrument_bedrock(tracer)
        except ImportError as exc:
            print(len(tracer.get_traces()), exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (
        "2 instrument_bedrock needs boto3: "
        "pip install 'generative-ai-toolkit-tracing[bedrock]'\n" == result.stdout
    ), result.stderr
