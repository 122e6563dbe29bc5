"""instrument_bedrock: what tracing adds to a Bedrock call on the caller's thread.

The local Bedrock-protocol server runs in a child process (so it takes no interpreter time from
the caller); two real boto3 clients call it, one made before instrumenting (untraced, no
handlers) and one after (traced into an ``InMemoryTracer``), interleaved round by round.

1. ``converse``: what tracing costs the caller's thread, in CPU time (``time.thread_time``: the
   machine is shared, and time spent descheduled must not count), with botocore's
   ``before-send`` hook answering in process with the JSON the server sends: botocore's whole
   client path runs (serialising, signing, parsing, every event), only the socket is skipped.
   That cost as a share of the untraced call over the wire (wall time, the best round) is the
   5% target; the wall-time ratio over the wire is noted, but is below this machine's noise.
2. Streaming, per chunk: ``TracedEventStream`` iterating a list of ConverseStream events, against
   iterating the list itself; the end of the stream (assembling the answer, ending the span) is
   included, spread over the chunks. End to end over the wire, and the time to the first chunk,
   are noted.

Targets (issue 12): converse overhead <= 5% of the call and <= 50 µs; <= 2 µs per chunk.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config

from _harness import Report, interleaved
from generative_ai_toolkit.tracer import InMemoryTracer
from generative_ai_toolkit.tracer.instrument import _bedrock as hooks
from generative_ai_toolkit.tracer.instrument import instrument_bedrock, uninstrument_bedrock
from generative_ai_toolkit.tracer.instrument._stream import StreamRecorder, TracedEventStream

CALLS = 200
ROUNDS = 7
STREAM_PIECES = 200
STREAMS = 10
CHUNKS = 2_000

_SERVER = """
from generative_ai_toolkit.tracer.demo import BedrockServer, ModelAnswer
text = " ".join(["word"] * int(__import__("sys").argv[1]))
short = ModelAnswer(text="Sunny in Lisbon.", usage={"inputTokens": 30, "outputTokens": 4})
long = ModelAnswer(text=text, usage={"inputTokens": 30, "outputTokens": len(text.split())})
server = BedrockServer(lambda r: long if r.operation == "ConverseStream" else short).start()
print(server.endpoint_url, flush=True)
__import__("sys").stdin.read()
"""

MESSAGES = [
    {"role": "user", "content": [{"text": f"Message {i}: what is the weather in Lisbon?"}]}
    for i in range(10)
]


@contextmanager
def bedrock_server() -> Iterator[str]:
    """The Bedrock-protocol server in its own process; yields its endpoint URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(STREAM_PIECES)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()


def _client(url: str) -> Any:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x")
    return session.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}),
    )


def run(report: Report) -> None:
    with bedrock_server() as url:
        plain = _client(url)  # made before instrumenting: no handlers
        tracer = InMemoryTracer(10_000)
        instrument_bedrock(tracer)
        traced = _client(url)
        try:
            call_s = _converse(report, plain, traced)
            extra_us = _converse_in_process(report, url, tracer)
            share = extra_us / (call_s * 1e6)
            report.add(
                "converse: tracing's CPU cost as a share of the untraced call over the wire",
                f"{share:.1%}",
                "<= 5%",
                share <= 0.05,
            )
            _stream_over_the_wire(report, plain, traced)
        finally:
            uninstrument_bedrock()
            plain.close()
            traced.close()
    _per_chunk(report)


def _converse(report: Report, plain: Any, traced: Any) -> float:
    def call(client: Any) -> Any:
        return lambda: client.converse(
            modelId="amazon.nova-lite-v1:0",
            messages=MESSAGES,
            inferenceConfig={"maxTokens": 100, "temperature": 0.5},
        )

    for client in (plain, traced):  # warm: connections, botocore's caches
        for _ in range(20):
            call(client)()
    best = interleaved(
        {"plain": call(plain), "traced": call(traced)},
        ops_per_call=1,
        number=CALLS // 4,
        rounds=ROUNDS * 4,
    )
    ratio = best["traced"] / best["plain"]
    report.note(
        f"converse over the wire, wall time: traced / untraced {ratio:.3f}x "
        f"({best['plain'] * 1e6:.0f} µs untraced); the machine's noise is larger than the cost"
    )
    return best["plain"]


