"""The web viewer over any ``TraceQuery``, as ``gat-traces serve`` runs it.

```python
from generative_ai_toolkit.tracer.viewer import ViewerServer

server = ViewerServer(tracer, port=0).start()  # an InMemoryTracer, SqliteTracer, ...
print(server.url)  # http://127.0.0.1:<port>/, read-only, loopback only
server.close()
```
"""

from ._viewer import CONTENT_SECURITY_POLICY, ViewerServer, check_bind_address
from ._viewer_live import ReloadingQuery

__all__ = ["CONTENT_SECURITY_POLICY", "ReloadingQuery", "ViewerServer", "check_bind_address"]
