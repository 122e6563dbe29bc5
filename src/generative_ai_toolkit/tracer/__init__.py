"""Tracing for LLM agents: spans (``Trace``), tracers that keep or ship them, and ``@traced``.

```python
from generative_ai_toolkit.tracer import InMemoryTracer

tracer = InMemoryTracer()
with tracer.trace("converse", span_kind="SERVER") as span:
    span.add_attribute("ai.conversation.id", "c-1", inheritable=True)
```
"""

from ._base import BaseTracer, NoCurrentTraceError, Tracer
from ._clock import Clock
from ._console import HumanReadableTracer, StructuredLogsTracer
from ._exit import flush_on_sigterm
from ._ids import IdGenerator, RandomIdGenerator, XRayIdGenerator
from ._iterable import IterableTracer
from ._memory import InMemoryTracer
from ._noop import NoopTracer
from ._propagation import ContextPropagatingExecutor, with_current_context
from ._query import ConversationFilter, ConversationSummary, SpanListQuery, SpanNode, TraceQuery
from ._span import Scope
from ._tee import TeeTracer
from ._trace import Trace
from ._traced import traced
from ._usage import TurnSummary, Usage, turn_summaries
from ._w3c import extract_traceparent, inject_traceparent
from .sqlite import SqliteTracer

__all__ = [
    "BaseTracer",
    "Clock",
    "ContextPropagatingExecutor",
    "ConversationFilter",
    "ConversationSummary",
    "HumanReadableTracer",
    "IdGenerator",
    "InMemoryTracer",
    "IterableTracer",
    "NoCurrentTraceError",
    "NoopTracer",
    "RandomIdGenerator",
    "Scope",
    "SpanListQuery",
    "SpanNode",
    "SqliteTracer",
    "StructuredLogsTracer",
    "TeeTracer",
    "Trace",
    "TraceQuery",
    "Tracer",
    "TurnSummary",
    "Usage",
    "XRayIdGenerator",
    "extract_traceparent",
    "flush_on_sigterm",
    "inject_traceparent",
    "traced",
    "turn_summaries",
    "with_current_context",
]
