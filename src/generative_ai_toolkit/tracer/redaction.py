"""Redaction: what spans may carry out of the process. Pass a redactor as ``redact=``.

```python
from generative_ai_toolkit.tracer import SqliteTracer, redaction

tracer = SqliteTracer(redact=redaction.Redactor(secrets=True, emails=True, credit_cards=True))
metadata_only = redaction.chain(redaction.content_omitted(), redaction.Redactor(secrets=True))
```

A redactor is any callable ``(key, value, span) -> value to store``, applied to every attribute
of each span once, before it is stored. See docs/privacy.md.
"""

from ._redact import (
    CONTENT_KEYS,
    REDACTED_KEYS_ATTRIBUTE,
    Redact,
    chain,
    content_omitted,
    redact_span,
)
from ._redactor import Redactor

__all__ = [
    "CONTENT_KEYS",
    "REDACTED_KEYS_ATTRIBUTE",
    "Redact",
    "Redactor",
    "chain",
    "content_omitted",
    "redact_span",
]
