"""Pricing tables: read from a dict, JSON or TOML, refused in one line naming the file, and
costs that never guess a price."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generative_ai_toolkit.tracer import Usage
from generative_ai_toolkit.tracer.pricing import (
    PRICING_ENV,
    Cost,
    ModelPrice,
    Pricing,
    PricingError,
)

TOML = """
currency = "EUR"
per = 1000
date = "2026-01-15"

[models."amazon.nova-lite-v1:0"]
input = 0.00006
output = 0.00024
"""


def test_a_toml_file_and_a_json_file_give_the_same_table(tmp_path: Path) -> None:
    """Keys, ``per`` (1000 here) and currency are read from either form."""
    toml = tmp_path / "p.toml"
    toml.write_text(TOML, encoding="utf-8")
    json_file = tmp_path / "p.json"
    json_file.write_text(
        '{"currency": "EUR", "per": 1000, "models": {"amazon.nova-lite-v1:0": '
        '{"input": 0.00006, "output": 0.00024}}}',
        encoding="utf-8",
    )
    expected = {"amazon.nova-lite-v1:0": ModelPrice(0.00006, 0.00024, None, None, 1000)}
    assert expected == Pricing.load(toml).models == Pricing.load(json_file).models
    assert "EUR" == Pricing.load(toml).currency


def test_cost_per_thousand_and_per_million_agree() -> None:
    """The same prices given per 1,000 and per 1,000,000 tokens cost the same."""
    usage = {"m": Usage(input_tokens=2000, output_tokens=1000)}
    per_k = Pricing.from_dict({"per": 1000, "models": {"m": {"input": 0.003, "output": 0.015}}})
    per_m = Pricing.from_dict({"models": {"m": {"input": 3, "output": 15}}})
    assert Cost(0.021, "USD") == per_k.cost(usage) == per_m.cost(usage)


def test_cache_tokens_without_a_cache_price_make_the_cost_partial() -> None:
    """Input and output are priced; the cache tokens are not guessed."""
    table = Pricing.from_dict({"models": {"m": {"input": 1, "output": 1}}})
    cost = table.cost({"m": Usage(1_000_000, 0, 1_000_000, cache_read_tokens=5)})
    assert Cost(1.0, "USD", True, ("m",)) == cost


def test_only_unknown_models_have_no_cost() -> None:
    """No price, no cost: ``None`` rather than 0."""
    table = Pricing.from_dict({"models": {"m": {"input": 1, "output": 1}}})
    assert table.cost({"other": Usage(10, 10, 20)}) is None
    assert table.cost(()) is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "expected a table with 'models', not a list"),
        ({"models": {}}, "'models' must map model ids to prices"),
        ({"models": {"m": {"input": 1}}}, "model 'm': output price missing"),
        ({"models": {"m": {"input": -1, "output": 1}}}, "input must be a number >= 0"),
        ({"models": {"m": {"input": "1", "output": 1}}}, "input must be a number >= 0"),
        ({"models": {"m": {"input": 1, "output": 1, "cache": 1}}}, "unknown key 'cache'"),
        ({"per": 1_000_000_000, "models": {"m": {"input": 1, "output": 1}}}, "per must be"),
        ({"currency": "", "models": {"m": {"input": 1, "output": 1}}}, "currency must be"),
        ({"modles": {}}, "unknown key 'modles'"),
    ],
)
def test_bad_tables_are_refused_naming_the_problem(data: Any, problem: str) -> None:
    """Each mistake is one ``PricingError`` line."""
    with pytest.raises(PricingError, match=f"^pricing: .*{problem}") as raised:
        Pricing.from_dict(data)
    assert "\n" not in str(raised.value)


def test_a_bad_file_is_named_in_its_error(tmp_path: Path) -> None:
    """Unreadable, malformed and wrong files: one line with the file's path."""
    missing = tmp_path / "missing.json"
    broken = tmp_path / "broken.toml"
    broken.write_text("models = [", encoding="utf-8")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"models": {"m": {"input": 1}}}', encoding="utf-8")
    for path, problem in [
        (missing, "cannot read it"),
        (broken, "not valid TOML"),
        (wrong, "output price missing"),
    ]:
        with pytest.raises(PricingError) as raised:
            Pricing.load(path)
        assert str(raised.value).startswith(f"pricing file {path}: ")
        assert problem in str(raised.value)
        assert "\n" not in str(raised.value)


def test_the_environment_names_the_file(tmp_path: Path) -> None:
    """``GAT_PRICING`` is a path; unset or empty means no pricing."""
    path = tmp_path / "p.toml"
    path.write_text(TOML, encoding="utf-8")
    loaded = Pricing.from_env({PRICING_ENV: str(path)})
    assert loaded is not None
    assert Pricing.from_env({}) is None
    assert Pricing.from_env({PRICING_ENV: ""}) is None


def test_an_inference_profile_takes_its_models_price_unless_it_has_its_own() -> None:
    """``us.anthropic...`` costs what ``anthropic...`` does; a listed profile keeps its own."""
    pricing = Pricing.from_dict(
        {
            "models": {
                "anthropic.claude-x-v1:0": {"input": 3, "output": 15},
                "global.anthropic.claude-x-v1:0": {"input": 2, "output": 10},
            }
        }
    )
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert 18 == pricing.cost({"us.anthropic.claude-x-v1:0": usage}).amount  # type: ignore[union-attr]
    assert 12 == pricing.cost({"global.anthropic.claude-x-v1:0": usage}).amount  # type: ignore[union-attr]
    assert pricing.price("mars.anthropic.claude-x-v1:0") is None  # not a geography
    assert pricing.price("claude-x-v1:0") is None
