"""``Delivery``: how the export engine's worker gets one batch into a ``SpanWriter``.

Retryable failures are retried with exponential backoff and jitter (or after the server's
``retry_after``) until written, or until shutdown's deadline. A batch that cannot be written
as it is gets halved, breadth first, until each span at fault is alone, so it never sinks its
neighbours. When the first ``REFUSAL_PROBES`` writes of that search all fail the same way and
none succeeds, the sink refuses the spans whatever they are (a read-only file, a malformed
endpoint): the rest of the batch is dropped in one line, and later batches failing the same
way are dropped at once, until a write succeeds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from ._trace import Trace
from ._writer import BatchRejectedError, RetryableError, SpanWriter

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: Retries of one batch are logged at WARNING after this many attempts, then every _WARN_EVERY.
_WARN_AFTER: Final = 3
_WARN_EVERY: Final = 20
#: Writes that fail the same way, with none succeeding, before a batch counts as refused: the
#: whole batch, both halves and all four quarters (one poison span always lets a half through).
REFUSAL_PROBES: Final = 7


class Ledger(Protocol):
    """Where ``Delivery`` counts the outcome of each span (``BackgroundExporter``)."""

    def count_written(self, count: int) -> None: ...

    def count_retry(self) -> None: ...

    def give_up(
        self, count: int, cause: str, reason: str, error: Exception | None = None
    ) -> None: ...


def cause_of(error: BaseException) -> str:
    """What makes two failures "the same": the error's type and message."""
    return f"{type(error).__module__}.{type(error).__qualname__}: {error}"


class Delivery:
    """Writes batches for one exporter's worker thread, counting every span in ``ledger``."""

    def __init__(
        self,
        writer: SpanWriter,
        ledger: Ledger,
        *,
        initial_retry_delay: float,
        max_retry_delay: float,
        stopping: threading.Event,
        deadline: Callable[[], float | None],
        on_retry: Callable[[], None],
    ) -> None:
        self._writer = writer
        self._ledger = ledger
        self._initial_retry_delay = initial_retry_delay
        self._max_retry_delay = max_retry_delay
        self._stopping = stopping
        self._deadline = deadline
        self._on_retry = on_retry
        self._refusal: str | None = None  # the cause of the last batch refused as a whole

    def export(self, batch: Sequence[Trace]) -> None:
        """Write ``batch``; every span ends up counted written or dropped."""
        error = self._write_with_retry(batch)
        if error is None:
            return
        if cause_of(error) == self._refusal:
            # The previous batch was refused as a whole with this very error: no probing again.
            self._ledger.give_up(len(batch), "refused", f"refused by the sink: {error}", error)
            return
        self._isolate(batch, error)

    def _isolate(self, batch: Sequence[Trace], error: Exception) -> None:
        cause = cause_of(error)
        parts: deque[tuple[Sequence[Trace], Exception]] = deque([(batch, error)])
        same_failures = 1
        succeeded = False
        while parts:
            part, part_error = parts.popleft()
            if len(part) == 1:
                name = part[0].span_name
                self._ledger.give_up(1, "failed", f"failed for good: span {name!r}", part_error)
                continue
            middle = len(part) // 2
            for half in (part[:middle], part[middle:]):
                half_error = self._write_with_retry(half)
                if half_error is None:
                    succeeded = True
                    continue
                if cause_of(half_error) == cause:
                    same_failures += 1
                parts.append((half, half_error))
            if not succeeded and same_failures >= REFUSAL_PROBES:
                self._refusal = cause
                rest = sum(len(p) for p, _ in parts)
                self._ledger.give_up(rest, "refused", f"refused by the sink: {error}", error)
                return

    def _write_with_retry(self, batch: Sequence[Trace]) -> Exception | None:
        """``None`` once every span of ``batch`` is counted (written or dropped); the error
        when the batch cannot be written as it is."""
        attempt = 0
        while True:
            try:
                self._writer.write(batch)
            except RetryableError as exc:
                remaining = exc.remaining if exc.remaining is not None else batch
                self._written(len(batch) - len(remaining))
                batch = remaining
                if not batch:
                    return None
                delay = self.retry_delay(attempt, exc.retry_after)
                deadline = self._deadline()
                if deadline is not None and time.monotonic() + delay > deadline:
                    reason = f"not written before shutdown: {exc}"
                    self._ledger.give_up(len(batch), "shutdown", reason)
                    return None
                self._ledger.count_retry()
                # A blip is routine (INFO); a sink that keeps failing must be visible long before
                # the queue overflows, so say so at WARNING now and then.
                level = logging.WARNING if attempt % _WARN_EVERY == _WARN_AFTER else logging.INFO
                _log.log(
                    level,
                    "%s: retrying %d span(s) in %.2fs (attempt %d): %s",
                    self._ledger,
                    len(batch),
                    delay,
                    attempt + 1,
                    exc,
                )
                self._on_retry()
                if self._stopping.is_set():
                    time.sleep(delay)  # shutting down: the deadline above bounds the waiting
                else:
                    self._stopping.wait(delay)
                attempt += 1
            except BatchRejectedError as exc:
                # Not about these spans (a wrong URL, bad credentials): halving would only
                # repeat the same refusal for every span, so the batch goes in one log line.
                self._ledger.give_up(len(batch), "rejected", f"rejected by the sink: {exc}")
                return None
            except Exception as exc:  # noqa: BLE001 - a writer bug or a poison span: isolate it
                return exc
            else:
                self._written(len(batch))
                return None

    def _written(self, count: int) -> None:
        if count:
            self._refusal = None
            self._ledger.count_written(count)

    def retry_delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait before retry number ``attempt + 1``."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self._max_retry_delay * 4)
        base = min(self._max_retry_delay, self._initial_retry_delay * (1 << min(attempt, 30)))
        return base * random.uniform(0.5, 1.0)
