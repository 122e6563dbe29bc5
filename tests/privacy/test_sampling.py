"""Sampling: head by trace id, whole conversations, and tail rules that keep every error."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from generative_ai_toolkit.tracer import (
    BaseTracer,
    InMemoryTracer,
    NoopTracer,
    SqliteTracer,
    TeeTracer,
    Trace,
    extract_traceparent,
    inject_traceparent,
    traced,
)
from generative_ai_toolkit.tracer.sampling import ConversationRatio, TailSampler, TraceIdRatio
from generative_ai_toolkit.tracer.sqlite import SqliteQuery


class SeededIds:
    """Random ids from a seeded generator: deterministic tests of a random-id law."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def new_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1

    def new_span_id(self) -> int:
        return self._random.getrandbits(64) or 1


class Counting(BaseTracer):
    """Keeps only a count and the trace ids of what it is handed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.trace_ids: list[str] = []

    def persist(self, trace: Trace) -> None:
        self.trace_ids.append(trace.trace_id)


# -- head sampling ---------------------------------------------------------------------------


def test_100000_traces_at_ratio_0_1_keep_10_percent_within_1_point() -> None:
    """The kept share is the ratio, within one percentage point."""
    tracer = Counting(sampler=TraceIdRatio(0.1), id_generator=SeededIds(15))
    for _ in range(100_000):
        with tracer.trace("root") as root:
            root.add_attribute("n", 1)
    assert 9_000 <= len(tracer.trace_ids) <= 11_000
    assert 100_000 - len(tracer.trace_ids) == tracer.stats["sampled_out"]


@settings(max_examples=500)
@given(st.integers(1, 2**128 - 1), st.sampled_from([0.0, 0.001, 0.1, 0.5, 0.9, 1.0]))
def test_the_decision_is_opentelemetrys_trace_id_ratio_based(trace_id: int, ratio: float) -> None:
    """Same trace id, same decision as the OpenTelemetry SDK: services agree with ours."""
    decision = TraceIdRatioBased(ratio).should_sample(None, trace_id, "span").decision
    otel = decision.is_sampled()  # type: ignore[no-untyped-call]
    assert otel == TraceIdRatio(ratio).keeps(trace_id)


DECIDE = """
import json, sys
from generative_ai_toolkit.tracer.sampling import ConversationRatio, TraceIdRatio
ids = json.loads(sys.stdin.read())
print(json.dumps([
    [TraceIdRatio(0.3).keeps(int(t, 16)) for t in ids["traces"]],
    [ConversationRatio(0.3).keeps_conversation(c) for c in ids["conversations"]],
]))
"""


def test_decisions_are_equal_across_processes() -> None:
    """Two interpreters (different hash seeds) decide every trace and conversation alike."""
    rng = random.Random(7)
    ids = {
        "traces": [f"{rng.getrandbits(128):032x}" for _ in range(2000)],
        "conversations": [f"conversation-{rng.getrandbits(32)}" for _ in range(2000)],
    }
    answers = []
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", DECIDE],
            input=json.dumps(ids),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=60,
        )
        answers.append(json.loads(done.stdout))
    assert answers[0] == answers[1]
    assert 0 < sum(answers[0][0]) < 2000
    assert 0 < sum(answers[0][1]) < 2000


def test_children_of_a_sampled_out_root_are_not_recorded_but_carry_its_context() -> None:
    """The whole trace follows its root, which stays current: spans below it are inert."""
    tracer = Counting(sampler=TraceIdRatio(0.0))
    with tracer.trace("root") as root, tracer.trace("child") as child:
        child.add_attribute("x", 1)
        with tracer.trace("grandchild") as grandchild:
            assert root is tracer.current_trace
            assert root.trace_id == grandchild.trace_id
        assert root.trace_id == child.trace_id
        assert root.span_id == child.parent_span_id
        assert {} == child.attributes
    assert [] == tracer.trace_ids
    assert 3 == tracer.stats["sampled_out"]


def test_every_services_sampler_decides_our_trace_ids_as_we_did() -> None:
    """Kept or dropped, the trace id passed on decides the same in OpenTelemetry's sampler;
    a dropped root's ids, drawn when first read, stay the same."""
    tracer, headers = Counting(sampler=TraceIdRatio(0.3)), dict[str, str]()
    dropped = 0
    for _ in range(300):
        with tracer.trace("root") as root:
            inject_traceparent(headers, tracer)
            kept = headers["traceparent"].endswith("-01")
            dropped += not kept
            assert headers["traceparent"] == f"00-{root.trace_id}-{root.span_id}-0{int(kept)}"
            decision = TraceIdRatioBased(0.3).should_sample(None, int(root.trace_id, 16), "x")
            assert kept == decision.decision.is_sampled()  # type: ignore[no-untyped-call]
    assert 150 < dropped < 270
    assert dropped == tracer.stats["sampled_out"]


