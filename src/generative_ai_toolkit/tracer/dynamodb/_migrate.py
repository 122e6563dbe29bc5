"""Bringing an existing traces table up to date: the summary indexes, and summaries backfilled.

``add_summary_indexes`` creates the two GSIs (``UpdateTable``, one at a time) and waits until they
are ACTIVE. ``Backfill`` scans the table for spans no summarizing writer has counted (items
without the ``summarized`` marker), adds them up per conversation, and writes the totals into
the ``bf_`` counters of each summary with ``SET``: running it again recomputes and overwrites
the same values, so nothing is counted twice, and writers keep ``ADD``-ing to their own counters
meanwhile. The scan's position and the totals so far are saved in a checkpoint file (atomically,
every few seconds), so a killed backfill resumes where the last checkpoint left off.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._capacity import CapacityMeter
from ._item import item_to_span, partition_key
from ._summaries import apply_backfill, raise_max
from ._summary_item import (
    META_KEY,
    SUMMARIZED,
    Delta,
    day_of,
    deltas,
    index_definitions,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_log = logging.getLogger("generative_ai_toolkit.tracer")

CHECKPOINT_VERSION: Final = 1
_SAVE_EVERY_S: Final = 2.0


def add_summary_indexes(
    client: DynamoDBClient,
    table_name: str,
    *,
    timeout: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Create whichever summary GSIs ``table_name`` lacks and wait until all are ACTIVE;
    return the names created. Provisioned tables give each index the table's throughput."""
    attributes, indexes = index_definitions()
    created: list[str] = []
    for index in indexes:
        table = _wait_active(client, table_name, timeout=timeout, sleep=sleep)
        existing = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        if index["IndexName"] in existing:
            continue
        create = dict(index)
        throughput = table.get("ProvisionedThroughput", {})
        if table.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST" and (
            throughput.get("ReadCapacityUnits")
        ):
            create["ProvisionedThroughput"] = {
                "ReadCapacityUnits": throughput["ReadCapacityUnits"],
                "WriteCapacityUnits": throughput["WriteCapacityUnits"],
            }
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=attributes,  # type: ignore[arg-type]
            GlobalSecondaryIndexUpdates=[{"Create": create}],  # type: ignore[typeddict-item]
        )
        created.append(index["IndexName"])
    _wait_active(client, table_name, timeout=timeout, sleep=sleep)
    return created


def _wait_active(
    client: DynamoDBClient, table_name: str, *, timeout: float, sleep: Callable[[float], None]
) -> Mapping[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        table = client.describe_table(TableName=table_name)["Table"]
        statuses = [table.get("TableStatus")]
        statuses += [i.get("IndexStatus") for i in table.get("GlobalSecondaryIndexes", [])]
        if all(status == "ACTIVE" for status in statuses):
            return table
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table_name!r} not ACTIVE after {timeout:g} s: {statuses}")
        sleep(1.0)


