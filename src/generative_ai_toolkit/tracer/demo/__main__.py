"""``python -m generative_ai_toolkit.tracer.demo``."""

from ._agent import main

raise SystemExit(main())
