"""The Phoenix harness: a real Phoenix on 127.0.0.1 that takes OTLP/HTTP and gives spans back."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from services.phoenix import (
    Phoenix,
    PhoenixError,
    attribute_values,
    configured_port,
    listeners,
    process_group,
)

pytestmark = pytest.mark.integration

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
CHILD_ID = "00f067aa0ba902b7"
T0 = 1_700_000_000_000_000_000
MICROSECOND = 1_000

CHILD_ATTRIBUTES = {
    "tool.name": "search",
    "tokens.total": 42,
    "cached": True,
    "temperature": 0.25,
    "tags": ["alpha", "beta"],
    "scores": [1, 2, 3],
}

RETRY_ATTRIBUTES = {"attempt": 3, "reason": "timeout", "backoff": 0.5, "final": False}


def _any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    return AnyValue(array_value=ArrayValue(values=[_any_value(item) for item in value]))


def _attributes(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_any_value(value)) for key, value in values.items()]


def _export_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(_attributes({"service.name": "phoenix-harness"}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests.integration"
    parent = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(PARENT_ID),
        name="agent.run",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 5_000 * MICROSECOND,
    )
    child = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(CHILD_ID),
        parent_span_id=bytes.fromhex(PARENT_ID),
        name="tool.invoke",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=T0 + 1_000 * MICROSECOND,
        end_time_unix_nano=T0 + 4_000 * MICROSECOND,
        attributes=_attributes(CHILD_ATTRIBUTES),
        status=Status(code=Status.STATUS_CODE_ERROR, message="tool failed"),
    )
    retry = child.events.add()
    retry.name = "retry"
    retry.time_unix_nano = T0 + 2_000 * MICROSECOND
    retry.attributes.extend(_attributes(RETRY_ATTRIBUTES))
    exception = child.events.add()
    exception.name = "exception"
    exception.time_unix_nano = T0 + 3_000 * MICROSECOND
    exception.attributes.extend(
        _attributes(
            {
                "exception.type": "TimeoutError",
                "exception.message": "no answer in 30 s",
                "exception.stacktrace": "Traceback ...",
                "attempt": 3,
            }
        )
    )
    scope_spans.spans.extend([parent, child])
    return request


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/x-protobuf"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status), str(response.headers.get("Content-Type"))


@pytest.fixture(scope="module")
def phoenix() -> Iterator[Phoenix]:
    with Phoenix(port=configured_port()) as server:
        yield server


@pytest.fixture(scope="module")
def export_response(phoenix: Phoenix) -> tuple[int, str]:
    return _post(phoenix.endpoint, _export_request().SerializeToString())


@pytest.fixture(scope="module")
def stored(phoenix: Phoenix, export_response: tuple[int, str]) -> dict[str, dict[str, Any]]:
    """The exported spans as Phoenix gives them back, by span id."""

    def ours(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {span["span_id"]: span for span in spans if span["trace_id"] == TRACE_ID}

    spans = phoenix.wait_for_spans(lambda spans: {PARENT_ID, CHILD_ID} <= ours(spans).keys())
    return ours(spans)


def test_endpoint_is_the_default_otlp_http_address(phoenix: Phoenix) -> None:
    """Phoenix's OTLP/HTTP traces endpoint is the one the library's OtlpTracer() sends to."""
    assert f"http://127.0.0.1:{configured_port()}/v1/traces" == phoenix.endpoint


def test_listens_on_loopback_only(phoenix: Phoenix) -> None:
    """Every socket of Phoenix's process group is on loopback: HTTP and the patched gRPC."""
    sockets = phoenix.listeners()
    assert [] == [str(listener) for listener in sockets if not listener.is_loopback]
    assert {phoenix.port, phoenix.grpc_port} == {listener.port for listener in sockets}


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_ss_sees_only_loopback(phoenix: Phoenix) -> None:
    """`ss -ltunp` shows Phoenix's processes bound to loopback addresses only."""
    assert phoenix.pid is not None
    pids = {str(pid) for pid in process_group(phoenix.pid)}
    output = subprocess.run(["ss", "-Hltunp"], capture_output=True, text=True, check=True).stdout
    ours = [
        line.split() for line in output.splitlines() if set(re.findall(r"pid=(\d+)", line)) & pids
    ]
    hosts = {fields[4].rpartition(":")[0] for fields in ours}
    assert hosts
    assert set() == hosts - {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}


def test_accepts_otlp_protobuf(export_response: tuple[int, str]) -> None:
    """A protobuf ExportTraceServiceRequest POSTed to /v1/traces is accepted with 200."""
    assert (200, "application/x-protobuf") == export_response


