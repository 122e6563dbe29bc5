"""Sampling: which traces a tracer keeps. Pass one sampler as ``sampler=``.

```python
from generative_ai_toolkit.tracer import InMemoryTracer, sampling

InMemoryTracer(sampler=sampling.TraceIdRatio(0.1))        # head: 10% of traces, by trace id
InMemoryTracer(sampler=sampling.ConversationRatio(0.1))   # 10% of conversations, whole
InMemoryTracer(sampler=sampling.TailSampler(ratio=0.1, min_duration=5.0))  # errors, slow, 10%
```

See docs/privacy.md.
"""

from ._sampling import ConversationRatio, Sampler, TailSampler, TraceIdRatio

__all__ = ["ConversationRatio", "Sampler", "TailSampler", "TraceIdRatio"]
