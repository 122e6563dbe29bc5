"""The notebook's service-free cells, run verbatim, print in the notebook's formats.

Cells 13 and 14 use a DynamoDbTracer in the notebook; here an InMemoryTracer stands in for it
(the DynamoDB tests run those cells against DynamoDB Local).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

import notebook
from notebook import (
    CELL_1,
    CELL_2,
    CELL_3,
    CELL_4,
    CELL_5,
    CELL_12,
    CELL_13,
    CELL_14,
    CELL_15,
    CELL_16,
    CELL_17,
    CELL_18,
    CELL_19,
)

HEX32 = r"[0-9a-f]{32}"
HEX16 = r"[0-9a-f]{16}"
DT = (
    r"datetime\.datetime\(\d{4}, \d{1,2}, \d{1,2}, \d{1,2}, \d{1,2}, \d{1,2}(, \d{1,6})?, "
    r"tzinfo=datetime\.timezone\.utc\)"
)
ISO_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
STR_DT = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00"


def repr_pattern(
    name: str,
    kind: str,
    parent: str,
    attributes: str,
    resource: str = "{'service.name': 'MyAgent'}",
) -> str:
    """A regex for ``repr(trace)`` as the notebook prints it."""
    return (
        rf"Trace\(span_name='{name}', span_kind='{kind}', trace_id='(?P<{name}_trace>{HEX32})', "
        rf"span_id='(?P<{name}_span>{HEX16})', parent_span_id={parent}, started_at={DT}, "
        rf"ended_at={DT}, attributes={re.escape(attributes)}, span_status='UNSET', "
        rf"resource_attributes={re.escape(resource)}, scope=generative-ai-toolkit@current\)"
    )


def human_pattern(name: str, kind: str, parent: str, header: str, details: str = "") -> str:
    """A regex for ``as_human_readable()`` as the notebook prints it."""
    return (
        rf"\[{HEX32}/{parent}/{HEX16}\] MyAgent {kind} {ISO_MS} - {name}"
        rf"{re.escape(header)}\n{re.escape(details)}"
    )


TOOL_DETAILS = "       Input: Hello, world!\n      Output: World, hello!\n"


class _Cells:
    """The notebook run top to bottom in one namespace (one kernel); each cell's printed output."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__notebook__"}
        self.output: dict[int, str] = {}
        self._stdout = io.StringIO()

    def run(self, number: int, cell: str) -> None:
        self._stdout.seek(0)
        self._stdout.truncate()
        with contextlib.redirect_stdout(self._stdout):
            exec(cell, self.namespace)
        self.output[number] = self._stdout.getvalue()


@pytest.fixture(scope="module")
def cells() -> _Cells:
    """Every service-free cell, run verbatim in order (an InMemoryTracer as `ddb_tracer`)."""
    run = _Cells()
    for number, cell in [(1, CELL_1), (2, CELL_2), (3, CELL_3)]:
        run.run(number, cell)
    conversation_id_of_cell_3 = run.namespace["conversation_id"]
    for number, cell in [(4, CELL_4), (5, CELL_5), (12, CELL_12)]:
        run.run(number, cell)
    run.namespace["ddb_tracer"] = run.namespace["InMemoryTracer"]()
    for number, cell in [(13, CELL_13), (14, CELL_14), (15, CELL_15), (16, CELL_16)]:
        run.run(number, cell)
    run.namespace["conversation_id_of_cell_3"] = conversation_id_of_cell_3
    for number, cell in [(17, CELL_17), (18, CELL_18), (19, CELL_19)]:
        run.run(number, cell)
    return run


def test_cell_2_in_memory_tracer_prints_parent_then_child_with_inherited_attribute(
    cells: _Cells,
) -> None:
    """Cell 2: repr of both spans; the child carries the inherited attribute and the parent id."""
    out = cells.output[2]
    parent = repr_pattern("parent", "INTERNAL", "None", "{'foo': 'bar', 'inherited.foo': 'bar'}")
    child = repr_pattern(
        "child", "INTERNAL", "'(?P<pid>[0-9a-f]{16})'", "{'bar': 'foo', 'inherited.foo': 'bar'}"
    )
    match = re.fullmatch(f"{parent}\n\n{child}\n\n", out)
    assert match, out
    assert match["parent_trace"] == match["child_trace"]
    assert match["pid"] == match["parent_span"]


