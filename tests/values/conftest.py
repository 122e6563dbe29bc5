"""Every tracer and store, each a ``Subject`` that records spans and reads them back as plain
dicts, so one value case runs through all of them.

The stores are real: a SQLite file, DynamoDB Local and an OTLP/HTTP capture server.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from generative_ai_toolkit.tracer import (
    BaseTracer,
    HumanReadableTracer,
    InMemoryTracer,
    SqliteTracer,
    StructuredLogsTracer,
)
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer
from generative_ai_toolkit.tracer.otlp import OtlpTracer
from otlp.capture import CaptureServer
from otlp.wire import attributes_of
from services.dynamodb_local import DynamoDbLocal, create_notebook_table

Record = dict[str, Any]

PATIENT = Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 3})


@dataclass
class Subject:
    """A tracer, and how to read back what it recorded (name, attributes, resource per span).

    ``stores_text`` is false for the in-memory tracer, which keeps values as they were given;
    every other tracer writes them out as text that a UTF-8 store or stream accepts.
    """

    tracer: BaseTracer
    read: Callable[[], list[Record]]
    stores_text: bool = True


def _records(traces: Any) -> list[Record]:
    return [
        {
            "name": t.span_name,
            "span_id": t.span_id,
            "parent_span_id": t.parent_span_id,
            "attributes": t.attributes,
            "resource": t.resource_attributes,
        }
        for t in traces
    ]


def _in_memory(_: pytest.FixtureRequest) -> Subject:
    tracer = InMemoryTracer()
    return Subject(tracer, lambda: _records(tracer.get_traces()), stores_text=False)


def _json_lines(_: pytest.FixtureRequest) -> Subject:
    stream = io.StringIO()
    tracer = StructuredLogsTracer(stream=stream)

    def read() -> list[Record]:
        spans = [json.loads(line)["trace"] for line in stream.getvalue().splitlines()]
        return [
            {
                "name": s["span_name"],
                "span_id": s["span_id"],
                "parent_span_id": s["parent_span_id"],
                "attributes": s["attributes"],
                "resource": s["resource_attributes"],
            }
            for s in spans
        ]

    return Subject(tracer, read)


def _human_text(_: pytest.FixtureRequest) -> Subject:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    tracer = HumanReadableTracer(stream=stream, color=False)

    def read() -> list[Record]:
        lines = raw.getvalue().decode("utf-8").splitlines()
        names = [line.split(" - ", 1)[1].split(" (", 1)[0] for line in lines if line[:1] == "["]
        return [{"name": name} for name in names]

    return Subject(tracer, read)


def _sqlite(request: pytest.FixtureRequest) -> Subject:
    path: Path = request.getfixturevalue("tmp_path") / "traces.sqlite3"
    tracer = SqliteTracer(path, schedule_delay=0.01)
    request.addfinalizer(tracer.shutdown)
    return Subject(tracer, lambda: _records(tracer.get_traces()))


def _dynamodb(request: pytest.FixtureRequest) -> Subject:
    server: DynamoDbLocal = request.getfixturevalue("dynamodb_local")
    client = server.client(PATIENT)
    table = f"Values-{uuid.uuid4().hex[:8]}"
    create_notebook_table(client, table_name=table)
    tracer = DynamoDbTracer(
        table, client=client, conversation_id_gsi_name="conversation_index", schedule_delay=0.01
    )
    request.addfinalizer(tracer.shutdown)

    def read() -> list[Record]:
        # Read every item back, not only a trace: a span dropped alone would hide otherwise.
        assert tracer.flush(30)
        return _records(tracer.get_traces(allow_scan=True))

    return Subject(tracer, read)


def _otlp(request: pytest.FixtureRequest) -> Subject:
    capture: CaptureServer = request.getfixturevalue("capture")
    tracer = OtlpTracer(endpoint=capture.endpoint, genai_semconv=False, schedule_delay=0.01)
    request.addfinalizer(tracer.shutdown)

    def read() -> list[Record]:
        assert tracer.flush(30)
        return [
            {
                "name": span.name,
                "span_id": span.span_id.hex(),
                "parent_span_id": span.parent_span_id.hex() or None,
                "attributes": attributes_of(span),
                "resource": attributes_of(resource_spans.resource),
            }
            for received in capture.accepted()
            for resource_spans in received.request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    return Subject(tracer, read)


SUBJECTS = [_in_memory, _json_lines, _human_text, _sqlite, _dynamodb, _otlp]


@pytest.fixture(params=SUBJECTS, ids=lambda f: f.__name__.lstrip("_"))
def subject(request: pytest.FixtureRequest) -> Subject:
    """Each tracer and store in turn."""
    factory: Callable[[pytest.FixtureRequest], Subject] = request.param
    return factory(request)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDbLocal]:
    """One DynamoDB Local for these tests (tables get unique names)."""
    with DynamoDbLocal() as server:
        yield server


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    """A fresh OTLP/HTTP capture endpoint on 127.0.0.1."""
    with CaptureServer() as server:
        yield server


def by_name(records: list[Record]) -> dict[str, Record]:
    """The records keyed by span name (names are unique within a test)."""
    return {record["name"]: record for record in records}
