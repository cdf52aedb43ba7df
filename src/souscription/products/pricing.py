"""The price and its breakdown, from what the pricing graph decided: base, each factor, tax, instalments.

Money is integer cents and coefficients are decimals written as strings in the graphs, so the same inputs give
the same price to the cent on every machine. Rounding: half up, once per line, as a printed offer shows it.
Pure: no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

INSTALMENTS = {"annual": 1, "monthly": 12}


class PricingResultInvalid(ValueError):
    """The pricing graph returned something that is not a price (a configuration error, not the customer's)."""


@dataclass(frozen=True)
class FactorLine:
    name: str
    multiplier: Decimal
    effect_cents: int


@dataclass(frozen=True)
class PriceBreakdown:
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
    if frequency not in INSTALMENTS:
        raise PricingResultInvalid(f"unknown billing frequency {frequency!r}")
    try:
        base = int(result["base_cents"])
        factors = [(str(f["name"]), Decimal(str(f["multiplier"]))) for f in result.get("factors", [])]
        tax_rate = Decimal(str(result["tax_rate"]))
        tax_label = str(result["tax_label"])
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise PricingResultInvalid(f"pricing result unusable: {error!r}") from None
    lines, running = [], Decimal(base)  # `running` is whole cents at every turn: each factor's effect is rounded
    for name, multiplier in factors:
        updated = _cents(running * multiplier)
        lines.append(FactorLine(name=name, multiplier=multiplier, effect_cents=int(updated - running)))
        running = updated
    premium = int(running)
    tax = int(_cents(Decimal(premium) * tax_rate))
    total = premium + tax
    return PriceBreakdown(
        base_cents=base,
        factors=tuple(lines),
        premium_before_tax_cents=premium,
        tax_label=tax_label,
        tax_rate=tax_rate,
        tax_cents=tax,
        total_cents=total,
        frequency=frequency,
        instalment_cents=int(_cents(Decimal(total) / INSTALMENTS[frequency])),
    )


_ONE_CENT = Decimal(1)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_ONE_CENT, rounding=ROUND_HALF_UP)