def test_cell_3_filters_by_conversation_id_and_prints_human_readable(
    cells: _Cells,
) -> None:
    """Cell 3: only the conversation's two spans, in the human-readable format."""
    out = cells.output[3]
    cid = cells.namespace["conversation_id_of_cell_3"]
    parent = human_pattern(
        "parent", "SERVER", "root", f" (ai.conversation.id='{cid}' ai.auth.context='user123')"
    )
    child = human_pattern(
        "child",
        "INTERNAL",
        HEX16,
        f" (ai.trace.type='tool-invocation' ai.conversation.id='{cid}' ai.auth.context='user123')",
        TOOL_DETAILS,
    )
    assert re.fullmatch(f"{parent}\n\n{child}\n\n", out), out


def test_cell_4_human_readable_tracer_logs_child_before_parent(
    cells: _Cells,
) -> None:
    """Cell 4: each span as it ends, children first, each followed by a blank line."""
    out = cells.output[4]
    cid = cells.namespace["conversation_id_of_cell_3"]
    child = human_pattern(
        "child",
        "INTERNAL",
        HEX16,
        f" (ai.trace.type='tool-invocation' ai.conversation.id='{cid}' ai.auth.context='user123')",
        TOOL_DETAILS,
    )
    parent = human_pattern(
        "parent", "SERVER", "root", f" (ai.conversation.id='{cid}' ai.auth.context='user123')"
    )
    assert re.fullmatch(f"{child}\n{parent}\n", out), out


def test_cell_5_structured_logs_tracer_writes_one_json_line_per_span(
    cells: _Cells,
) -> None:
    """Cell 5: the notebook's exact JSON shape, key order and number types."""
    out = cells.output[5]
    cid = cells.namespace["conversation_id_of_cell_3"]
    child, parent = out.splitlines()
    assert re.fullmatch(
        r'\{"logger":"TraceLogger","level":"INFO","message":"Trace","trace":\{"span_name":"child",'
        rf'"span_kind":"INTERNAL","trace_id":"{HEX32}","span_id":"{HEX16}",'
        rf'"parent_span_id":"{HEX16}","started_at":"{STR_DT}","ended_at":"{STR_DT}",'
        r'"attributes":\{"ai.trace.type":"tool-invocation","ai.tool.input":"Hello, world!",'
        rf'"ai.tool.output":"World, hello!","ai.conversation.id":{cid},'
        r'"ai.auth.context":"user123"\},"span_status":"UNSET",'
        r'"resource_attributes":\{"service.name":"MyAgent"\},'
        r'"scope":\{"name":"generative-ai-toolkit","version":"current"\}\}\}',
        child,
    ), child
    assert re.fullmatch(
        r'\{"logger":"TraceLogger","level":"INFO","message":"Trace","trace":\{"span_name":"parent",'
        rf'"span_kind":"SERVER","trace_id":"{HEX32}","span_id":"{HEX16}","parent_span_id":null,'
        rf'"started_at":"{STR_DT}","ended_at":"{STR_DT}",'
        rf'"attributes":\{{"ai.conversation.id":{cid},"ai.auth.context":"user123"\}},'
        r'"span_status":"UNSET","resource_attributes":\{"service.name":"MyAgent"\},'
        r'"scope":\{"name":"generative-ai-toolkit","version":"current"\}\}\}',
        parent,
    ), parent


def test_cell_12_noop_tracer_prints_nothing(
    cells: _Cells,
) -> None:
    """Cell 12: nothing was logged."""
    assert cells.output[12] == ""


