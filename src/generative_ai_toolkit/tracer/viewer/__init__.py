"""The web viewer over any ``TraceQuery``, as ``gat-traces serve`` runs it.

```python
from generative_ai_toolkit.tracer.viewer import ViewerServer

server = ViewerServer(tracer, port=0).start()  # an InMemoryTracer, SqliteTracer, ...
print(server.url)  # http://127.0.0.1:<port>/, read-only, loopback only
server.close()
```

Owns the HTTP server, its JSON API, live updates and the static page (``static/``). It reads
only through the core's ``TraceQuery``: it may import the core and nothing else of this package.
"""

from .._loopback import check_bind_address
from ._live import ReloadingQuery
from ._server import CONTENT_SECURITY_POLICY, ViewerServer

__all__ = ["CONTENT_SECURITY_POLICY", "ReloadingQuery", "ViewerServer", "check_bind_address"]
