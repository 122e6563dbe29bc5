"""Typed helpers for hand-instrumented agents: the standard keys without memorising them.

- ``@traced_tool`` — a ``tool-invocation`` span per call, with ``ai.tool.name``, ``ai.tool.input``
  (the call's arguments by name), ``ai.tool.output`` or ``ai.tool.error``;
- ``agent_turn(tracer, user_input, ...)`` — the ``converse`` span of one turn, with
  ``ai.user.input``, ``ai.agent.response`` and the inheritable conversation id and auth context;
- ``record_llm_call(span, request, response)`` — an ``llm-invocation`` span's attributes from a
  Converse-shaped request and response, the very keys ``instrument_bedrock`` writes.

None of them needs boto3.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, ParamSpec, TypeVar, overload

from .._base import Tracer
from .._trace import Trace
from ._record import converse_reply, record_reply, record_request

_log = logging.getLogger("generative_ai_toolkit.tracer")

P = ParamSpec("P")
R = TypeVar("R")

TOOL_INVOCATION: Final = "tool-invocation"


@overload
def traced_tool(name: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced_tool(
    name: str | None = None, /, *, tracer: Tracer | None = None, capture_content: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced_tool(
    name: str | Callable[..., Any] | None = None,
    /,
    *,
    tracer: Tracer | None = None,
    capture_content: bool = True,
) -> Any:
    """Trace every call of a tool function in a ``tool-invocation`` span.

    ``ai.tool.name`` is ``name`` or the function's name; ``ai.tool.input`` the arguments by
    parameter name (``self`` left out); ``ai.tool.output`` the return value. An exception sets
    ``ai.tool.error`` (``Type: message``) and the span's ERROR status, and propagates unchanged.
    ``capture_content=False`` records neither input nor output. The tracer is ``tracer``, else
    the first argument's ``tracer`` attribute (methods); with neither, the tool runs untraced.
    Works on plain and ``async def`` functions.
    """
    if callable(name):
        return _decorate(name, None, None, capture_content=True)

    def decorator(fn: Callable[P, R]) -> Callable[P, R]:
        return _decorate(fn, name, tracer, capture_content=capture_content)

    return decorator


def _decorate(
    fn: Callable[P, R], name: str | None, tracer: Tracer | None, *, capture_content: bool
) -> Callable[P, R]:
    tool_name = name or fn.__name__
    signature = inspect.signature(fn)
    is_method = next(iter(signature.parameters), None) in {"self", "cls"}

    def open_span(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Trace | None:
        target = tracer
        if target is None and args:
            target = getattr(args[0], "tracer", None)
        if target is None:
            return None
        try:
            span = target.trace(TOOL_INVOCATION)
            span.add_attribute("ai.trace.type", TOOL_INVOCATION)
            span.add_attribute("ai.tool.name", tool_name)
            if capture_content:
                span.add_attribute("ai.tool.input", _arguments(signature, args, kwargs, is_method))
        except Exception:  # noqa: BLE001 - a broken tracer must not stop the tool
            _log.exception("tracing tool %r failed; running it untraced", tool_name)
            return None
        return span

    def close_span(span: Trace, result: Any, error: BaseException | None) -> None:
        if error is not None:
            span.add_attribute("ai.tool.error", f"{type(error).__name__}: {error}")
        elif capture_content:
            span.add_attribute("ai.tool.output", result)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args, kwargs)
            if span is None:
                return await fn(*args, **kwargs)
            with span:
                try:
                    result = await fn(*args, **kwargs)
                except Exception as exc:
                    close_span(span, None, exc)
                    raise
                close_span(span, result, None)
                return result

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        span = open_span(args, kwargs)
        if span is None:
            return fn(*args, **kwargs)
        with span:
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                close_span(span, None, exc)
                raise
            close_span(span, result, None)
            return result

    return wrapper


def _arguments(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any], is_method: bool
) -> dict[str, Any]:
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}  # the call itself will raise
    arguments = dict(bound.arguments)
    if is_method and arguments:
        arguments.pop(next(iter(arguments)))
    return arguments


class Turn:
    """The ``converse`` span of one agent turn (``span``), and where its answer goes."""

    __slots__ = ("span",)

    def __init__(self, span: Trace) -> None:
        self.span = span

    def set_response(self, answer: Any) -> None:
        """Record the agent's answer to the user (``ai.agent.response``)."""
        self.span.add_attribute("ai.agent.response", answer)


@contextmanager
def agent_turn(
    tracer: Tracer,
    user_input: Any,
    *,
    conversation_id: str | None = None,
    auth_context: str | None = None,
    agent_name: str | None = None,
) -> Iterator[Turn]:
    """A ``converse`` SERVER span around one turn of a conversation.

    Records ``ai.trace.type=converse``, ``ai.user.input``, ``ai.agent.name``, and
    ``ai.conversation.id`` / ``ai.auth.context`` as inheritable, so every span of the turn
    (LLM calls, tools, sub-agents) carries them. The status is OK when the block ends normally;
    an exception marks it ERROR and propagates.
    """
    with tracer.trace("converse", span_kind="SERVER") as span:
        span.add_attribute("ai.trace.type", "converse")
        if conversation_id is not None:
            span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
        if auth_context is not None:
            span.add_attribute("ai.auth.context", auth_context, inheritable=True)
        if agent_name is not None:
            span.add_attribute("ai.agent.name", agent_name)
        span.add_attribute("ai.user.input", user_input)
        yield Turn(span)
        span.set_status("OK")


def record_llm_call(
    span: Trace,
    request: Mapping[str, Any],
    response: Mapping[str, Any] | None = None,
    *,
    operation: str = "Converse",
    capture_content: bool = True,
) -> None:
    """Give ``span`` the attributes of an LLM call, from a Converse-shaped ``request`` (the
    keyword arguments of ``client.converse``: ``modelId``, ``messages``, ``system``,
    ``inferenceConfig``, ``toolConfig``) and ``response`` (``output``, ``stopReason``, ``usage``,
    ``metrics``), as ``instrument_bedrock`` records them. Never raises: failures are logged.
    """
    try:
        record_request(
            span, operation, request.get("modelId"), request, capture_content=capture_content
        )
        if response is not None:
            record_reply(span, converse_reply(response), capture_content=capture_content)
    except Exception:  # noqa: BLE001 - telemetry never breaks the traced program
        _log.exception("recording an LLM call on span %r failed", span.span_name)
