"""``python -m generative_ai_toolkit.tracer``: the ``gat-traces`` command line."""

from .cli import main

raise SystemExit(main())