def test_cells_13_and_14_tee_tracer_writes_to_all_and_reads_from_the_first(
    cells: _Cells,
) -> None:
    """Cells 13-14: human-readable lines as spans end, then get_traces from the first tracer."""
    assert cells.output[13] == ""
    out = cells.output[14]
    cid = cells.namespace["conversation_id"]
    child = human_pattern(
        "child",
        "INTERNAL",
        HEX16,
        f" (ai.trace.type='tool-invocation' ai.conversation.id='{cid}' ai.auth.context='user456')",
        TOOL_DETAILS,
    )
    parent_human = human_pattern(
        "parent", "SERVER", "root", f" (ai.conversation.id='{cid}' ai.auth.context='user456')"
    )
    parent_repr = repr_pattern(
        "parent", "SERVER", "None", f"{{'ai.conversation.id': {cid}, 'ai.auth.context': 'user456'}}"
    )
    child_repr = repr_pattern(
        "child",
        "INTERNAL",
        f"'{HEX16}'",
        "{'ai.trace.type': 'tool-invocation', 'ai.tool.input': 'Hello, world!', "
        f"'ai.tool.output': 'World, hello!', 'ai.conversation.id': {cid}, "
        "'ai.auth.context': 'user456'}",
    )
    expected = (
        f"{child}\n{parent_human}\n==== from DynamoDB: ====\n{parent_repr}\n\n{child_repr}\n\n"
    )
    assert re.fullmatch(expected, out), out


def test_cells_15_and_16_traced_functions_nest(
    cells: _Cells,
) -> None:
    """Cells 15-16: @traced spans with no resource attributes, the child under the parent."""
    assert cells.output[15] == ""
    out = cells.output[16]
    parent = repr_pattern("parent", "INTERNAL", "None", "{}", resource="{}")
    child = repr_pattern("child", "INTERNAL", "'(?P<pid>[0-9a-f]{16})'", "{}", resource="{}")
    match = re.fullmatch(f"{parent}\n{child}\n", out)
    assert match, out
    assert match["pid"] == match["parent_span"]


def test_cell_17_current_trace_inside_traced_functions(
    cells: _Cells,
) -> None:
    """Cell 17: attributes added through current_trace; the child inherits foo after its own."""
    out = cells.output[17]
    parent = repr_pattern("parent", "INTERNAL", "None", "{'foo': 'bar'}", resource="{}")
    child = repr_pattern(
        "child", "INTERNAL", f"'{HEX16}'", "{'bar': 'foo', 'foo': 'bar'}", resource="{}"
    )
    assert re.fullmatch(f"{parent}\n{child}\n", out), out


def test_cell_18_bare_traced_uses_the_objects_tracer_and_method_names(
    cells: _Cells,
) -> None:
    """Cell 18: bare @traced on methods of an object with a `tracer` property."""
    out = cells.output[18]
    parent = repr_pattern("parent_method", "INTERNAL", "None", "{'foo': 'bar'}", resource="{}")
    child = repr_pattern(
        "child_method", "INTERNAL", f"'{HEX16}'", "{'bar': 'foo', 'foo': 'bar'}", resource="{}"
    )
    assert re.fullmatch(f"{parent}\n{child}\n", out), out


def test_cell_19_own_tracer_implements_only_persist(
    cells: _Cells,
) -> None:
    """Cell 19: a BaseTracer subclass with only persist(); the service name is missing."""
    out = cells.output[19]
    assert re.fullmatch(
        rf"\[{HEX32}/root/{HEX16}\] <missing service\.name> INTERNAL {ISO_MS} - span\n\n", out
    ), out


SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_00ed07e217fcd0eb.txt"


@pytest.mark.skipif(not SEED.exists(), reason="the notebook lies beside the checkout, in shared/")
def test_the_cells_are_the_notebooks_own_text() -> None:
    """Every cell the tests run stands verbatim in the notebook (cell 6 after its `!`)."""
    text = SEED.read_text()
    cells = {name: value for name, value in vars(notebook).items() if name.startswith("CELL_")}
    assert 17 == len(cells)
    for name, cell in cells.items():
        assert (("!" if name == "CELL_6" else "") + cell) in text, name


def test_cell_8_writes_the_adot_collector_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cell 8 writes adot-config.yaml: an OTLP/HTTP receiver on 4318, on to X-Ray."""
    monkeypatch.chdir(tmp_path)
    exec(notebook.CELL_8, {})
    config = (tmp_path / "adot-config.yaml").read_text()
    assert "endpoint: 0.0.0.0:4318" in config
    assert "exporters: [awsxray]" in config
