"""Cost from token usage: a pricing table you supply (a dict, or a JSON/TOML file).

```python
from generative_ai_toolkit.tracer import pricing

table = pricing.Pricing.load("pricing.toml")  # or Pricing.from_dict({...}), Pricing.from_env()
for summary in tracer.list_conversations():
    print(summary.conversation_id, summary.usage.total_tokens, summary.cost(table))
```

See docs/cost.md.
"""

from ._pricing import PRICING_ENV, Cost, ModelPrice, Pricing, PricingError, PricingSource

__all__ = ["PRICING_ENV", "Cost", "ModelPrice", "Pricing", "PricingError", "PricingSource"]