def test_ids_and_parent_link_come_back(stored: dict[str, dict[str, Any]]) -> None:
    """Trace and span ids come back as hex; the child points at its parent, the root at nothing."""
    assert {PARENT_ID: None, CHILD_ID: PARENT_ID} == {
        span_id: span["parent_span_id"] for span_id, span in stored.items()
    }
    assert {TRACE_ID} == {span["trace_id"] for span in stored.values()}
    assert {"agent.run", "tool.invoke"} == {span["name"] for span in stored.values()}


def test_typed_attributes_come_back(stored: dict[str, dict[str, Any]]) -> None:
    """String, int, bool, double and array attributes come back with their OTLP types."""
    child = stored[CHILD_ID]
    assert CHILD_ATTRIBUTES == attribute_values(child["attributes"])
    assert {
        "tool.name": "string_value",
        "tokens.total": "int_value",
        "cached": "bool_value",
        "temperature": "double_value",
        "tags": "array_value",
        "scores": "array_value",
    } == {
        pair["key"]: next(kind for kind, member in pair["value"].items() if member is not None)
        for pair in child["attributes"]
    }
    assert [] == stored[PARENT_ID]["attributes"]


def test_events_come_back(stored: dict[str, dict[str, Any]]) -> None:
    """Events keep their order, names and typed attributes, and their time to the microsecond."""
    retry, exception = stored[CHILD_ID]["events"]
    assert ("retry", RETRY_ATTRIBUTES) == (retry["name"], attribute_values(retry["attributes"]))
    assert "exception" == exception["name"]
    assert T0 + 2_000 * MICROSECOND == pytest.approx(retry["time_unix_nano"], abs=MICROSECOND)
    assert T0 + 3_000 * MICROSECOND == pytest.approx(exception["time_unix_nano"], abs=MICROSECOND)
    assert stored[PARENT_ID]["events"] is None


def test_exception_events_keep_only_the_exception_attributes(
    stored: dict[str, dict[str, Any]],
) -> None:
    """An event named "exception" keeps only exception.* attributes: Phoenix drops the rest."""
    exception = stored[CHILD_ID]["events"][1]
    assert {
        "exception.type": "TimeoutError",
        "exception.message": "no answer in 30 s",
        "exception.stacktrace": "Traceback ...",
    } == attribute_values(exception["attributes"])


def test_status_comes_back(stored: dict[str, dict[str, Any]]) -> None:
    """ERROR with its message comes back as code 2; an unset status as code 0."""
    assert {"code": 2, "message": "tool failed"} == stored[CHILD_ID]["status"]
    assert {"code": 0, "message": None} == stored[PARENT_ID]["status"]


def test_times_come_back_to_the_microsecond(stored: dict[str, dict[str, Any]]) -> None:
    """Start and end times come back within a microsecond of what was sent."""
    child = stored[CHILD_ID]
    assert T0 + 1_000 * MICROSECOND == pytest.approx(child["start_time_unix_nano"], abs=MICROSECOND)
    assert T0 + 4_000 * MICROSECOND == pytest.approx(child["end_time_unix_nano"], abs=MICROSECOND)


def test_kind_resource_and_scope_do_not_come_back(stored: dict[str, dict[str, Any]]) -> None:
    """Phoenix reports every span as INTERNAL and returns no resource or scope."""
    assert {"SPAN_KIND_INTERNAL"} == {span["kind"] for span in stored.values()}
    assert set() == {"resource", "scope"} & stored[CHILD_ID].keys()


def test_wait_for_spans_times_out_with_what_it_saw(phoenix: Phoenix) -> None:
    """Waiting for spans that never come raises TimeoutError naming the spans Phoenix has."""
    with pytest.raises(TimeoutError, match="did not hold the expected spans"):
        phoenix.wait_for_spans(lambda spans: False, timeout=0.5)


def test_start_fails_clearly_when_the_port_is_taken() -> None:
    """Starting on a port something else listens on fails at once, naming the port."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PhoenixError, match=f"port {port} .* already in use"):
            Phoenix(port=port).start()


def test_stop_leaves_no_process_and_frees_the_port() -> None:
    """After stop() nothing of Phoenix runs, its port is free and its working dir is gone."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Phoenix(port=port).start()
    try:
        pgid, working_dir = server.pid, server.working_dir
        assert pgid is not None
        assert working_dir is not None
        assert listeners(pgid)
    finally:
        server.stop()
    assert ([], [], False) == (process_group(pgid), listeners(pgid), working_dir.exists())
    with socket.socket() as probe:
        # As servers do, so connections Phoenix closed (TIME_WAIT) don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
