"""The price and its breakdown, from what the pricing graph decided: base, each factor, tax, instalments.

Money is integer cents and coefficients are decimals written as strings in the graphs, so the same inputs give
the same price to the cent on every machine. Rounding: half up, once per line, as a printed offer shows it.
Pure: no Django, no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

INSTALMENTS = {"annual": 1, "monthly": 12}


class PricingResultInvalid(ValueError):
    """The pricing graph returned something that is not a price (a configuration error, not the customer's)."""


class FactorLine(NamedTuple):
    name: str
    multiplier: Decimal
    effect_cents: int


class PriceBreakdown(NamedTuple):
    """Immutable; a named tuple rather than a frozen dataclass because a price is built on every quote and a frozen
    dataclass's constructor costs as much as the whole arithmetic (measured by `benchmarks/pricing.py`)."""

    base_cents: int
    factors: tuple[FactorLine, ...]
    premium_before_tax_cents: int
    tax_label: str
    tax_rate: Decimal
    tax_cents: int
    total_cents: int
    frequency: str
    instalment_cents: int
    currency: str = "EUR"

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "base_cents": self.base_cents,
            "factors": [
                {"name": f.name, "multiplier": str(f.multiplier), "effect_cents": f.effect_cents} for f in self.factors
            ],
            "premium_before_tax_cents": self.premium_before_tax_cents,
            "tax": {"label": self.tax_label, "rate": str(self.tax_rate), "amount_cents": self.tax_cents},
            "total_cents": self.total_cents,
            "frequency": self.frequency,
            "instalment_cents": self.instalment_cents,
        }


def price_breakdown(result: Mapping[str, Any], *, frequency: str) -> PriceBreakdown:
    instalments = INSTALMENTS.get(frequency)
    if instalments is None:
        raise PricingResultInvalid(f"unknown billing frequency {frequency!r}")
    lines, running = [], 0  # `running` is whole cents at every turn: each factor's effect is rounded
    try:
        base = running = int(result["base_cents"])
        for factor in result.get("factors", ()):
            multiplier, numerator, denominator = _coefficient(str(factor["multiplier"]))
            updated = _rounded(running * numerator, denominator)
            lines.append(FactorLine(str(factor["name"]), multiplier, updated - running))
            running = updated
        tax_rate, tax_numerator, tax_denominator = _coefficient(str(result["tax_rate"]))
        tax_label = str(result["tax_label"])
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise PricingResultInvalid(f"pricing result unusable: {error!r}") from None
    tax = _rounded(running * tax_numerator, tax_denominator)
    total = running + tax
    return PriceBreakdown(
        base_cents=base,
        factors=tuple(lines),
        premium_before_tax_cents=running,
        tax_label=tax_label,
        tax_rate=tax_rate,
        tax_cents=tax,
        total_cents=total,
        frequency=frequency,
        instalment_cents=_rounded(total, instalments),
    )


@functools.lru_cache(maxsize=1024)
def _coefficient(text: str) -> tuple[Decimal, int, int]:
    """A coefficient as written in a graph ("1.15"), with its exact ratio: cents times a coefficient is then integer
    arithmetic, exact like Decimal and several times cheaper (graphs repeat the same few coefficients)."""
    value = Decimal(text)
    numerator, denominator = value.as_integer_ratio()  # ValueError for NaN, OverflowError for infinity
    return value, numerator, denominator


def _rounded(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest whole cent, halves away from zero (ROUND_HALF_UP); denominator > 0."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient
