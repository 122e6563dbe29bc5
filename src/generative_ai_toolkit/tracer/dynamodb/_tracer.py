"""``DynamoDbTracer`` and the client it makes: spans batched into a table in the background."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from .._clock import Clock
from .._export import DEFAULT_SCHEDULE_DELAY
from .._exporting import StoringTracer
from .._ids import IdGenerator
from .._query import CONVERSATION_ID, ConversationFilter
from .._redact import Redact
from .._sampling import Sampler
from .._snapshot import last_seen_ns
from .._span import Scope
from .._spanqueue import QueueFullPolicy
from .._trace import Trace
from .._writer import SpanWriter
from ._capacity import CapacityMeter
from ._item import Item, span_to_item
from ._listing import ConversationPage
from ._reader import DynamoDbTraceQuery, TableSetupError, refuse_scan_message
from ._reader import verify_table as verify_table_setup
from ._summaries import SummarizingWriter, SummaryUpdater
from ._summary_item import SUMMARIZED

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
#: The longest the constructor waits for the table check (``DescribeTable``).
DEFAULT_VERIFY_TIMEOUT: Final = 3.0


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
    and index once, at construction (``TableSetupError`` when missing), waiting at most
    ``verify_timeout`` seconds: an endpoint that does not answer by then is logged and the
    check finishes in the background. The remaining options are the export engine's (see
    ``ExportingTracer``). ``conversation_summaries`` keeps one summary item per conversation
    current (one ``UpdateItem`` per conversation per batch), which ``list_conversations``
    reads instead of scanning (see ``docs/dynamodb.md``). ``snapshot_interval`` (seconds; off
    by default, as each snapshot is a billed write) stores open spans as conditional writes:
    one item per span, replaced by a newer snapshot or by the ended span, never the reverse.
    """

    _reader: DynamoDbTraceQuery

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
        verify_timeout: float = DEFAULT_VERIFY_TIMEOUT,
        conversation_summaries: bool = True,
        read_flush_timeout: float = DEFAULT_READ_FLUSH_TIMEOUT,
        max_concurrency: int = 8,
        max_queue_size: int = 20_000,
        max_batch_size: int = 500,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        max_retry_delay: float = 5.0,
        shutdown_timeout: float = 10.0,
        on_queue_full: QueueFullPolicy = "drop",
        block_timeout: float = 5.0,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
        snapshot_interval: float | None = None,
    ) -> None:
        if not table_name:
            raise ValueError("table_name must be a non-empty string")
        if isinstance(expire_after, timedelta):
            expire_after = expire_after.total_seconds()
        if expire_after is not None and expire_after <= 0:
            raise ValueError(f"expire_after must be positive seconds, not {expire_after!r}")
        if verify_timeout <= 0:
            raise ValueError(f"verify_timeout must be positive seconds, not {verify_timeout!r}")
        try:
            from ._writer import DynamoDbWriter  # noqa: PLC0415 - needs botocore
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc

        owns_client = client is None
        if client is None:
            client = dynamodb_client(session)
        if verify_table:
            _verify_within(client, table_name, conversation_id_gsi_name, verify_timeout)
        self._table_name = table_name
        self._identifier = identifier
        self._expire_after = expire_after
        self._read_flush_timeout = read_flush_timeout
        self._client = client
        self._capacity = CapacityMeter()
        self._capacity.attach(client)
        self._reader = DynamoDbTraceQuery(
            client,
            table_name,
            conversation_id_gsi_name=conversation_id_gsi_name,
            meter=self._capacity,
        )
        reconnect = (lambda: self._measured(dynamodb_client(session))) if owns_client else None
        writer: SpanWriter = DynamoDbWriter(
            client,
            table_name,
            encode=self._encode,
            max_concurrency=max_concurrency,
            reconnect=reconnect,
        )
        self._summaries: SummaryUpdater | None = None
        if conversation_summaries:
            self._summaries = SummaryUpdater(
                client,
                table_name,
                meter=self._capacity,
                max_concurrency=max_concurrency,
                reconnect=reconnect,
                expire_after=expire_after,
            )
            writer = SummarizingWriter(writer, self._summaries)
        super().__init__(
            writer,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay=schedule_delay,
            max_retry_delay=max_retry_delay,
            shutdown_timeout=shutdown_timeout,
            on_queue_full=on_queue_full,
            block_timeout=block_timeout,
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
            snapshot_interval=snapshot_interval,
        )

    def __repr__(self) -> str:
        return f"DynamoDbTracer(table_name={self._table_name!r})"

    @property
    def table_name(self) -> str:
        """The table spans are written to."""
        return self._table_name

    @property
    def stats(self) -> dict[str, int]:
        """The export counts (see ``ExportingTracer.stats``) plus ``read_capacity`` and
        ``write_capacity``: the capacity units DynamoDB reported for this tracer's reads and
        writes, rounded up to whole units (exact: ``capacity``); ``summary_errors``: updates of
        conversation summaries that failed (each logged once per cause)."""
        errors = self._summaries.errors if self._summaries is not None else 0
        return {**super().stats, **self._capacity.stats(), "summary_errors": errors}

    @property
    def capacity(self) -> CapacityMeter:
        """The exact capacity units consumed so far (``read``, ``write``)."""
        return self._capacity

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        allow_scan: bool = False,
        include_open: bool = False,
    ) -> Sequence[Trace]:
        """Stored spans of ``trace_id`` and/or one conversation (``ai.conversation.id`` in
        ``attribute_filter``) matching every filter item exactly, by start time. With neither,
        ``ValueError`` unless ``allow_scan=True`` (then: a ``Scan`` of the whole table)."""
        keyed = trace_id is not None or (attribute_filter or {}).get(CONVERSATION_ID) is not None
        if not keyed and not allow_scan:
            raise ValueError(refuse_scan_message(self._table_name))
        self._flush_before_read()
        return self._reader.get_traces(
            trace_id, attribute_filter, allow_scan=allow_scan, include_open=include_open
        )

    def list_conversations_page(
        self, where: ConversationFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> ConversationPage:
        """One page of conversations, newest first, after ``cursor`` (the ``cursor`` of the
        previous page; ``None`` for the first). Needs the summary indexes (``ValueError``
        naming ``gat-traces dynamodb migrate`` without them)."""
        self._flush_before_read()
        return self._reader.list_conversations_page(where, limit=limit, cursor=cursor)

    def _measured(self, client: DynamoDBClient) -> DynamoDBClient:
        self._capacity.attach(client)
        return client

    def _encode(self, span: Trace) -> Item:
        expire_at = None
        if self._expire_after is not None:
            expire_at = int(last_seen_ns(span) / 1e9 + self._expire_after)
        item = span_to_item(span, identifier=self._identifier, expire_at=expire_at)
        if self._summaries is not None:
            item[SUMMARIZED] = {"N": "1"}  # counted by this writer: `migrate` skips it
        return item


def _verify_within(
    client: DynamoDBClient, table_name: str, gsi_name: str | None, timeout: float
) -> None:
    """``verify_table_setup`` on a helper thread, waited for at most ``timeout`` seconds.

    A frozen endpoint must not hold up the agent for the client's read timeout: past
    ``timeout`` the constructor goes on (spans queue and are retried) and a late finding is
    logged instead of raised.
    """
    outcome: list[BaseException | None] = []
    gave_up = threading.Event()

    def verify() -> None:
        try:
            verify_table_setup(client, table_name, gsi_name)
        except BaseException as exc:  # noqa: BLE001 - handed to the constructor, or logged
            outcome.append(exc)
            if gave_up.is_set():
                _log.error("DynamoDB table %r is not usable: %s", table_name, exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=verify, name="dynamodb-verify-table", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        gave_up.set()
        if not outcome:  # it may have finished between the two checks
            _log.warning(
                "DynamoDB table %r not checked within %.1fs (endpoint %s not answering): "
                "going on; spans are retried until it answers",
                table_name,
                timeout,
                client.meta.endpoint_url,
            )
            return
    error = outcome[0]
    if error is not None:
        raise error
