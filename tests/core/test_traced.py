"""@traced on functions, methods, generators and coroutines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator

import pytest

from generative_ai_toolkit.tracer import InMemoryTracer, NoCurrentTraceError, traced


@pytest.fixture
def tracer() -> InMemoryTracer:
    """Where the spans go."""
    return InMemoryTracer()


def names_and_parents(tracer: InMemoryTracer) -> list[tuple[str, str | None]]:
    """(name, parent name) of every span, by start time."""
    spans = tracer.get_traces()
    by_id = {s.span_id: s.span_name for s in spans}
    return [(s.span_name, by_id.get(s.parent_span_id or "")) for s in spans]


def test_traced_returns_the_result_and_names_the_span(tracer: InMemoryTracer) -> None:
    """The function's result is returned; the span gets the given name and kind."""

    @traced("lookup", tracer=tracer, span_kind="CLIENT")
    def lookup(x: int) -> int:
        return x * 2

    assert 42 == lookup(21)
    (span,) = tracer.get_traces()
    assert ("lookup", "CLIENT") == (span.span_name, span.span_kind)
    assert "lookup" == lookup.__name__


def test_traced_lets_the_users_exception_through_and_marks_the_span(
    tracer: InMemoryTracer,
) -> None:
    """The same exception object propagates; the span is ERROR."""
    error = ValueError("bad input")

    @traced("fails", tracer=tracer)
    def fails() -> None:
        raise error

    with pytest.raises(ValueError, match="bad input") as raised:
        fails()
    assert raised.value is error
    assert "ERROR" == tracer.get_traces()[0].span_status


def test_bare_traced_on_a_method_uses_self_tracer(tracer: InMemoryTracer) -> None:
    """Bare @traced reads `self.tracer` at call time and names the span after the method."""

    class Agent:
        def __init__(self) -> None:
            self.tracer = tracer

        @traced
        def converse(self) -> str:
            return self.reply()

        @traced("custom-name")
        def reply(self) -> str:
            return "hi"

    assert "hi" == Agent().converse()
    assert [("converse", None), ("custom-name", "converse")] == names_and_parents(tracer)


def test_without_a_tracer_the_function_runs_untraced_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No tracer anywhere: the function still works; a warning says why it is untraced."""

    @traced
    def plain(x: int) -> int:
        return x + 1

    with caplog.at_level(logging.WARNING, logger="generative_ai_toolkit.tracer"):
        assert 2 == plain(1)
        assert 3 == plain(2)
    assert 1 == caplog.text.count("has no tracer")


def test_a_generator_span_covers_the_iteration_but_is_current_only_inside_it(
    tracer: InMemoryTracer,
) -> None:
    """Spans opened by the consumer between items are not children of the generator's span."""

    @traced("produce", tracer=tracer)
    def produce() -> Iterator[int]:
        for i in range(2):
            with tracer.trace(f"inside-{i}"):
                pass
            yield i

    with tracer.trace("consumer"):
        for item in produce():
            with tracer.trace(f"between-{item}"):
                pass
    assert [
        ("consumer", None),
        ("produce", "consumer"),
        ("inside-0", "produce"),
        ("between-0", "consumer"),
        ("inside-1", "produce"),
        ("between-1", "consumer"),
    ] == names_and_parents(tracer)
    produce_span = tracer.get_traces()[1]
    last_between = tracer.get_traces()[-1]
    assert produce_span.ended_at is not None
    assert last_between.ended_at is not None
    assert produce_span.ended_at >= last_between.ended_at


def test_a_generator_supports_send_throw_and_return_values(tracer: InMemoryTracer) -> None:
    """send() reaches the generator, throw() is raised inside it, the return value survives."""

    @traced("echo", tracer=tracer)
    def echo() -> Generator[str, str, None]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except KeyError:
            yield "handled"
        return

    gen = echo()
    assert "ready" == next(gen)
    assert "got x" == gen.send("x")
    assert "handled" == gen.throw(KeyError("k"))
    with pytest.raises(StopIteration):
        next(gen)
    assert "UNSET" == tracer.get_traces()[0].span_status


def test_closing_a_generator_early_ends_its_span_without_error(tracer: InMemoryTracer) -> None:
    """A consumer that stops early is not a failure of the generator."""

    @traced("endless", tracer=tracer)
    def endless() -> Generator[int, None, None]:
        n = 0
        while True:
            yield n
            n += 1

    gen = endless()
    next(gen)
    gen.close()
    (span,) = tracer.get_traces()
    assert "UNSET" == span.span_status


def test_a_failing_generator_marks_its_span(tracer: InMemoryTracer) -> None:
    """An exception inside the generator propagates to the consumer and marks the span."""

    @traced("broken", tracer=tracer)
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"):
        list(broken())
    assert "ERROR" == tracer.get_traces()[0].span_status


