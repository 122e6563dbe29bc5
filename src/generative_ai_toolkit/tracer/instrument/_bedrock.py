"""Automatic spans for Amazon Bedrock, through botocore's event system.

Four handlers, for ``bedrock-runtime`` clients only:

- ``before-parameter-build``: keeps a reference to the caller's parameters in the call's
  ``context`` dict (botocore hands the same dict to every event of one call);
- ``before-call``: opens the ``llm-invocation`` CLIENT span under the caller's current span and
  records the request (a call that fails botocore's parameter validation never gets here, and
  never reaches Bedrock either);
- ``after-call``: records the answer and ends the span, or, for the stream operations, puts a
  ``TracedEventStream`` in the response that ends it later; HTTP errors (after botocore's
  retries) end it as ERROR with the exception's type and message, and botocore then raises them
  unchanged;
- ``after-call-error``: a call that failed without an answer (connection refused, timeout) ends
  the span with that exception.

They reach clients three ways: ``botocore.handlers.BUILTIN_HANDLERS`` (the list every new
botocore session registers from: boto3 sessions and clients made later), the default boto3
session when it exists (clients are made with a copy of their session's handlers), and the
``clients`` given. Handlers stay registered after ``uninstrument_bedrock()`` in clients that
copied them, but do nothing while no tracer is set.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Final

import boto3
import botocore.handlers
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from .._base import Tracer
from ._bodies import Reply, as_text, decode_json, invoke_request, invoke_response
from ._record import converse_reply, record_reply, record_request
from ._stream import StreamRecorder, TracedEventStream

_log = logging.getLogger("generative_ai_toolkit.tracer")

_SERVICE: Final = "bedrock-runtime"
_OPERATIONS: Final = frozenset(
    {"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"}
)
_PARAMS: Final = "generative_ai_toolkit.params"
_CALL: Final = "generative_ai_toolkit.call"


@dataclass(frozen=True, slots=True)
class _Settings:
    tracer: Tracer
    capture_content: bool


_settings: _Settings | None = None


def _before_parameter_build(params: Any, model: Any, context: Any, **_: Any) -> None:
    if _settings is not None and model.name in _OPERATIONS and context is not None:
        context[_PARAMS] = params


def _before_call(model: Any, context: Any, **_: Any) -> None:
    settings = _settings
    if settings is None or context is None:
        return
    params = context.pop(_PARAMS, None)
    if params is None:
        return
    try:
        operation = model.name
        span = settings.tracer.trace("llm-invocation", span_kind="CLIENT")
        capture = settings.capture_content
        if operation.startswith("Converse"):
            request = params
        else:
            request = _invoke_request(span, params.get("body"), capture)
        record_request(span, operation, params.get("modelId"), request, capture_content=capture)
        context[_CALL] = (span, capture, perf_counter_ns())
    except Exception:  # noqa: BLE001 - telemetry never breaks the traced program
        _log.exception("tracing a Bedrock %s call failed", getattr(model, "name", "?"))


def _invoke_request(span: Any, body: Any, capture: bool) -> dict[str, Any]:
    if not isinstance(body, (bytes, bytearray, str)):
        return {}  # a file-like body: reading it would take it from botocore
    parsed = decode_json(body)
    found = invoke_request(parsed)
    if not found and capture:
        span.add_attribute("ai.llm.request.body", as_text(body))
    return found


def _after_call(http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
    call = context.pop(_CALL, None) if context is not None else None
    if call is None:
        return
    span, capture, start_ns = call
    try:
        if http_response.status_code >= 300:
            _record_error(span, parsed, model.name)
        elif model.name == "Converse":
            record_reply(span, converse_reply(parsed), capture_content=capture)
        elif model.name == "InvokeModel":
            error = _record_invoke_body(span, parsed, capture)
            if error is not None:
                span.end(error)
                return
        else:
            converse = model.name == "ConverseStream"
            key = "stream" if converse else "body"
            recorder = StreamRecorder(span, start_ns, converse=converse, capture_content=capture)
            parsed[key] = TracedEventStream(parsed[key], recorder)
            return  # the stream ends the span
    except Exception:  # noqa: BLE001 - telemetry never breaks the traced program
        _log.exception("recording a Bedrock %s answer failed", model.name)
    span.end()


def _record_error(span: Any, parsed: Any, operation: str) -> None:
    error = parsed.get("Error", {})
    span.set_status("ERROR")
    span.add_attribute("exception.type", error.get("Code") or "ClientError")
    span.add_attribute("exception.message", str(ClientError(parsed, operation)))
    status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status is not None:
        span.add_attribute("http.response.status_code", status)


def _record_invoke_body(span: Any, parsed: Any, capture: bool) -> BaseException | None:
    """Read the answer's body (handing the caller an unread copy) and record it; returns the
    error reading it raised, which the caller's own read then raises."""
    body = parsed.get("body")
    if body is None:
        return None
    try:
        data = body.read()
    except Exception as exc:  # noqa: BLE001 - the caller meets it on their read, unchanged
        parsed["body"] = _FailedBody(body, exc)
        return exc
    parsed["body"] = StreamingBody(io.BytesIO(data), len(data))
    reply = invoke_response(decode_json(data))
    if reply is None:
        reply = Reply(output=as_text(data))
    record_reply(span, reply, capture_content=capture)
    return None


class _FailedBody:
    """A response body whose reading failed while it was recorded: reading raises that error."""

    def __init__(self, body: Any, error: BaseException) -> None:
        self._body = body
        self._error = error

    def read(self, *_: Any, **__: Any) -> bytes:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._body, name)


def _after_call_error(exception: BaseException, context: Any, **_: Any) -> None:
    call = context.pop(_CALL, None) if context is not None else None
    if call is not None:
        call[0].end(exception)


_HANDLERS: Final = (
    (f"before-parameter-build.{_SERVICE}", _before_parameter_build),
    (f"before-call.{_SERVICE}", _before_call),
    (f"after-call.{_SERVICE}", _after_call),
    (f"after-call-error.{_SERVICE}", _after_call_error),
)


def _register(events: Any) -> None:
    for event, handler in _HANDLERS:
        events.register(event, handler, unique_id=f"generative-ai-toolkit-{event}")


def instrument(tracer: Tracer, *, capture_content: bool, clients: Iterable[Any]) -> None:
    """Trace every Bedrock call into ``tracer`` (see ``instrument_bedrock``)."""
    global _settings
    _settings = _Settings(tracer, capture_content)
    for spec in _HANDLERS:
        if spec not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.append(spec)
    default = boto3.DEFAULT_SESSION
    if default is not None:
        _register(default.events)
    for client in clients:
        _register(client.meta.events)


def uninstrument() -> None:
    """Stop tracing Bedrock calls (see ``uninstrument_bedrock``)."""
    global _settings
    _settings = None
    for spec in _HANDLERS:
        while spec in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.remove(spec)
    default = boto3.DEFAULT_SESSION
    if default is not None:
        for event, handler in _HANDLERS:
            default.events.unregister(event, handler, unique_id=f"generative-ai-toolkit-{event}")
