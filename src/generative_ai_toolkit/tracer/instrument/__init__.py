"""Integrations that create spans by themselves: Amazon Bedrock through botocore's events.

```python
from generative_ai_toolkit.tracer.instrument import instrument_bedrock

instrument_bedrock(tracer)      # every bedrock-runtime call of boto3 clients made from now on
```

A part like the stores: it imports the core only. boto3 is imported when ``instrument_bedrock``
is first called (the ``bedrock`` extra), so this package imports without it.
"""

from ._api import instrument_bedrock, uninstrument_bedrock

__all__ = ["instrument_bedrock", "uninstrument_bedrock"]
