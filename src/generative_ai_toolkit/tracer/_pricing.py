"""Cost from token usage and a pricing table the user supplies: ``Pricing``, ``Cost``.

A pricing table maps model ids (``ai.llm.request.model.id``, matched exactly) to prices per
``per`` tokens (1,000 or 1,000,000) in one currency. Nothing is ever guessed: a model that is
not in the table has no cost, and a cost that leaves tokens unpriced says so (``partial``).
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

#: Path of a pricing file used when none is passed (CLI, viewer).
PRICING_ENV: Final = "GAT_PRICING"
_PERS: Final = (1_000, 1_000_000)
_PRICE_KEYS: Final = ("input", "output", "cache_read", "cache_write")
#: Costs are rounded to this many decimal places (beyond any real price's precision).
_DIGITS: Final = 10


#: The geographic prefixes of Bedrock's cross-region inference profile ids.
INFERENCE_PROFILE_PREFIXES: Final = frozenset(
    {"us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"}
)


class PricingError(ValueError):
    """A pricing table that cannot be used; the message names the file (or ``pricing``) and
    what is wrong, on one line."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model per ``per`` tokens; ``None`` where the table gives none."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    per: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Cost:
    """What token usage cost: ``amount`` in ``currency`` for the priced tokens.

    ``partial`` is true when some tokens had no price (a model missing from the table, or cache
    tokens of a model without cache prices); ``unpriced_models`` names those models (``""``
    for LLM calls that named no model). ``amount`` is then the cost of the priced part only.
    """

    amount: float
    currency: str
    partial: bool = False
    unpriced_models: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The cost as JSON-ready numbers and text."""
        return {
            "amount": self.amount,
            "currency": self.currency,
            "partial": self.partial,
            "unpriced_models": list(self.unpriced_models),
        }


class Pricing:
    """A pricing table: model id -> ``ModelPrice``, all in one ``currency``.

    Build one from a dict (``Pricing.from_dict``), a JSON or TOML file (``Pricing.load``) or
    the file named by ``$GAT_PRICING`` (``Pricing.from_env``). Immutable; thread-safe.
    """

    def __init__(self, models: Mapping[str, ModelPrice], *, currency: str = "USD") -> None:
        self._models = dict(models)
        self.currency = currency

    def __repr__(self) -> str:
        return f"Pricing({len(self._models)} models, currency={self.currency!r})"

    @property
    def models(self) -> dict[str, ModelPrice]:
        """The table (a copy)."""
        return dict(self._models)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "pricing") -> Pricing:
        """A table from its dict form (what a pricing file holds)::

            {"currency": "USD", "per": 1000000,
             "models": {"amazon.nova-lite-v1:0": {"input": 0.06, "output": 0.24}}}

        ``per`` (1000 or 1000000, default 1000000) may also be given per model;
        ``cache_read`` and ``cache_write`` are optional. Raises ``PricingError`` naming
        ``source``.
        """
        if not isinstance(data, Mapping):
            raise PricingError(f"{source}: expected a table with 'models', not {_kind(data)}")
        unknown = sorted(set(data) - {"currency", "per", "models", "date", "note"})
        if unknown:
            raise PricingError(f"{source}: unknown key {unknown[0]!r} (use currency, per, models)")
        currency = data.get("currency", "USD")
        if not isinstance(currency, str) or not currency.strip():
            raise PricingError(f"{source}: currency must be text like 'USD', not {currency!r}")
        per = _per(data.get("per", 1_000_000), source)
        models = data.get("models")
        if not isinstance(models, Mapping) or not models:
            raise PricingError(f"{source}: 'models' must map model ids to prices")
        return cls(
            {
                str(model): _price(price, per, f"{source}: model {model!r}")
                for model, price in models.items()
            },
            currency=currency.strip(),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Pricing:
        """A table from a ``.json`` or ``.toml`` file; ``PricingError`` naming the file."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise PricingError(f"pricing file {file}: cannot read it: {reason}") from None
        try:
            data: Any = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            form = "TOML" if file.suffix.lower() == ".toml" else "JSON"
            raise PricingError(f"pricing file {file}: not valid {form}: {exc}") from None
        return cls.from_dict(data, source=f"pricing file {file}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Pricing | None:
        """The table in the file ``$GAT_PRICING`` names; ``None`` when it is unset or empty."""
        path = (os.environ if environ is None else environ).get(PRICING_ENV, "")
        return cls.load(path) if path.strip() else None

    def price(self, model: str) -> ModelPrice | None:
        """The prices of ``model``, or ``None``: its own, else, for a Bedrock cross-region
        inference profile (``us.anthropic.claude-...``, ``eu.``, ``apac.``, ``global.`` ...),
        those of the model it routes to (``anthropic.claude-...``)."""
        price = self._models.get(model)
        if price is None:
            geography, dot, routed = model.partition(".")
            if dot and geography in INFERENCE_PROFILE_PREFIXES:
                price = self._models.get(routed)
        return price

    def cost(self, usage_by_model: Iterable[tuple[str, Any]] | Mapping[str, Any]) -> Cost | None:
        """What ``usage_by_model`` (model id -> ``Usage``, as pairs or a dict) cost; ``None``
        when no model in it has a price (including no usage at all): unknown models show tokens
        and no cost."""
        # The listed rows' pairs are a tuple: spare them the (slower) ABC check for a Mapping.
        items = (
            usage_by_model
            if type(usage_by_model) is tuple or not isinstance(usage_by_model, Mapping)
            else usage_by_model.items()
        )
        amount = 0.0
        priced = False
        unpriced: list[str] = []
        models = self._models
        for model, usage in items:
            price = models.get(model) or self.price(model)
            if price is None:
                unpriced.append(model)
                continue
            priced = True
            # Spelled out, not looped over field names: this runs for every listed row.
            part = usage.input_tokens * price.input + usage.output_tokens * price.output
            complete = True
            for tokens, rate in (
                (usage.cache_read_tokens, price.cache_read),
                (usage.cache_write_tokens, price.cache_write),
            ):
                if tokens and rate is None:
                    complete = False
                elif tokens:
                    part += tokens * rate
            amount += part / price.per
            if not complete:
                unpriced.append(model)
        if not priced:
            return None
        return Cost(round(amount, _DIGITS), self.currency, bool(unpriced), tuple(unpriced))


#: What ``pricing=`` options accept: a table, its dict form, or the path of a file.
PricingSource: TypeAlias = Pricing | Mapping[str, Any] | str | os.PathLike[str] | None


def as_pricing(source: PricingSource) -> Pricing | None:
    """``source`` as a ``Pricing``: a table as is, a dict via ``from_dict``, a path via
    ``load``; ``None`` stays ``None`` (no cost)."""
    if source is None or isinstance(source, Pricing):
        return source
    if isinstance(source, Mapping):
        return Pricing.from_dict(source)
    return Pricing.load(source)


def _kind(value: Any) -> str:
    return f"a {type(value).__name__}"


def _per(value: Any, source: str) -> int:
    if type(value) is not int or value not in _PERS:
        raise PricingError(f"{source}: per must be 1000 or 1000000 (tokens), not {value!r}")
    return value


def _price(value: Any, per: int, source: str) -> ModelPrice:
    if not isinstance(value, Mapping):
        raise PricingError(f"{source}: expected a table of prices, not {_kind(value)}")
    unknown = sorted(set(value) - {*_PRICE_KEYS, "per"})
    if unknown:
        raise PricingError(
            f"{source}: unknown key {unknown[0]!r} "
            "(use input, output, cache_read, cache_write, per)"
        )
    rates: dict[str, float | None] = {}
    for key in _PRICE_KEYS:
        rate = value.get(key)
        if rate is None and key in ("input", "output"):
            raise PricingError(f"{source}: {key} price missing")
        if rate is not None and (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not math.isfinite(rate)
            or rate < 0
        ):
            raise PricingError(f"{source}: {key} must be a number >= 0, not {rate!r}")
        rates[key] = None if rate is None else float(rate)
    return ModelPrice(
        input=rates["input"] or 0.0,
        output=rates["output"] or 0.0,
        cache_read=rates["cache_read"],
        cache_write=rates["cache_write"],
        per=_per(value.get("per", per), source),
    )
