"""Token and cost totals in gat-traces: ``list`` columns, ``list --json`` numbers, ``show``
per turn and per conversation, and pricing files (``--pricing``, ``GAT_PRICING``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generative_ai_toolkit.tracer import SqliteTracer
from values.test_rollups_everywhere import SPANS

from .conftest import Run

PRICING = """
currency = "USD"
per = 1000000
date = "2026-03-01"

[models."anthropic.claude-sonnet"]
input = 3
output = 15
cache_read = 0.3
cache_write = 3.75

[models."amazon.nova-lite-v1:0"]
input = 0.06
output = 0.24
"""


@pytest.fixture
def usage_db(tmp_path: Path) -> Path:
    """Conversation c-1 (two turns, known, unknown and model-less LLM calls) and c-2 (none)."""
    path = tmp_path / "usage.sqlite3"
    tracer = SqliteTracer(path)
    for span in SPANS:
        tracer.persist(span)
    tracer.shutdown()
    return path


@pytest.fixture
def pricing_file(tmp_path: Path) -> Path:
    path = tmp_path / "pricing.toml"
    path.write_text(PRICING, encoding="utf-8")
    return path


def _rows(text: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in text.splitlines()}


def test_list_has_a_tokens_column_and_a_cost_column_with_pricing(
    run: Run, usage_db: Path, pricing_file: Path
) -> None:
    """TOKENS always; COST with a pricing table, ``>=`` when part is unpriced, ``-`` for none."""
    plain = _rows(run("list", "--db", str(usage_db)).stdout)
    assert ["TOKENS"] == plain["CONVERSATION"][-1:]
    assert ("698", "-") == (plain["c-1"][-1], plain["c-2"][-1])
    result = run("list", "--db", str(usage_db), "--pricing", str(pricing_file))
    assert result.returncode == 0, result.stderr
    priced = _rows(result.stdout)
    assert ["TOKENS", "COST"] == priced["CONVERSATION"][-2:]
    assert ["698", ">=0.001396", "USD"] == priced["c-1"][-3:]
    assert ["-", "-"] == priced["c-2"][-2:]


def test_list_json_carries_numbers(run: Run, usage_db: Path, pricing_file: Path) -> None:
    """Usage, usage per model and cost are JSON numbers (and the cost's flags), never text."""
    result = run("list", "--db", str(usage_db), "--json", env={"GAT_PRICING": str(pricing_file)})
    rows = {row["conversation_id"]: row for row in map(json.loads, result.stdout.splitlines())}
    c1 = rows["c-1"]
    assert {
        "input_tokens": 158,
        "output_tokens": 40,
        "total_tokens": 698,
        "cache_read_tokens": 400,
        "cache_write_tokens": 100,
        "llm_calls": 5,
    } == c1["usage"]
    assert 7 == c1["usage_by_model"]["amazon.nova-lite-v1:0"]["input_tokens"]
    assert {"currency": "USD", "partial": True, "unpriced_models": ["", "unknown.model"]} == {
        k: v for k, v in c1["cost"].items() if k != "amount"
    }
    assert pytest.approx(0.001395 + 0.00000114) == c1["cost"]["amount"]
    assert (0, None) == (rows["c-2"]["usage"]["total_tokens"], rows["c-2"]["cost"])


def test_show_prints_the_conversation_total_and_each_turns(
    run: Run, usage_db: Path, pricing_file: Path
) -> None:
    """The header's total, then each trace line with its turn's tokens and cost."""
    result = run("show", "c-1", "--db", str(usage_db), "--pricing", str(pricing_file))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        "Total: tokens 698 (in 158, out 40, cache read 400, cache write 100), "
        "cost >=0.001396 USD" == lines[1]
    )
    traces = [line for line in lines if line.startswith("trace ")]
    assert traces[0].endswith(
        "tokens 680 (in 150, out 30, cache read 400, cache write 100), cost 0.001395 USD"
    )
    assert traces[1].endswith("tokens 18 (in 8, out 10), cost >=0.000001 USD")
    unpriced = run("show", "c-1", "--db", str(usage_db)).stdout.splitlines()
    assert "Total: tokens 698 (in 158, out 40, cache read 400, cache write 100)" == unpriced[1]


@pytest.mark.parametrize("command", ["list", "show c-1", "serve --port 0"])
def test_a_bad_pricing_file_is_one_line_and_exit_2(
    run: Run, usage_db: Path, tmp_path: Path, command: str
) -> None:
    """Named file, what is wrong, status 2; from --pricing and from GAT_PRICING alike."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {"m": {"input": 1}}}', encoding="utf-8")
    args = [*command.split(), "--db", str(usage_db)]
    for result in (
        run(*args, "--pricing", str(bad)),
        run(*args, env={"GAT_PRICING": str(bad)}),
    ):
        assert 2 == result.returncode
        assert (
            f"gat-traces: error: pricing file {bad}: model 'm': output price missing\n"
            == result.stderr
        )
        assert "" == result.stdout
