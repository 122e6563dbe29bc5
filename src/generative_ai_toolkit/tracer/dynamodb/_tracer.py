"""``DynamoDbTracer`` and the client it makes: spans batched into a table in the background."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from .._clock import Clock
from .._export import DEFAULT_SCHEDULE_DELAY
from .._exporting import StoringTracer
from .._ids import IdGenerator
from .._redact import Redact
from .._sampling import Sampler
from .._span import Scope
from .._trace import Trace
from ._item import Item, span_to_item
from ._reader import DynamoDbTraceQuery, TableSetupError
from ._reader import verify_table as verify_table_setup

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoDbTraceQuery", "DynamoDbTracer", "TableSetupError", "dynamodb_client"]

_log = logging.getLogger("generative_ai_toolkit.tracer")

INSTALL_HINT: Final = (
    "DynamoDbTracer needs boto3: pip install 'generative-ai-toolkit-tracing[dynamodb]'"
)
#: The longest ``get_traces`` waits for queued spans to be written before it reads.
DEFAULT_READ_FLUSH_TIMEOUT: Final = 10.0


def dynamodb_client(session: boto3.session.Session | None = None) -> DynamoDBClient:
    """A DynamoDB client as the tracer makes one: from ``session`` (default: a new boto3
    session, so the usual AWS environment applies, ``AWS_ENDPOINT_URL_DYNAMODB`` included),
    with short timeouts and a single attempt per request (the export engine does the retrying,
    with backoff, without holding up anything else), and without client-side parameter
    validation (the items come from the tracer's own encoder)."""
    try:
        import boto3  # noqa: PLC0415 - boto3 is an optional dependency
        from botocore.config import Config  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    session = session or boto3.session.Session()
    config = Config(
        connect_timeout=5,
        read_timeout=15,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=16,
        # Items come from our own encoder; validating them again costs more CPU than encoding.
        parameter_validation=False,
    )
    return session.client("dynamodb", config=config)


class DynamoDbTracer(StoringTracer):
    """Stores every ended span as one item of a DynamoDB table, and reads them back.

    Ending a span only queues it; a background worker writes queued spans with
    ``BatchWriteItem`` (25 items a request), retrying throttling, ``UnprocessedItems``, 5xx,
    timeouts and refused connections with backoff. Failures never reach the traced code: they
    are logged and counted in ``stats``.

    Options: ``identifier`` names the agent in each span's sort key; ``conversation_id_gsi_name``
    names the GSI on ``conversation_id`` (needed to look spans up by ``ai.conversation.id``);
    ``client`` or ``session`` replace the default boto3 client; ``expire_after`` sets the TTL
    attribute ``expire_at`` to that long after each span ends; ``verify_table`` checks the table
    and index once, at construction (``TableSetupError`` when missing). The remaining options are
    the export engine's (see ``ExportingTracer``).
    """

    def __init__(
        self,
        table_name: str,
        *,
        identifier: str | None = None,
        conversation_id_gsi_name: str | None = None,
        client: DynamoDBClient | None = None,
        session: boto3.session.Session | None = None,
        expire_after: float | timedelta | None = None,
        verify_table: bool = True,
        read_flush_timeout: float = DEFAULT_READ_FLUSH_TIMEOUT,
        max_concurrency: int = 8,
        max_queue_size: int = 20_000,
        max_batch_size: int = 500,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        max_retry_delay: float = 5.0,
        shutdown_timeout: float = 10.0,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        if not table_name:
            raise ValueError("table_name must be a non-empty string")
        if isinstance(expire_after, timedelta):
            expire_after = expire_after.total_seconds()
        if expire_after is not None and expire_after <= 0:
            raise ValueError(f"expire_after must be positive seconds, not {expire_after!r}")
        try:
            from ._writer import DynamoDbWriter  # noqa: PLC0415 - needs botocore
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc

        owns_client = client is None
        if client is None:
            client = dynamodb_client(session)
        if verify_table:
            verify_table_setup(client, table_name, conversation_id_gsi_name)
        self._table_name = table_name
        self._identifier = identifier
        self._expire_after = expire_after
        self._read_flush_timeout = read_flush_timeout
        self._client = client
        self._reader = DynamoDbTraceQuery(
            client, table_name, conversation_id_gsi_name=conversation_id_gsi_name
        )
        writer = DynamoDbWriter(
            client,
            table_name,
            encode=self._encode,
            max_concurrency=max_concurrency,
            reconnect=(lambda: dynamodb_client(session)) if owns_client else None,
        )
        super().__init__(
            writer,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay=schedule_delay,
            max_retry_delay=max_retry_delay,
            shutdown_timeout=shutdown_timeout,
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
        )

    def __repr__(self) -> str:
        return f"DynamoDbTracer(table_name={self._table_name!r})"

    @property
    def table_name(self) -> str:
        """The table spans are written to."""
        return self._table_name

    def _encode(self, span: Trace) -> Item:
        expire_at = None
        if self._expire_after is not None:
            expire_at = int(span._end_ns / 1e9 + self._expire_after)
        return span_to_item(span, identifier=self._identifier, expire_at=expire_at)
