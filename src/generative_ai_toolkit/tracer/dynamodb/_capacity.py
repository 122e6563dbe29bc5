"""``CapacityMeter``: the read and write capacity units DynamoDB says each request consumed.

Reads ask for it themselves (``ReturnConsumedCapacity="TOTAL"``) and hand the response to
``record``; the writer's ``BatchWriteItem`` requests are measured by ``attach``, which hooks the
client's events, so the writer itself stays unaware of it. Every recorded request is logged at
DEBUG (logger ``generative_ai_toolkit.tracer``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from typing import Any, Final

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: Operations whose consumed capacity is read capacity; every other one is write capacity.
READ_OPERATIONS: Final = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})
#: Operations ``attach`` asks the consumed capacity of.
_MEASURED_WRITES: Final = ("BatchWriteItem",)


class CapacityMeter:
    """Thread-safe totals of consumed read and write capacity units."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read = 0.0
        self._write = 0.0

    @property
    def read(self) -> float:
        """Read capacity units consumed so far (0.5 for a small eventually consistent read)."""
        return self._read

    @property
    def write(self) -> float:
        """Write capacity units consumed so far (GSI writes included)."""
        return self._write

    def stats(self) -> dict[str, int]:
        """``read_capacity`` and ``write_capacity``, each rounded up to a whole unit."""
        return {"read_capacity": math.ceil(self._read), "write_capacity": math.ceil(self._write)}

    def record(self, operation: str, response: Mapping[str, Any], table: str = "") -> float:
        """Add the ``ConsumedCapacity`` of one response; return its units (0 when absent)."""
        consumed = response.get("ConsumedCapacity")
        if not consumed:
            return 0.0
        entries = consumed if isinstance(consumed, list) else [consumed]
        units = float(sum(entry.get("CapacityUnits", 0.0) for entry in entries))
        with self._lock:
            if operation in READ_OPERATIONS:
                self._read += units
            else:
                self._write += units
        if _log.isEnabledFor(logging.DEBUG):
            count = response.get("ScannedCount", response.get("Count"))
            _log.debug(
                "DynamoDB %s %s: %.1f capacity unit(s)%s",
                operation,
                table or ",".join(str(entry.get("TableName", "")) for entry in entries),
                units,
                f", {count} item(s) read" if count is not None else "",
            )
        return units

    def attach(self, client: Any) -> None:
        """Measure the ``BatchWriteItem`` requests ``client`` makes from now on (a no-op for
        objects without botocore's event system, such as test fakes)."""
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is None:
            return
        for operation in _MEASURED_WRITES:
            events.register(
                f"provide-client-params.dynamodb.{operation}",
                _ask_for_capacity,
                unique_id=f"gat-capacity-params-{operation}",
            )
            events.register(
                f"after-call.dynamodb.{operation}",
                self._after_call,
                unique_id=f"gat-capacity-{id(self)}-{operation}",
            )

    def _after_call(self, *, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        self.record(str(getattr(model, "name", "")), parsed)


def _ask_for_capacity(*, params: dict[str, Any], **_: Any) -> None:
    params.setdefault("ReturnConsumedCapacity", "TOTAL")
