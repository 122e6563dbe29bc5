"""``instrument_bedrock`` and ``uninstrument_bedrock``: the switch, and the install hint."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any

from .._base import Tracer

_lock = threading.Lock()


def instrument_bedrock(
    tracer: Tracer, *, capture_content: bool = True, clients: Iterable[Any] = ()
) -> None:
    """Trace every ``bedrock-runtime`` call into ``tracer``: ``converse``, ``converse_stream``,
    ``invoke_model`` and ``invoke_model_with_response_stream`` each become a CLIENT span
    ``llm-invocation`` under the caller's current span (see docs/bedrock.md for the attributes).

    Applies to boto3 clients created from now on, in any session, and to the ``clients`` given
    (clients created before this call are otherwise not traced). Calling it again switches the
    tracer or ``capture_content`` for every instrumented client. ``capture_content=False``
    records no message text (no messages, system prompt, tool config or output), only sizes,
    usage, stop reason and metrics. Thread-safe. Raises ``ImportError`` without boto3.
    """
    try:
        from . import _bedrock  # noqa: PLC0415 - boto3 is optional: imported on first use
    except ImportError as exc:
        raise ImportError(
            "instrument_bedrock needs boto3: pip install 'generative-ai-toolkit-tracing[bedrock]'"
        ) from exc
    with _lock:
        _bedrock.instrument(tracer, capture_content=capture_content, clients=clients)


def uninstrument_bedrock() -> None:
    """Stop tracing Bedrock calls; calls already in flight (open streams) still end their spans.

    Idempotent, and a no-op when ``instrument_bedrock`` was never called.
    """
    bedrock = sys.modules.get(f"{__package__}._bedrock")
    if bedrock is not None:
        with _lock:
            bedrock.uninstrument()
