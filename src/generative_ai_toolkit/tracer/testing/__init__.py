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

This part imports only the core.
"""

from ._assertions import assert_called_tool, assert_no_errors, assert_tool_order
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
    "ended_span",
]
