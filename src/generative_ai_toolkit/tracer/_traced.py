"""``@traced``: a span around every call of a function, method, generator or coroutine."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, cast, overload

from ._base import Tracer
from ._span import SPAN_KINDS
from ._trace import CURRENT_SPAN, Trace

_log = logging.getLogger("generative_ai_toolkit.tracer")

F = TypeVar("F", bound=Callable[..., Any])


@overload
def traced(span_name: F, /) -> F: ...


@overload
def traced(
    span_name: str | None = None, /, *, tracer: Tracer | None = None, span_kind: str = "INTERNAL"
) -> Callable[[F], F]: ...


def traced(
    span_name: str | Callable[..., Any] | None = None,
    /,
    *,
    tracer: Tracer | None = None,
    span_kind: str = "INTERNAL",
) -> Any:
    """Trace every call of the decorated function in a span.

    ``@traced("name", tracer=t)`` names the span and picks the tracer. Bare ``@traced`` (or
    ``@traced("name")``) on a method uses ``self.tracer`` at call time, and the function's name.
    Works on plain functions, generators (the span covers the whole iteration but is current only
    while the generator body runs, never in the consumer between items), ``async def``
    functions and async generators, above or below ``@classmethod``, ``@staticmethod`` and
    ``@property`` (the getter is traced). When no tracer can be found the function runs
    untraced and a warning is logged once; tracing never changes what the function returns or
    raises.
    """
    if callable(span_name) or isinstance(span_name, classmethod | staticmethod | property):
        return _decorate(span_name, None, None, "INTERNAL")
    if span_kind not in SPAN_KINDS:
        raise ValueError(f"span_kind must be one of {sorted(SPAN_KINDS)}, not {span_kind!r}")

    def decorator(fn: F) -> F:
        return _decorate(fn, span_name, tracer, span_kind)

    return decorator


def _decorate(fn: F, name: str | None, tracer: Tracer | None, kind: str) -> F:
    # Above @classmethod/@staticmethod/@property: trace the function inside, keep the descriptor.
    wrapped: Any = fn
    if isinstance(wrapped, classmethod | staticmethod):
        return cast(F, type(wrapped)(_decorate(wrapped.__func__, name, tracer, kind)))
    if isinstance(wrapped, property):
        if wrapped.fget is None:
            raise TypeError("@traced on a property without a getter: put @traced under @property")
        return cast(F, wrapped.getter(_decorate(wrapped.fget, name, tracer, kind)))
    span_name = name or fn.__name__
    warned: list[bool] = []

    def open_span(args: tuple[Any, ...]) -> Trace | None:
        target = tracer
        if target is None:
            try:
                target = args[0].tracer if args else None
            except Exception:  # noqa: BLE001 - a failing `tracer` property means: untraced
                target = None
        if target is None:
            if not warned:
                warned.append(True)
                _log.warning(
                    "@traced %s has no tracer: pass tracer=... or give its first argument a "
                    "`tracer` attribute; running it untraced",
                    fn.__qualname__,
                )
            return None
        try:
            return target.trace(span_name, span_kind=kind)
        except Exception:  # noqa: BLE001 - a broken tracer must not stop the traced function
            _log.exception(
                "opening span %r failed; running %s untraced", span_name, fn.__qualname__
            )
            return None

    if inspect.isasyncgenfunction(fn):
        return cast(F, _wrap_async_generator(fn, open_span))
    if inspect.isgeneratorfunction(fn):
        return cast(F, _wrap_generator(fn, open_span))
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args)
            if span is None:
                return await fn(*args, **kwargs)
            with span:
                return await fn(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = open_span(args)
        if span is None:
            return fn(*args, **kwargs)
        with span:
            return fn(*args, **kwargs)

    return cast(F, wrapper)


def _activate(span: Trace | None) -> Any:
    """Make ``span`` current (unless there is none, or it is inert, as ``with`` would leave it);
    returns what ``_deactivate`` needs."""
    if span is None or span._inert:
        return None
    outer = CURRENT_SPAN.get()
    span._outer = outer
    return outer, CURRENT_SPAN.set(span)


def _deactivate(state: Any) -> None:
    if state is None:
        return
    outer, token = state
    try:
        CURRENT_SPAN.reset(token)
    except ValueError:  # resumed in another context than the one it was activated in
        CURRENT_SPAN.set(outer)


def _wrap_generator(
    fn: Callable[..., Generator[Any, Any, Any]],
    open_span: Callable[[tuple[Any, ...]], Trace | None],
) -> Callable[..., Generator[Any, Any, Any]]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        span = open_span(args)
        inner = fn(*args, **kwargs)
        error: BaseException | None = None
        method: Callable[[Any], Any] = inner.send
        arg: Any = None
        try:
            while True:
                state = _activate(span)
                try:
                    item = method(arg)
                except StopIteration as stop:
                    return stop.value
                finally:
                    _deactivate(state)
                try:
                    arg = yield item
                    method = inner.send
                except GeneratorExit:
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass on
                    method, arg = inner.throw, exc
        except BaseException as exc:
            error = exc
            raise
        finally:
            state = _activate(span)
            try:
                inner.close()
            finally:
                _deactivate(state)
                if span is not None:
                    span.end(error)

    return wrapper


def _wrap_async_generator(
    fn: Callable[..., AsyncGenerator[Any, Any]],
    open_span: Callable[[tuple[Any, ...]], Trace | None],
) -> Callable[..., AsyncGenerator[Any, Any]]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        span = open_span(args)
        inner = fn(*args, **kwargs)
        error: BaseException | None = None
        method: Callable[[Any], Any] = inner.asend
        arg: Any = None
        try:
            while True:
                state = _activate(span)
                try:
                    item = await method(arg)
                except StopAsyncIteration:
                    return
                finally:
                    _deactivate(state)
                try:
                    arg = yield item
                    method = inner.asend
                except GeneratorExit:
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass on
                    method, arg = inner.athrow, exc
        except BaseException as exc:
            error = exc
            raise
        finally:
            state = _activate(span)
            try:
                await inner.aclose()
            finally:
                _deactivate(state)
                if span is not None:
                    span.end(error)

    return wrapper
