"""Streams: the ``llm-invocation`` span stays open while the caller iterates.

``TracedEventStream`` stands in for botocore's ``EventStream`` in the response: it yields the
very same events, keeping a reference to each (the only per-event work, with one check for the
first token), and ends the span when the stream is consumed, raises, is closed, or is garbage
collected unfinished (``weakref.finalize``). The output, usage and metrics are assembled from the
kept events once, at the end.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from time import perf_counter_ns
from typing import Any

from .._trace import Trace
from ._bodies import Reply, as_text, converse_stream_reply, invoke_stream_reply
from ._record import record_reply

_log = logging.getLogger("generative_ai_toolkit.tracer")


class StreamRecorder:
    """The bookkeeping of one traced stream, and ending its span (once)."""

    __slots__ = ("capture_content", "converse", "done", "events", "first_ns", "span", "start_ns")

    def __init__(self, span: Trace, start_ns: int, *, converse: bool, capture_content: bool):
        self.span = span
        self.start_ns = start_ns
        self.converse = converse
        self.capture_content = capture_content
        self.events: list[dict[str, Any]] = []
        self.first_ns = 0
        self.done = False

    def finish(self, *, complete: bool, error: BaseException | None = None) -> None:
        """Record what was streamed and end the span; later calls do nothing. Never raises."""
        if self.done:
            return
        self.done = True
        span = self.span
        try:
            reply = self._reply()
            if reply is not None:
                record_reply(span, reply, capture_content=self.capture_content)
            if self.first_ns:
                ttft = round((self.first_ns - self.start_ns) / 1e6, 3)
                span.add_attribute("ai.llm.response.time_to_first_token_ms", ttft)
            span.add_attribute("ai.llm.response.stream.complete", complete)
        except Exception:  # noqa: BLE001 - telemetry never breaks the traced program
            _log.exception("recording the stream of span %r failed", span.span_name)
        span.end(error)

    def _reply(self) -> Reply | None:
        if self.converse:
            return converse_stream_reply(self.events)
        chunks = [event["chunk"].get("bytes", b"") for event in self.events if "chunk" in event]
        reply = invoke_stream_reply(chunks)
        if reply is None and chunks:
            reply = Reply(output="".join(as_text(chunk) for chunk in chunks))
        return reply


def _abandoned(recorder: StreamRecorder, inner: Any) -> None:
    """The stream was garbage-collected unfinished: end the span, release the connection."""
    recorder.finish(complete=False)
    try:
        inner.close()
    except Exception:  # noqa: BLE001 - closing a dead stream's socket is best effort
        _log.debug("closing an abandoned Bedrock stream failed", exc_info=True)


class TracedEventStream:
    """botocore's ``EventStream`` with an ``llm-invocation`` span that ends with the stream.

    Iterating yields botocore's events unchanged; errors raised by the stream (a
    ``modelStreamErrorException``, a dropped connection) end the span as ERROR and propagate
    unchanged. ``close()`` ends the span; so does garbage collection of an unfinished stream.
    Other attributes are those of the wrapped stream.
    """

    __slots__ = ("__weakref__", "_finalizer", "_inner", "_recorder")

    def __init__(self, inner: Any, recorder: StreamRecorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self._finalizer = weakref.finalize(self, _abandoned, recorder, inner)
        self._finalizer.atexit = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        recorder = self._recorder
        append = recorder.events.append
        marker = "contentBlockDelta" if recorder.converse else "chunk"
        waiting = recorder.first_ns == 0
        try:
            for event in self._inner:
                if waiting and marker in event:
                    recorder.first_ns = perf_counter_ns()
                    waiting = False
                append(event)
                yield event
        except GeneratorExit:
            raise  # the loop stopped early: the stream may be resumed, or closed, or dropped
        except BaseException as exc:
            self._end(complete=False, error=exc)
            raise
        self._end(complete=True)

    def close(self) -> None:
        """Close the underlying stream and end the span."""
        try:
            self._inner.close()
        finally:
            self._end(complete=False)

    def _end(self, *, complete: bool, error: BaseException | None = None) -> None:
        self._finalizer.detach()
        self._recorder.finish(complete=complete, error=error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"TracedEventStream({self._inner!r})"
