"""The demo: a scripted agent traced into SQLite and the terminal (``scripts/demo``).

``python -m generative_ai_toolkit.tracer.demo [--db PATH] [--quiet]``. An application of the
library like the command line: it may import the core and ``sqlite``, nothing else.
"""

from ._agent import main

__all__ = ["main"]
