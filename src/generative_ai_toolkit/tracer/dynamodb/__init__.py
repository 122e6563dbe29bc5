"""``DynamoDbTracer``: spans stored in a DynamoDB table, written in the background in batches.

```python
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer

tracer = DynamoDbTracer(
    table_name="MyTracesTable",
    identifier="MyAgent",
    conversation_id_gsi_name="conversation_index",
)
```

This module imports without boto3; constructing a tracer needs it
(``pip install generative-ai-toolkit-tracing[dynamodb]``). The table layout, the index, TTL and
the cost of each query are described in ``docs/dynamodb.md``.

Owns the table layout (items, the conversation index), the background writer and the reader.
May import the core (``generative_ai_toolkit.tracer._*``) and nothing else of this package.
"""

from ._listing import ConversationPage
from ._reader import DynamoDbTraceQuery, TableSetupError
from ._tracer import DynamoDbTracer, dynamodb_client

__all__ = [
    "ConversationPage",
    "DynamoDbTraceQuery",
    "DynamoDbTracer",
    "TableSetupError",
    "dynamodb_client",
]
