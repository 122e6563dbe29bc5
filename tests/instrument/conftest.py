"""Fixtures of the Bedrock tests: a local bedrock-runtime server and real boto3 clients of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from generative_ai_toolkit.tracer import InMemoryTracer, Trace
from generative_ai_toolkit.tracer.demo import BedrockServer
from generative_ai_toolkit.tracer.instrument import instrument_bedrock, uninstrument_bedrock

ClientFactory = Callable[..., Any]


@pytest.fixture
def bedrock() -> Iterator[BedrockServer]:
    """A fresh Bedrock-protocol server on 127.0.0.1 (answers ``You said: ...`` until scripted)."""
    with BedrockServer() as server:
        yield server


def make_client(server: BedrockServer | str, *, retries: int = 1, **config: Any) -> Any:
    """A real boto3 ``bedrock-runtime`` client of ``server`` (or a URL); ``retries`` attempts in
    total."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=server if isinstance(server, str) else server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": retries, "mode": "standard"}, **config),
    )


@pytest.fixture
def clients(bedrock: BedrockServer) -> Iterator[ClientFactory]:
    """Makes boto3 clients of the ``bedrock`` server (``make_client``'s options), closed after."""
    made: list[Any] = []

    def factory(**options: Any) -> Any:
        made.append(make_client(bedrock, **options))
        return made[-1]

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def client(clients: ClientFactory) -> Any:
    """A boto3 client of the ``bedrock`` server that does not retry."""
    return clients()


@pytest.fixture
def tracer() -> Iterator[InMemoryTracer]:
    """An ``InMemoryTracer`` that Bedrock calls are traced into (instrumented for the test)."""
    tracer = InMemoryTracer()
    instrument_bedrock(tracer)
    yield tracer
    uninstrument_bedrock()


@pytest.fixture
def traced_client(tracer: InMemoryTracer, clients: ClientFactory) -> Any:
    """A boto3 client made after instrumenting, so its calls are traced into ``tracer``."""
    return clients()


def llm_spans(tracer: InMemoryTracer) -> list[Trace]:
    """The ended ``llm-invocation`` spans, in start order."""
    return [span for span in tracer.get_traces() if span.span_name == "llm-invocation"]
