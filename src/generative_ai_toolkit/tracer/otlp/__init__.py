"""``OtlpTracer``: spans shipped as OTLP/HTTP protobuf to an OpenTelemetry collector, Phoenix,
Jaeger or AWS X-Ray (through the ADOT collector), from a background worker.

```python
from generative_ai_toolkit.tracer.otlp import OtlpTracer

tracer = OtlpTracer()  # http://localhost:4318/v1/traces, or OTEL_EXPORTER_OTLP_* variables
```

Importing this module needs nothing beyond the standard library; constructing an ``OtlpTracer``
needs ``protobuf`` and ``opentelemetry-proto`` (``pip install
generative-ai-toolkit-tracing[otlp]``).

Owns the OTLP/HTTP wire format, the OpenTelemetry settings (``OTEL_EXPORTER_OTLP_*``) and the
transport. May import the core (``generative_ai_toolkit.tracer._*``) and nothing else of this
package.
"""

from ._receiver import OtlpReceiver
from ._tracer import OtlpSpanWriter, OtlpTracer

__all__ = ["OtlpReceiver", "OtlpSpanWriter", "OtlpTracer"]