def test_spans_inside_a_dropped_trace_are_one_shared_inert_span_like_noop_tracers() -> None:
    """They cost what NoopTracer's do; their ids are those of the dropped span current here."""
    tracer = Counting(sampler=TraceIdRatio(0.0))
    with tracer.trace("root") as root:
        first, second = tracer.trace("a"), tracer.trace("b", span_kind="CLIENT")
        assert first is second
        with first:
            assert tracer.current_trace is root
        assert (first.trace_id, first.parent_span_id) == (root.trace_id, root.span_id)
    assert "0" * 32 == first.trace_id  # read outside any dropped span of its tracer
    assert not first.is_ended
    assert 3 == tracer.stats["sampled_out"]


def test_a_child_of_an_explicit_dropped_parent_keeps_its_ids_in_another_thread() -> None:
    """``parent=`` a dropped span, where that span is not current: the child holds on to it."""
    tracer = Counting(sampler=TraceIdRatio(0.0))
    found: list[tuple[str, str | None]] = []
    with tracer.trace("root") as root:

        def work() -> None:
            with tracer.trace("work", parent=root) as span:
                found.append((span.trace_id, span.parent_span_id))

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert [(root.trace_id, root.span_id)] == found
    assert [] == tracer.trace_ids


def test_another_tracers_spans_skip_a_dropped_root_to_find_their_parent() -> None:
    """A recorded span opened inside another tracer's dropped root is its outer span's child."""
    recorded, dropping = InMemoryTracer(), Counting(sampler=TraceIdRatio(0.0))

    @traced(tracer=dropping)
    def dropped_steps() -> Iterator[None]:
        with recorded.trace("inner"):
            yield None

    with recorded.trace("outer") as outer:
        with dropping.trace("root"), recorded.trace("inside"):
            pass
        assert [None] == list(dropped_steps())
    spans = {t.span_name: t for t in recorded.get_traces()}
    assert outer.span_id == spans["inside"].parent_span_id == spans["inner"].parent_span_id
    assert [] == dropping.trace_ids


def test_a_traced_generator_below_a_sampled_out_root_runs_unrecorded() -> None:
    """A ``@traced`` generator makes its span current between items: it is inert there too."""
    tracer = Counting(sampler=TraceIdRatio(0.0))

    @traced(tracer=tracer)
    def numbers() -> Iterator[int]:
        with tracer.trace("inside") as inside:
            assert tracer.current_trace.trace_id == inside.trace_id
        yield 1
        yield 2

    with tracer.trace("root"):
        assert [1, 2] == list(numbers())
    assert [] == tracer.trace_ids
    assert 3 == tracer.stats["sampled_out"]


def test_a_sampled_out_span_lets_the_users_exception_through() -> None:
    """Unrecorded spans change nothing about the traced code."""
    tracer = Counting(sampler=TraceIdRatio(0.0))
    with pytest.raises(KeyError), tracer.trace("root"):
        raise KeyError("x")
    with pytest.raises(ValueError, match="span_kind"):
        tracer.trace("root", span_kind="BOGUS")


