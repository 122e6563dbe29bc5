"""Helpers for testing code that is traced: a deterministic clock and id generator.

```python
from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.testing import SequentialIds, StepClock

tracer = InMemoryTracer(clock=StepClock(), id_generator=SequentialIds())
```

This part imports only the core.
"""

from ._deterministic import SequentialIds, StepClock, ended_span

__all__ = ["SequentialIds", "StepClock", "ended_span"]