@dataclass(slots=True)
class BackfillState:
    """What a checkpoint holds: where the scan stands and the totals found so far."""

    start_key: dict[str, Any] | None = None
    scanned: int = 0
    scan_done: bool = False
    partials: dict[str, Delta] | None = None

    def to_json(self) -> str:
        partials = {
            key: [d.conversation, d.auth, d.first_ns, d.last_ns, d.counts]
            for key, d in (self.partials or {}).items()
        }
        return json.dumps(
            {
                "version": CHECKPOINT_VERSION,
                "start_key": self.start_key,
                "scanned": self.scanned,
                "scan_done": self.scan_done,
                "partials": partials,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> BackfillState:
        data = json.loads(text)
        if data.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint version {data.get('version')!r} is not supported")
        partials = {
            key: Delta(conversation, auth, first, last, counts)
            for key, (conversation, auth, first, last, counts) in data["partials"].items()
        }
        return cls(data["start_key"], data["scanned"], data["scan_done"], partials)


class Backfill:
    """One backfill of ``table_name``'s summaries, resumable from ``checkpoint``.

    ``page_size`` items are read per ``Scan`` request, with ``pause`` seconds between requests
    (to spare the table's read capacity). ``on_page(items_scanned)`` reports progress.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        checkpoint: Path,
        page_size: int = 1000,
        pause: float = 0.0,
        max_concurrency: int = 8,
        meter: CapacityMeter | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._checkpoint = checkpoint
        self._page_size = page_size
        self._pause = pause
        self._max_concurrency = max_concurrency
        self._meter = meter or CapacityMeter()
        self.state = self._load()
        self.resumed = self.state.scanned > 0 or self.state.scan_done

    def _load(self) -> BackfillState:
        try:
            text = self._checkpoint.read_text(encoding="utf-8")
        except FileNotFoundError:
            return BackfillState(partials={})
        return BackfillState.from_json(text)

    def _save(self) -> None:
        temporary = self._checkpoint.with_name(self._checkpoint.name + ".tmp")
        temporary.write_text(self.state.to_json(), encoding="utf-8")
        os.replace(temporary, self._checkpoint)

    def scan(self, on_page: Callable[[int], None] = lambda _: None) -> None:
        """Read every span item not yet counted, saving the checkpoint every few seconds."""
        state = self.state
        partials = state.partials if state.partials is not None else {}
        state.partials = partials
        saved = time.monotonic()
        while not state.scan_done:
            params: dict[str, Any] = {
                "TableName": self._table,
                "Limit": self._page_size,
                "ReturnConsumedCapacity": "TOTAL",
                "FilterExpression": "begins_with(pk, :spans) AND "
                "attribute_exists(conversation_id) AND attribute_not_exists(#marker)",
                "ExpressionAttributeNames": {"#marker": SUMMARIZED},
                "ExpressionAttributeValues": {":spans": {"S": partition_key("")}},
            }
            if state.start_key:
                params["ExclusiveStartKey"] = state.start_key
            page = self._client.scan(**params)
            self._meter.record("Scan", page, self._table)
            for key, delta in deltas(map(item_to_span, page.get("Items", []))).items():
                _merge(partials, json.dumps(key), delta)
            state.scanned += int(page.get("ScannedCount", 0))
            state.start_key = page.get("LastEvaluatedKey")
            state.scan_done = not state.start_key
            on_page(int(page.get("ScannedCount", 0)))
            if state.scan_done or time.monotonic() - saved >= _SAVE_EVERY_S:
                self._save()
                saved = time.monotonic()
            if self._pause and not state.scan_done:
                time.sleep(self._pause)

    def write(self, on_summary: Callable[[], None] = lambda: None) -> int:
        """Write the totals into the summaries (``SET``, so repeating it changes nothing);
        return how many summaries were written. Removes the checkpoint when done."""
        partials = list((self.state.partials or {}).values())

        def write_one(delta: Delta) -> int:
            duration = apply_backfill(self._request, delta)
            on_summary()
            return duration

        with ThreadPoolExecutor(max_workers=self._max_concurrency) as pool:
            durations = list(pool.map(write_one, partials))
        if partials:
            self._request(
                Key=META_KEY,
                UpdateExpression="ADD #days :days",
                ExpressionAttributeNames={"#days": "days"},
                ExpressionAttributeValues={
                    ":days": {"SS": sorted({day_of(d.last_ns) for d in partials})}
                },
            )
            raise_max(self._request, max(durations))
        self._checkpoint.unlink(missing_ok=True)
        return len(partials)

    def _request(self, **params: Any) -> Mapping[str, Any]:
        response = self._client.update_item(
            TableName=self._table, ReturnConsumedCapacity="TOTAL", **params
        )
        self._meter.record("UpdateItem", response, self._table)
        return response


def _merge(partials: dict[str, Delta], key: str, delta: Delta) -> None:
    found = partials.get(key)
    if found is None:
        partials[key] = delta
        return
    found.first_ns = min(found.first_ns, delta.first_ns)
    found.last_ns = max(found.last_ns, delta.last_ns)
    for counter, value in delta.counts.items():
        found.counts[counter] = found.counts.get(counter, 0) + value