def test_ratio_one_records_everything() -> None:
    """A root and its children, all recorded, with normal parent links."""
    tracer = InMemoryTracer(sampler=TraceIdRatio(1.0))
    with tracer.trace("root"), tracer.trace("child"):
        pass
    child, root = sorted(tracer.get_traces(), key=lambda t: t.span_name)
    assert root.span_id == child.parent_span_id


def test_inject_sets_the_sampled_flag() -> None:
    """``-01`` from a recorded span, ``-00`` from a sampled-out one."""
    kept, dropped = InMemoryTracer(sampler=TraceIdRatio(1.0)), Counting(sampler=TraceIdRatio(0))
    headers: dict[str, str] = {}
    with kept.trace("a"):
        inject_traceparent(headers, kept)
        assert headers["traceparent"].endswith("-01")
    with dropped.trace("a"):
        inject_traceparent(headers, dropped)
        assert headers["traceparent"].endswith("-00")


def test_an_unsampled_traceparent_is_honoured_even_without_a_sampler() -> None:
    """Flags ``00``: nothing of the trace is recorded here, and ``00`` is passed on."""
    tracer = InMemoryTracer()
    parent = extract_traceparent({"traceparent": f"00-{'a' * 32}-{'b' * 16}-00"})
    headers: dict[str, str] = {}
    with tracer.trace("handle", span_kind="SERVER", parent=parent), tracer.trace("inner"):
        inject_traceparent(headers, tracer)
    assert headers["traceparent"].startswith(f"00-{'a' * 32}-")
    assert headers["traceparent"].endswith("-00")
    with tracer.trace("next request"):
        pass
    assert ["next request"] == [t.span_name for t in tracer.get_traces()]
    assert 2 == tracer.stats["sampled_out"]  # "handle" and "inner": counted, not lost


def test_a_sampled_traceparent_is_recorded_whatever_the_local_ratio() -> None:
    """Parent-based: the caller's decision wins, so no trace is recorded by halves."""
    tracer = InMemoryTracer(sampler=TraceIdRatio(0.0))
    parent = extract_traceparent({"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"})
    with tracer.trace("handle", parent=parent), tracer.trace("inner"):
        pass
    assert {"a" * 32} == {t.trace_id for t in tracer.get_traces()}
    assert 2 == len(tracer.get_traces())


def test_a_tee_child_with_a_head_sampler_applies_the_same_decision() -> None:
    """Spans opened by a tee are decided by trace id when the child is handed them."""
    everything, sampled = Counting(), Counting(sampler=TraceIdRatio(0.5))
    tee = TeeTracer(everything, sampled, id_generator=SeededIds(3))
    for _ in range(200):
        with tee.trace("root"):
            pass
    expected = [t for t in everything.trace_ids if TraceIdRatio(0.5).keeps(int(t, 16))]
    assert expected == sampled.trace_ids
    assert 0 < len(expected) < 200


def test_noop_tracer_accepts_no_sampler_work() -> None:
    """``NoopTracer`` keeps costing nothing: its spans are inert whatever the options."""
    assert NoopTracer().trace("x") is NoopTracer().trace("y")


# -- conversation sampling -------------------------------------------------------------------


def test_whole_conversations_are_kept_or_dropped() -> None:
    """Every turn of a kept conversation is kept; none of a dropped one."""
    tracer = InMemoryTracer(10_000, sampler=ConversationRatio(0.5))
    for _turn in range(5):
        for conversation in range(200):
            with tracer.trace("converse") as root:
                root.add_attribute("ai.conversation.id", f"c-{conversation}", inheritable=True)
                with tracer.trace("llm"):
                    pass
    kept: dict[str, int] = {}
    for span in tracer.get_traces():
        conversation = span.attributes["ai.conversation.id"]
        kept[conversation] = kept.get(conversation, 0) + 1
    assert set(kept.values()) == {10}  # 5 turns x 2 spans, for every kept conversation
    assert 60 <= len(kept) <= 140
    expected = {f"c-{c}" for c in range(200) if ConversationRatio(0.5).keeps_conversation(f"c-{c}")}
    assert expected == set(kept)


