"""Integrations that create spans by themselves: Amazon Bedrock through botocore's events.

```python
from generative_ai_toolkit.tracer.instrument import instrument_bedrock

instrument_bedrock(tracer)      # every bedrock-runtime call of boto3 clients made from now on
```

and typed helpers for hand-instrumented agents: ``@traced_tool``, ``agent_turn``,
``record_llm_call``.

A part like the stores: it imports the core only. boto3 is imported when ``instrument_bedrock``
is first called (the ``bedrock`` extra), so this package imports without it.
"""

from ._api import instrument_bedrock, uninstrument_bedrock
from ._helpers import Turn, agent_turn, record_llm_call, traced_tool

__all__ = [
    "Turn",
    "agent_turn",
    "instrument_bedrock",
    "record_llm_call",
    "traced_tool",
    "uninstrument_bedrock",
]
