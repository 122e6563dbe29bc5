"""Testing traced code: deterministic clocks and ids, capturing spans, assertions over them.

```python
from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.testing import (
    SequentialIds, StepClock, Spans, assert_called_tool, assert_no_errors
)

tracer = InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())
agent = MyAgent(tracer=tracer)
agent.converse("What is the weather in Paris?")
spans = Spans(tracer.get_traces())
assert_called_tool(spans, "get_weather", input={"city": "Paris"}, times=1)
assert_no_errors(spans)
```

``capture_spans(tracer)`` records what any existing tracer ends inside a block. The pytest
plugin (``pytest_plugin``, installed with the package) adds the ``gat_tracer`` fixture. This
part imports only the core, and pytest only in ``pytest_plugin``. See ``docs/testing.md``.
"""

from ._assertions import assert_called_tool, assert_no_errors, assert_tool_order
from ._capture import capture_spans
from ._deterministic import SequentialIds, StepClock, ended_span
from ._spans import Spans, TokenUsage

__all__ = [
    "SequentialIds",
    "Spans",
    "StepClock",
    "TokenUsage",
    "assert_called_tool",
    "assert_no_errors",
    "assert_tool_order",
    "capture_spans",
    "ended_span",
]
