"""Reading spans back from the traces table: ``DynamoDbTraceQuery`` (a ``TraceQuery``).

Every read is one paginated request stream: a ``Query`` on the table by trace, a ``Query`` on
the conversation GSI by conversation, ``Query``s of the summary indexes to list conversations
(``_listing``). A ``Scan`` happens only when asked for (``get_traces(allow_scan=True)``) and
for ``list_conversations`` on a table without the summary indexes (with a warning). Every
request's consumed capacity is logged at DEBUG and counted. The cost of each read is in
``docs/dynamodb.md``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from .._codec import decode_attributes
from .._genai_semconv import MODEL_ATTRIBUTE, USAGE_ATTRIBUTE
from .._query import (
    AUTH_CONTEXT,
    CONVERSATION_ID,
    ConversationFilter,
    ConversationSummary,
    SpanNode,
    build_tree,
    filter_summaries,
    matches_filter,
    sorted_by_start,
    summarize,
)
from .._trace import Trace
from ._capacity import CapacityMeter
from ._item import index_text, item_to_span, partition_key, read_header
from ._listing import ConversationPage, SummaryListing
from ._summary_item import ACTIVITY_INDEX, AUTH_ACTIVITY_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: How often a reader looks again for summary indexes it did not find (a migration may add them).
_RECHECK_S: Final = 300.0
#: What ``list_conversations`` reads of each span: its keys and header, not the attributes.
_SUMMARY_FIELDS: Final = ("conversation_id", "auth_context", "span", "attributes")
#: What a span's attributes text holds when the span reports token usage.
_USAGE_MARK: Final = f'"{USAGE_ATTRIBUTE}"'


class TableSetupError(ValueError):
    """The traces table (or its conversation index) is missing or has the wrong keys."""


def verify_table(client: DynamoDBClient, table_name: str, gsi_name: str | None) -> None:
    """Check with one ``DescribeTable`` that the table and the GSI exist with the expected keys.

    Raises ``TableSetupError`` when they do not. Other failures (no permission to describe, the
    endpoint unreachable right now) are logged and let through: writes are retried later.
    """
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - optional dep

    try:
        table = client.describe_table(TableName=table_name)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise TableSetupError(
                f"DynamoDB table {table_name!r} does not exist at "
                f"{client.meta.endpoint_url}: create it with partition key 'pk' (S), sort key "
                f"'sk' (S) and a GSI on 'conversation_id' (S) + 'sk' (see docs/dynamodb.md)"
            ) from None
        _log.warning("could not describe DynamoDB table %r (%s): not checked", table_name, exc)
        return
    except BotoCoreError as exc:
        _log.warning("could not describe DynamoDB table %r (%s): not checked", table_name, exc)
        return
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    keys = {k["KeyType"]: k["AttributeName"] for k in table.get("KeySchema", [])}
    if keys != {"HASH": "pk", "RANGE": "sk"} or types.get("pk") != "S" or types.get("sk") != "S":
        raise TableSetupError(
            f"DynamoDB table {table_name!r} must have partition key 'pk' (S) and sort key "
            f"'sk' (S); it has {table.get('KeySchema')} with {table.get('AttributeDefinitions')}"
        )
    if gsi_name is None:
        return
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    index = indexes.get(gsi_name)
    if index is None:
        raise TableSetupError(
            f"DynamoDB table {table_name!r} has no global secondary index {gsi_name!r} "
            f"(it has {sorted(indexes) or 'none'}): create it with partition key "
            f"'conversation_id' (S) and sort key 'sk' (S), projection ALL"
        )
    index_keys = {k["KeyType"]: k["AttributeName"] for k in index.get("KeySchema", [])}
    if index_keys.get("HASH") != "conversation_id" or types.get("conversation_id") != "S":
        raise TableSetupError(
            f"index {gsi_name!r} of DynamoDB table {table_name!r} must have partition key "
            f"'conversation_id' (S); it has {index.get('KeySchema')}"
        )
    if index.get("Projection", {}).get("ProjectionType") != "ALL":
        raise TableSetupError(
            f"index {gsi_name!r} of DynamoDB table {table_name!r} must project ALL attributes"
        )


class DynamoDbTraceQuery:
    """``TraceQuery`` over a traces table: what ``DynamoDbTracer`` reads with, and what the CLI
    uses on its own (it writes nothing and holds no background thread).

    ``conversation_id_gsi_name`` names the GSI on ``conversation_id``; without it, conversation
    lookups raise ``ValueError`` rather than fall back to a ``Scan``. Every request asks for its
    consumed capacity, logs it at DEBUG and adds it to ``meter`` (``capacity``).
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        conversation_id_gsi_name: str | None = None,
        meter: CapacityMeter | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._gsi = conversation_id_gsi_name
        self._meter = meter or CapacityMeter()
        self._listing = SummaryListing(client, table_name, meter=self._meter)
        self._summaries_checked: float | None = None
        self._summaries_ready = False
        self._warned = False

    @property
    def capacity(self) -> CapacityMeter:
        """The capacity units this reader's requests consumed."""
        return self._meter

    def get_traces(
        self,
        trace_id: str | None = None,
        attribute_filter: Mapping[str, Any] | None = None,
        *,
        allow_scan: bool = False,
        include_open: bool = False,
    ) -> list[Trace]:
        """Spans of ``trace_id`` matching every ``attribute_filter`` item exactly, by start.

        With a trace id: one ``Query`` on the table. Else with ``ai.conversation.id``: one
        ``Query`` on the GSI. Else, only with ``allow_scan=True``, a ``Scan`` of the whole table
        (``ValueError`` without it). ``ai.auth.context`` is applied on the server (a
        ``FilterExpression``) and checked again here, so spans of another auth context never
        come back.
        """
        attribute_filter = dict(attribute_filter or {})
        auth = attribute_filter.get(AUTH_CONTEXT)
        conversation = index_text(attribute_filter.get(CONVERSATION_ID))
        if trace_id is None and conversation is None and not allow_scan:
            raise ValueError(refuse_scan_message(self._table))
        if trace_id is not None:
            items = self._query_trace(_parse_trace_id(trace_id), auth, conversation)
        elif conversation is not None:
            items = self._query_conversation(conversation, auth)
        else:
            items = self._scan(auth)
        spans = (s for s in map(item_to_span, items) if include_open or s._end_ns)
        if attribute_filter:
            return sorted_by_start(s for s in spans if matches_filter(s, attribute_filter))
        return sorted_by_start(spans)

    def conversation_spans(
        self, conversation_id: str, *, auth_context: str | None = None, include_open: bool = False
    ) -> list[Trace]:
        """Every span of one conversation (ids as text), by start: one GSI ``Query``."""
        spans = [
            span
            for span in map(item_to_span, self._query_conversation(conversation_id, auth_context))
            if (auth_context is None or span._attrs.get(AUTH_CONTEXT) == auth_context)
            and (include_open or span._end_ns)
        ]
        return sorted_by_start(spans)

    def trace_tree(self, trace_id: str, *, include_open: bool = False) -> list[SpanNode]:
        """The spans of one trace as trees: one ``Query`` on the table."""
        return build_tree(self.get_traces(trace_id=trace_id, include_open=include_open))

    def list_conversations(
        self, where: ConversationFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations, most recently active first: ``Query``s of the summary indexes that
        read about as many items as they return (``offset`` more are read and skipped). On a
        table without those indexes: a ``Scan`` of the conversation GSI, with a warning once."""
        if self._has_summaries():
            page = self._listing.page(where, limit=limit, cursor=None, skip=offset)
            return page.summaries
        return self._scan_conversations(where, limit=limit, offset=offset)

    def list_conversations_page(
        self, where: ConversationFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> ConversationPage:
        """One page of conversations, newest first, after ``cursor`` (the previous page's
        ``cursor``; ``None`` for the first page). Needs the summary indexes."""
        if not self._has_summaries():
            raise ValueError(missing_index_message(self._table))
        return self._listing.page(where, limit=limit, cursor=cursor)

    @property
    def listing(self) -> SummaryListing:
        """The summary-index reader (its ``items_read`` counts every item read)."""
        return self._listing

    def _has_summaries(self) -> bool:
        now = time.monotonic()
        if self._summaries_checked is not None and (
            self._summaries_ready or now - self._summaries_checked < _RECHECK_S
        ):
            return self._summaries_ready
        self._summaries_checked = now
        try:
            table = self._client.describe_table(TableName=self._table)["Table"]
        except Exception as exc:  # noqa: BLE001 - no permission to describe: assume the indexes
            _log.info("could not describe DynamoDB table %r (%s)", self._table, exc)
            self._summaries_ready = True
            return True
        statuses = {
            index["IndexName"]: index.get("IndexStatus", "ACTIVE")
            for index in table.get("GlobalSecondaryIndexes", [])
        }
        self._summaries_ready = all(
            statuses.get(name) == "ACTIVE" for name in (ACTIVITY_INDEX, AUTH_ACTIVITY_INDEX)
        )
        if not self._summaries_ready and not self._warned:
            self._warned = True
            _log.warning("%s", missing_index_message(self._table))
        return self._summaries_ready

    def _scan_conversations(
        self, where: ConversationFilter | None, *, limit: int, offset: int
    ) -> list[ConversationSummary]:
        auth = where.auth_context if where is not None else None
        params: dict[str, Any] = {
            "ProjectionExpression": ", ".join(f"#f{i}" for i in range(len(_SUMMARY_FIELDS))),
            "ExpressionAttributeNames": {f"#f{i}": f for i, f in enumerate(_SUMMARY_FIELDS)},
        }
        if self._gsi is not None:
            params["IndexName"] = self._gsi
        else:
            params["FilterExpression"] = "attribute_exists(conversation_id)"
        _add_auth_filter(params, auth)
        spans = (_summary_span(item) for item in self._pages("scan", params))
        return filter_summaries(summarize(spans).values(), where, limit=limit, offset=offset)

    # -- requests ------------------------------------------------------------------------------

    def _query_trace(
        self, trace_id: str, auth: Any, conversation: str | None
    ) -> Iterator[Mapping[str, Any]]:
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition_key(trace_id)}},
            "ConsistentRead": True,
        }
        if conversation is not None:
            _and_filter(params, "conversation_id = :conversation", ":conversation", conversation)
        _add_auth_filter(params, auth)
        return self._pages("query", params)

    def _query_conversation(self, conversation: str, auth: Any) -> Iterator[Mapping[str, Any]]:
        if self._gsi is None:
            raise ValueError(
                "looking spans up by ai.conversation.id needs the conversation GSI: pass "
                "conversation_id_gsi_name= (e.g. 'conversation_index'); a table Scan is not "
                "done instead"
            )
        params: dict[str, Any] = {
            "IndexName": self._gsi,
            "KeyConditionExpression": "conversation_id = :conversation",
            "ExpressionAttributeValues": {":conversation": {"S": index_text(conversation)}},
        }
        _add_auth_filter(params, auth)
        return self._pages("query", params)

    def _scan(self, auth: Any) -> Iterator[Mapping[str, Any]]:
        _log.debug("get_traces without trace or conversation id: scanning table %r", self._table)
        # Only span items: the table also holds conversation summaries (see _summaries).
        params: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :span_prefix)",
            "ExpressionAttributeValues": {":span_prefix": {"S": partition_key("")}},
        }
        _add_auth_filter(params, auth)
        return self._pages("scan", params)

    def _pages(self, operation: str, params: dict[str, Any]) -> Iterator[Mapping[str, Any]]:
        request = getattr(self._client, operation)
        params = {"TableName": self._table, "ReturnConsumedCapacity": "TOTAL", **params}
        name = "Query" if operation == "query" else "Scan"
        while True:
            page = request(**params)
            self._meter.record(name, page, self._table)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last


def missing_index_message(table: str) -> str:
    """The warning for a table without the summary indexes: what it costs, what to run."""
    return (
        f"DynamoDB table {table!r} has no active {ACTIVITY_INDEX!r} and {AUTH_ACTIVITY_INDEX!r} "
        f"indexes: list_conversations scans every span of the conversation index instead; add "
        f"them with `gat-traces dynamodb migrate --table {table}`"
    )


def refuse_scan_message(table: str) -> str:
    """Why ``get_traces()`` without a trace or conversation id refuses to run."""
    return (
        f"get_traces() without a trace_id or an ai.conversation.id filter would Scan the whole "
        f"DynamoDB table {table!r} (every item, every time); pass allow_scan=True to do it "
        f"anyway"
    )


def _add_auth_filter(params: dict[str, Any], auth: Any) -> None:
    # Stored as text; the exact (typed) check happens on the decoded attributes.
    text = index_text(auth)
    if text is not None:
        _and_filter(params, "auth_context = :auth", ":auth", text)


def _and_filter(params: dict[str, Any], condition: str, name: str, value: str) -> None:
    existing = params.get("FilterExpression")
    params["FilterExpression"] = f"{existing} AND {condition}" if existing else condition
    params.setdefault("ExpressionAttributeValues", {})[name] = {"S": value}


def _summary_span(item: Mapping[str, Any]) -> Trace:
    header = read_header(item)
    attributes = {CONVERSATION_ID: item["conversation_id"]["S"]}
    if "auth_context" in item:
        attributes[AUTH_CONTEXT] = item["auth_context"]["S"]
    text = item.get("attributes", {}).get("S", "")
    if _USAGE_MARK in text:
        # Only LLM calls are decoded, and only what the usage rollup reads is kept.
        decoded = decode_attributes(text)
        attributes.update(
            {k: decoded[k] for k in (USAGE_ATTRIBUTE, MODEL_ATTRIBUTE) if k in decoded}
        )
    return Trace.restore(
        span_name=header["name"],
        trace_id=header["trace_id"],
        span_id=header["span_id"],
        parent_span_id=header.get("parent_span_id"),
        started_at=int(header["start_ns"]),
        ended_at=int(header["end_ns"]),
        attributes=attributes,
        span_status=header.get("status", "UNSET"),
    )


def _parse_trace_id(trace_id: str) -> str:
    try:
        return f"{int(trace_id, 16):032x}"
    except (TypeError, ValueError):
        raise ValueError(f"trace_id must be 32 hex digits, not {trace_id!r}") from None
