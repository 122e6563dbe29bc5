"""``python -m generative_ai_toolkit.tracer``: the ``gat-traces`` command line."""

from ._cli import main

raise SystemExit(main())