def test_spans_without_a_conversation_are_decided_by_trace_id() -> None:
    """The same ratio, applied to the trace id."""
    tracer = Counting(sampler=ConversationRatio(0.5), id_generator=SeededIds(5))
    for _ in range(400):
        with tracer.trace("root"):
            pass
    assert all(ConversationRatio(0.5).bound > int(t, 16) % 2**64 for t in tracer.trace_ids)
    assert 100 < len(tracer.trace_ids) < 300


# -- tail sampling ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_every_error_trace_is_kept(failures: list[bool]) -> None:
    """With a ratio of 0, exactly the traces holding an error survive, with all their spans."""
    tracer = InMemoryTracer(10_000, sampler=TailSampler(ratio=0.0))
    failed_ids = set()
    for failing in failures:
        with tracer.trace("root") as root:
            with tracer.trace("ok"):
                pass
            with tracer.trace("step") as step:
                if failing:
                    step.set_status("ERROR")
                    failed_ids.add(root.trace_id)
    assert failed_ids == {t.trace_id for t in tracer.get_traces()}
    assert 3 * len(failed_ids) == len(tracer.get_traces())
    assert 0 == tracer.stats["buffered"]


def test_slow_traces_are_kept() -> None:
    """A root that took at least ``min_duration`` keeps its trace."""
    clock = iter(range(0, 10**15, 10**9)).__next__  # one second per reading
    tracer = InMemoryTracer(sampler=TailSampler(min_duration=2.5), clock=clock)
    with tracer.trace("fast"):
        pass
    with tracer.trace("slow"), tracer.trace("a"), tracer.trace("b"):
        pass
    assert ["a", "b", "slow"] == sorted(t.span_name for t in tracer.get_traces())


def test_a_ratio_of_the_other_traces_is_kept_by_trace_id() -> None:
    """The rest are decided as ``TraceIdRatio`` would decide them."""
    tracer = Counting(sampler=TailSampler(ratio=0.25), id_generator=SeededIds(11))
    opened = []
    for _ in range(2000):
        with tracer.trace("root") as root:
            opened.append(root.trace_id)
    assert [t for t in opened if TraceIdRatio(0.25).keeps(int(t, 16))] == tracer.trace_ids


def test_memory_stays_bounded_with_10000_concurrent_open_traces() -> None:
    """Past ``max_buffered_spans`` the oldest open traces are decided early, and counted."""
    tracer = Counting(sampler=TailSampler(ratio=0.0, max_buffered_spans=1000))
    roots = [tracer.trace("root") for _ in range(10_000)]
    highest = 0
    for index, root in enumerate(roots):
        child = tracer.trace("child", parent=root)
        if index % 100 == 0:
            child.set_status("ERROR")
        child.end()
        highest = max(highest, tracer.stats["buffered"])
    assert highest == 1000
    assert 9000 == tracer.stats["decided_early"]
    policy = tracer._policy
    assert policy is not None
    assert policy.tail is not None
    assert len(policy.tail._decided) <= 1000
    for root in roots:
        root.end()
    assert 0 == tracer.stats["buffered"]
    # Errors seen before the early decision kept their trace; the rest were dropped.
    assert len(tracer.trace_ids) >= 90
    assert 20_000 == len(tracer.trace_ids) + tracer.stats["sampled_out"]


def test_spans_ending_after_their_root_follow_its_decision() -> None:
    """A span that outlives its root (work handed to another thread) goes where the trace went."""
    tracer = Counting(sampler=TailSampler(ratio=0.0))
    root = tracer.trace("root")
    late = tracer.trace("late", parent=root)
    root.set_status("ERROR")
    root.end()
    late.end()
    assert 2 == len(tracer.trace_ids)


