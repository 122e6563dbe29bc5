"""``gat-traces``: the command line over every store, and the ``serve`` command.

Owns argument parsing, the sources (SQLite file, DynamoDB table, JSON-lines file), the
commands and their terminal rendering. It is the one part that composes the others: it may
import the core, ``sqlite``, ``dynamodb`` (lazily: boto3 is optional), ``otlp`` and ``viewer``
to open, serve and feed them, and reads spans only through the core's ``TraceQuery``.
"""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