class _Raw:
    """The raw HTTP body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._body


def thread_cpu_interleaved(
    cases: dict[str, Callable[[], object]], *, number: int, rounds: int
) -> dict[str, float]:
    """Best CPU seconds of this thread per call of each case, round-robin: time the thread
    spends descheduled (the machine is shared) does not count."""
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, fn in cases.items():
            gc.collect()
            start = time.thread_time()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.thread_time() - start) / number)
    return best


def _converse_in_process(report: Report, url: str, tracer: InMemoryTracer) -> float:
    body = json.dumps(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "Sunny."}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 30, "outputTokens": 4, "totalTokens": 34},
            "metrics": {"latencyMs": 1},
        }
    ).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(
            request.url,
            200,
            HTTPHeaders.from_pairs([("Content-Type", "application/json")]),
            _Raw(body),
        )

    uninstrument_bedrock()
    plain = _client(url)
    instrument_bedrock(tracer)
    traced = _client(url)
    for client in (plain, traced):
        client.meta.events.register("before-send.bedrock-runtime.Converse", answer)

    def call(client: Any) -> Any:
        return lambda: client.converse(
            modelId="amazon.nova-lite-v1:0",
            messages=MESSAGES,
            inferenceConfig={"maxTokens": 100, "temperature": 0.5},
        )

    best = thread_cpu_interleaved(
        {"plain": call(plain), "traced": call(traced)}, number=20, rounds=ROUNDS * 12
    )
    extra_us = (best["traced"] - best["plain"]) * 1e6
    report.add(
        "converse: tracing's cost on the caller's thread (CPU time, botocore answering in process)",
        f"{extra_us:.1f} µs per call ({best['plain'] * 1e6:.0f} µs untraced)",
        "<= 50 µs",
        extra_us <= 50,
    )
    _handlers_alone(report, tracer)
    return extra_us


def _handlers_alone(report: Report, tracer: InMemoryTracer) -> None:
    """The four handlers called as botocore calls them, without botocore around them."""

    class Operation:
        name = "Converse"

    class Http:
        status_code = 200

    params = {"modelId": "m", "messages": MESSAGES, "inferenceConfig": {"maxTokens": 100}}
    parsed = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Sunny."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 30, "outputTokens": 4, "totalTokens": 34},
        "metrics": {"latencyMs": 1},
    }
    operation, http = Operation(), Http()

    def one() -> None:
        context: dict[str, Any] = {}
        hooks._before_parameter_build(params=params, model=operation, context=context)
        hooks._before_call(model=operation, context=context, params={})
        hooks._after_call(http_response=http, parsed=parsed, model=operation, context=context)

    best = thread_cpu_interleaved({"handlers": one}, number=200, rounds=ROUNDS * 3)
    report.note(
        f"converse: the instrumentation's handlers and span alone, called as botocore calls "
        f"them: {best['handlers'] * 1e6:.1f} µs per call (CPU time)"
    )


def _stream_over_the_wire(report: Report, plain: Any, traced: Any) -> None:
    def consume(client: Any) -> Any:
        def go() -> None:
            for _ in client.converse_stream(modelId="m", messages=MESSAGES)["stream"]:
                pass

        return go

    def first(client: Any) -> Any:
        def go() -> None:
            stream = client.converse_stream(modelId="m", messages=MESSAGES)["stream"]
            next(iter(stream))
            stream.close()

        return go

    whole = interleaved(
        {"plain": consume(plain), "traced": consume(traced)},
        ops_per_call=1,
        number=STREAMS,
        rounds=ROUNDS,
    )
    ttfc = interleaved(
        {"plain": first(plain), "traced": first(traced)},
        ops_per_call=1,
        number=STREAMS,
        rounds=ROUNDS,
    )
    events = STREAM_PIECES + 4
    per_event = (whole["traced"] - whole["plain"]) / events * 1e6
    report.note(
        f"converse_stream over the wire ({events} events): traced / untraced "
        f"{whole['traced'] / whole['plain']:.3f}x, {per_event:.2f} µs per event including the "
        f"span; time to first chunk {ttfc['traced'] / ttfc['plain']:.3f}x "
        f"({ttfc['plain'] * 1e3:.2f} ms untraced)"
    )


def _per_chunk(report: Report) -> None:
    events = [
        {"contentBlockDelta": {"delta": {"text": "word "}, "contentBlockIndex": 0}}
        for _ in range(CHUNKS)
    ]
    events.append({"messageStop": {"stopReason": "end_turn"}})
    tracer = InMemoryTracer(10_000)

    def plain() -> None:
        for _ in iter(events):
            pass

    def traced() -> None:
        span = tracer.trace("llm-invocation", span_kind="CLIENT")
        recorder = StreamRecorder(span, time.perf_counter_ns(), converse=True, capture_content=True)
        for _ in TracedEventStream(events, recorder):
            pass

    best = interleaved(
        {"plain": plain, "traced": traced}, ops_per_call=len(events), number=20, rounds=ROUNDS
    )
    extra_us = (best["traced"] - best["plain"]) * 1e6
    report.add(
        "converse_stream: bookkeeping per chunk (assembly at the end included)",
        f"{extra_us:.2f} µs per chunk",
        "<= 2 µs",
        extra_us <= 2,
    )
