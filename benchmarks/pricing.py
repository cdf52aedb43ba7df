"""Pricing evaluations per second through the product's pricing call, against raw zen-engine in the same run.

"Product call" is what a dossier pays for a price: the dotted answers turned into the decision context (with exact
ages), the keyed evaluation with its trace, the fired rows collected, and the breakdown in integer cents.
"Raw" is zen-engine's keyed `evaluate` on the same graph and the same prepared context, without trace.
Target (issue 3): the product call at least half as fast as raw.

    .venv/bin/python benchmarks/pricing.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import zen

from souscription.products.catalog import BUILT_IN, Catalog
from souscription.products.pricing import price_breakdown
from souscription.products.rules import RuleEngine, decision_context

TODAY = date(2026, 11, 21)
SAMPLE = Path(__file__).parents[1] / "tests" / "data" / "answers" / "garantie_automobile.json"
CAR = json.loads(SAMPLE.read_text(encoding="utf-8"))


def rate(call: Callable[[], object], seconds: float) -> float:
    for _ in range(200):
        call()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(200):
            call()
        count += 200
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    catalog = Catalog.load(BUILT_IN)
    engine = RuleEngine(catalog)
    version = catalog.effective("garantie_automobile", on=TODAY)
    key = version.decision_key("pricing")
    context = decision_context(version.definition, CAR, today=TODAY)

    def product_call() -> object:
        decision = engine.decide(version, "pricing", CAR, today=TODAY)
        return price_breakdown(decision.result, frequency="monthly")

    raw_engine = zen.ZenEngine({"loader": {"type": "static", "content": catalog.decision_contents()}})
    raw = rate(lambda: raw_engine.evaluate(key, context), args.seconds)
    ours = rate(product_call, args.seconds)
    print(f"raw zen-engine keyed evaluate, no trace : {raw:,.0f} evaluations/s")
    print(f"product pricing call (trace, breakdown) : {ours:,.0f} evaluations/s")
    print(f"ratio product/raw                       : {ours / raw:.2f} (target >= 0.50)")


if __name__ == "__main__":
    main()
