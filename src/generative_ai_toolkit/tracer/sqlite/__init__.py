"""``SqliteTracer``: the embedded default store, one local file written in the background.

```python
from generative_ai_toolkit.tracer import SqliteTracer  # also importable from here

tracer = SqliteTracer()  # $GAT_TRACES_DB, else ./traces.sqlite3
```

Owns the file's schema and its migrations, the batched writer and ``SqliteQuery``, the reader
the command line and the viewer open. May import the core (``generative_ai_toolkit.tracer._*``)
and nothing else of this package.
"""

from ._query import SqliteQuery
from ._schema import DB_PATH_ENV, TraceDatabaseError, default_db_path
from ._tracer import SqliteTracer

__all__ = ["DB_PATH_ENV", "SqliteQuery", "SqliteTracer", "TraceDatabaseError", "default_db_path"]