def test_shutdown_decides_the_open_traces() -> None:
    """Nothing is held forever: at shutdown, open traces are decided on what they hold."""
    tracer = Counting(sampler=TailSampler(ratio=0.0))
    root = tracer.trace("root")
    with tracer.trace("failed", parent=root) as failed:
        failed.set_status("ERROR")
    assert [] == tracer.trace_ids
    tracer.shutdown()
    assert 1 == len(tracer.trace_ids)


def test_bad_sampler_options_fail_at_construction() -> None:
    """Ratios outside 0..1, non-positive buffers and unknown samplers are refused."""
    with pytest.raises(ValueError, match="ratio"):
        TraceIdRatio(1.5)
    with pytest.raises(ValueError, match="max_buffered_spans"):
        TailSampler(max_buffered_spans=0)
    with pytest.raises(ValueError, match="sampler"):
        InMemoryTracer(sampler=0.1)  # type: ignore[arg-type]


def test_an_exporting_tracer_tail_samples_and_decides_open_traces_at_shutdown(
    tmp_path: Path,
) -> None:
    """SQLite stores the kept traces; shutdown stores an open trace holding an error."""
    path = tmp_path / "t.sqlite3"
    tracer = SqliteTracer(path, sampler=TailSampler(ratio=0.0), schedule_delay=0.01)
    with tracer.trace("fine"), tracer.trace("step"):
        pass
    with tracer.trace("failed") as failed:
        failed.set_status("ERROR")
    still_open = tracer.trace("open")
    with tracer.trace("broken", parent=still_open) as broken:
        broken.set_status("ERROR")
    tracer.shutdown()
    stored = SqliteQuery(path)
    assert {"failed", "broken"} == {t.span_name for t in stored.get_traces()}
    stored.close()


def test_a_failing_sampler_keeps_the_span_and_never_reaches_the_traced_code(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Telemetry never breaks the program: a sampling bug stores the span instead."""
    tracer = Counting(sampler=TailSampler(ratio=0.0))
    policy = tracer._policy
    assert policy is not None
    assert policy.tail is not None

    def broken(span: Trace) -> list[Trace]:
        raise RuntimeError("sampler bug")

    monkeypatch.setattr(policy.tail, "end", broken)
    # The persist path was built with the bound method; build it again around the broken one.
    monkeypatch.setattr(
        tracer, "persist", policy._persist_path(tracer, type(tracer).persist.__get__(tracer))
    )
    with tracer.trace("root"):
        pass
    assert 1 == len(tracer.trace_ids)
    assert "sampler bug" in caplog.text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_tail_samples_with_an_empty_buffer_even_if_the_lock_was_held() -> None:
    """Forking while another thread holds the buffer's lock never deadlocks the child."""
    tracer = Counting(sampler=TailSampler(ratio=0.0))
    policy = tracer._policy
    assert policy is not None
    assert policy.tail is not None
    open_root = tracer.trace("parent's open trace")
    with tracer.trace("buffered", parent=open_root):
        pass
    read_end, write_end = os.pipe()
    with policy.tail._lock:  # as if another thread were buffering a span right now
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without running the parent's cleanup
            status = 1
            try:
                signal.alarm(10)  # a deadlock fails the test instead of hanging it
                buffered_at_start = tracer.stats["buffered"]
                with tracer.trace("child root") as root:
                    root.set_status("ERROR")
                os.write(write_end, json.dumps([buffered_at_start, tracer.trace_ids]).encode())
                status = 0
            finally:
                os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        buffered_at_start, kept = json.loads(pipe.read())
    _, status = os.waitpid(pid, 0)
    assert 0 == status
    assert 0 == buffered_at_start
    assert 1 == len(kept)
    assert 1 == tracer.stats["buffered"]  # the parent still holds its own open trace
