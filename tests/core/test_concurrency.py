"""Spans from many threads and tasks into one tracer: nothing lost, parents never mixed up."""

from __future__ import annotations

import asyncio
import threading

from generative_ai_toolkit.tracer import (
    ContextPropagatingExecutor,
    InMemoryTracer,
    with_current_context,
)


def assert_well_formed(tracer: InMemoryTracer, *, roots: int, children_per_root: int) -> None:
    """Every child sits under the root it was opened in (checked through a shared label)."""
    spans = tracer.get_traces()
    by_id = {s.span_id: s for s in spans}
    assert roots * (1 + children_per_root) == len(spans)
    children = [s for s in spans if s.parent_span_id is not None]
    assert roots * children_per_root == len(children)
    for child in children:
        parent = by_id[child.parent_span_id or ""]
        assert parent.attributes["label"] == child.attributes["label"]
        assert parent.trace_id == child.trace_id


def test_eight_threads_nesting_spans_lose_nothing_and_keep_parents() -> None:
    """8 threads x 200 roots x 3 children, all into one tracer."""
    tracer = InMemoryTracer(memory_size=100_000)
    start = threading.Barrier(8)

    def work(thread: int) -> None:
        start.wait()
        for i in range(200):
            with tracer.trace("root") as root:
                root.add_attribute("label", f"{thread}-{i}", inheritable=True)
                for _ in range(3):
                    with tracer.trace("child"):
                        pass

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_well_formed(tracer, roots=1600, children_per_root=3)


def test_a_thousand_asyncio_tasks_nest_independently() -> None:
    """1,000 concurrent tasks interleaving at awaits keep their own current span."""
    tracer = InMemoryTracer(memory_size=100_000)

    async def task(n: int) -> None:
        with tracer.trace("root") as root:
            root.add_attribute("label", n, inheritable=True)
            await asyncio.sleep(0)
            with tracer.trace("child"):
                await asyncio.sleep(0)
            await asyncio.sleep(0)
            with tracer.trace("child"):
                pass

    async def main() -> None:
        await asyncio.gather(*(task(n) for n in range(1000)))

    asyncio.run(main())
    assert_well_formed(tracer, roots=1000, children_per_root=2)


def test_tasks_inherit_the_span_current_when_they_were_created() -> None:
    """asyncio.create_task inside a span makes the task's spans its children."""
    tracer = InMemoryTracer()

    async def child() -> None:
        with tracer.trace("in-task"):
            await asyncio.sleep(0)

    async def main() -> None:
        with tracer.trace("parent") as parent:
            parent.add_attribute("label", "p")
            await asyncio.create_task(child())

    asyncio.run(main())
    parent, in_task = tracer.get_traces()
    assert parent.span_id == in_task.parent_span_id


def test_executor_carries_the_current_span_into_pool_threads() -> None:
    """ContextPropagatingExecutor: work submitted inside a span nests under it."""
    tracer = InMemoryTracer()

    def work(n: int) -> int:
        with tracer.trace(f"work-{n}"):
            return n

    with ContextPropagatingExecutor(max_workers=4) as pool, tracer.trace("fan-out") as parent:
        assert [0, 1, 2, 3] == list(pool.map(work, range(4)))
        assert 9 == pool.submit(work, 9).result()
    spans = [s for s in tracer.get_traces() if s.span_name != "fan-out"]
    assert 5 == len(spans)
    assert {parent.span_id} == {s.parent_span_id for s in spans}


def test_plain_threads_start_without_a_parent_unless_context_is_carried() -> None:
    """A bare Thread starts a new trace; with_current_context carries the span along."""
    tracer = InMemoryTracer()

    def work(name: str) -> None:
        with tracer.trace(name):
            pass

    with tracer.trace("parent") as parent:
        plain = threading.Thread(target=work, args=("plain",))
        carried = threading.Thread(target=with_current_context(work), args=("carried",))
        for thread in (plain, carried):
            thread.start()
            thread.join()
    by_name = {s.span_name: s for s in tracer.get_traces()}
    assert by_name["plain"].parent_span_id is None
    assert parent.span_id == by_name["carried"].parent_span_id


def test_a_child_ending_after_its_parent_in_another_thread_keeps_inherited_attributes() -> None:
    """Inheritance works when the parent ended first (work handed to a thread)."""
    tracer = InMemoryTracer()
    release = threading.Event()

    def late() -> None:
        with tracer.trace("late"):
            release.wait(5)

    with tracer.trace("parent") as parent:
        parent.add_attribute("ai.conversation.id", "c1", inheritable=True)
        thread = threading.Thread(target=with_current_context(late))
        thread.start()
    release.set()
    thread.join()
    late_span = next(s for s in tracer.get_traces() if s.span_name == "late")
    assert {"ai.conversation.id": "c1"} == late_span.attributes
