"""The demo: a scripted agent traced into SQLite and the terminal (``scripts/demo``).

``python -m generative_ai_toolkit.tracer.demo [--db PATH] [--quiet]``. An application of the
library like the command line: it may import the core, ``sqlite`` and ``instrument``, nothing
else.

``BedrockServer`` is the local stand-in for Amazon Bedrock that the demo's model runs on: a
``bedrock-runtime`` wire-protocol server on 127.0.0.1 answering by script (``ModelAnswer``),
which users' tests can point real boto3 clients at too.
"""

from ._agent import main
from ._bedrock_server import BedrockServer, Responder, echo
from ._bedrock_wire import (
    BedrockError,
    BedrockRequest,
    ModelAnswer,
    ToolUse,
    throttling,
    validation,
)

__all__ = [
    "BedrockError",
    "BedrockRequest",
    "BedrockServer",
    "ModelAnswer",
    "Responder",
    "ToolUse",
    "echo",
    "main",
    "throttling",
    "validation",
]
