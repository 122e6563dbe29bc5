"""The export engine's plug point: ``SpanWriter``, and the errors a writer signals failure with.

Stores and exporters implement ``SpanWriter``; the engine (``_export``) decides what a failure
means for the batch from the error's type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._trace import Trace


class RetryableError(Exception):
    """A write failed in a way that may succeed later: throttling, a refused connection, a 503.

    ``remaining`` names the spans still to write when part of the batch went through (e.g.
    DynamoDB's ``UnprocessedItems``); ``None`` means the whole batch. ``retry_after`` is the
    server's requested delay in seconds, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        remaining: Sequence[Trace] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.remaining = remaining
        self.retry_after = retry_after


class BatchRejectedError(Exception):
    """The sink refused the write for a reason that does not depend on the spans in it (a wrong
    endpoint, bad credentials, a missing permission).

    The engine drops the batch with one log line instead of splitting it to find a poison span,
    and moves on: a fixed configuration (say, rotated credentials) lets later batches through.
    """


class SpanWriter(Protocol):
    """Moves a batch of ended spans to storage. The one plug point of the export engine.

    ``write`` is only ever called from the exporter's worker thread. It returns when every span
    of the batch is stored, raises ``RetryableError`` when trying again later may succeed,
    ``BatchRejectedError`` when the sink refuses any batch, and anything else when this batch
    can never be written as it is (the engine then halves it to isolate the span at fault).
    """

    def write(self, batch: Sequence[Trace]) -> None:
        """Store every span of ``batch``."""
        ...

    def close(self) -> None:
        """Release connections and files; called once, from the worker, at shutdown."""
        ...