def test_async_functions_nest(tracer: InMemoryTracer) -> None:
    """async def functions get spans that nest like sync ones."""

    @traced("outer", tracer=tracer)
    async def outer() -> int:
        return await inner()

    @traced("inner", tracer=tracer)
    async def inner() -> int:
        await asyncio.sleep(0)
        return 7

    assert 7 == asyncio.run(outer())
    assert [("outer", None), ("inner", "outer")] == names_and_parents(tracer)


def test_async_generators_are_current_only_inside_their_body(tracer: InMemoryTracer) -> None:
    """An async generator's span covers the iteration without leaking into the consumer."""

    @traced("stream", tracer=tracer)
    async def stream() -> AsyncIterator[int]:
        for i in range(2):
            with tracer.trace(f"chunk-{i}"):
                await asyncio.sleep(0)
            yield i

    async def consume() -> list[int]:
        items = []
        with tracer.trace("consumer"):
            async for item in stream():
                items.append(item)
                with tracer.trace(f"use-{item}"):
                    pass
        return items

    assert [0, 1] == asyncio.run(consume())
    assert [
        ("consumer", None),
        ("stream", "consumer"),
        ("chunk-0", "stream"),
        ("use-0", "consumer"),
        ("chunk-1", "stream"),
        ("use-1", "consumer"),
    ] == names_and_parents(tracer)


def test_async_generator_closed_early_ends_its_span(tracer: InMemoryTracer) -> None:
    """aclose() on an unfinished async generator ends its span without error."""

    @traced("stream", tracer=tracer)
    async def stream() -> AsyncGenerator[int, None]:
        while True:
            yield 1

    async def take_one() -> None:
        gen = stream()
        await gen.__anext__()
        await gen.aclose()

    asyncio.run(take_one())
    (span,) = tracer.get_traces()
    assert "UNSET" == span.span_status


def test_current_trace_inside_traced_function_is_its_span(tracer: InMemoryTracer) -> None:
    """current_trace inside a @traced function is that function's span; outside it raises."""

    @traced("work", tracer=tracer)
    def work() -> str:
        return tracer.current_trace.span_name

    assert "work" == work()
    with pytest.raises(NoCurrentTraceError):
        _ = tracer.current_trace


def test_invalid_span_kind_fails_at_decoration() -> None:
    """A misconfigured decorator is a ValueError when the module loads, not at call time."""
    with pytest.raises(ValueError, match="span_kind"):
        traced("x", tracer=InMemoryTracer(), span_kind="nope")


def test_untraced_generators_still_pass_values_sent_in(caplog: pytest.LogCaptureFixture) -> None:
    """With no tracer, a decorated (async) generator behaves exactly like the undecorated one."""

    @traced
    def echo() -> Generator[str, str, None]:
        received = yield "ready"
        yield f"got {received}"

    @traced
    async def aecho() -> AsyncGenerator[str, str]:
        received = yield "ready"
        yield f"got {received}"

    gen = echo()
    assert ["ready", "got x"] == [next(gen), gen.send("x")]

    async def drive() -> list[str]:
        agen = aecho()
        return [await agen.__anext__(), await agen.asend("y")]

    assert ["ready", "got y"] == asyncio.run(drive())
    assert 2 == caplog.text.count("has no tracer")


def test_traced_above_classmethod_staticmethod_and_property(tracer: InMemoryTracer) -> None:
    """@traced above @classmethod/@staticmethod/@property keeps the descriptor and traces calls."""

    class Agent:
        def __init__(self) -> None:
            self.base = 1

        @traced("make", tracer=tracer)
        @classmethod
        def make(cls, x: int) -> tuple[type, int]:
            return cls, x

        @traced("double", tracer=tracer)
        @staticmethod
        def double(x: int) -> int:
            return 2 * x

        @traced("value", tracer=tracer)  # type: ignore[prop-decorator]
        @property
        def value(self) -> int:
            return self.base + 1

    agent = Agent()
    actual = (Agent.make(1), agent.make(2), Agent.double(3), agent.double(4), agent.value)
    assert ((Agent, 1), (Agent, 2), 6, 8, 2) == actual
    assert ["make", "make", "double", "double", "value"] == [
        s.span_name for s in tracer.get_traces()
    ]


def test_bare_traced_above_classmethod_and_property(tracer: InMemoryTracer) -> None:
    """Bare @traced above @classmethod reads `cls.tracer`, above @property `self.tracer`."""
    shared = tracer

    class Agent:
        tracer = shared

        @traced
        @classmethod
        def create(cls) -> str:
            return cls.__name__

        @traced  # type: ignore[prop-decorator]
        @property
        def name(self) -> str:
            return "agent"

    assert ("Agent", "agent") == (Agent.create(), Agent().name)
    assert ["create", "name"] == [s.span_name for s in tracer.get_traces()]
