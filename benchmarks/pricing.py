"""Pricing evaluations per second through the product's pricing call, against raw zen-engine in the same run.

"Product call" is what a dossier pays for a price: the dotted answers turned into the decision context (with exact
ages), the keyed evaluation that records which rows fired, and the breakdown in integer cents.
"Raw" is zen-engine's keyed `evaluate` on the same graph as written and the same prepared context, without trace
(the product's engine adds its `_fired` column to each table: that cost is the product's, see `products/rules.py`).
Both calls are timed in alternating slices and the medians are printed, so that both see the same machine load;
the ratio is the median of the per-round ratios. Target (issue 3): the product call at least half as fast as raw.

    .venv/bin/python benchmarks/pricing.py [--seconds 3] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def rates(calls: dict[str, Callable[[], object]], *, seconds: float, rounds: int) -> dict[str, list[float]]:
    """Evaluations per second of each call, measured in alternating slices (the order swapped every round) so that
    every call sees the same machine load."""
    for call in calls.values():
        for _ in range(500):
            call()
    measured: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(rounds):
        for name, call in list(calls.items())[:: 1 if round_ % 2 == 0 else -1]:
            count, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < seconds / rounds:
                for _ in range(100):
                    call()
                count += 100
            measured[name].append(count / elapsed)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent on each call, over all rounds")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    catalog = Catalog.load(BUILT_IN)
    engine = RuleEngine(catalog)
    version = catalog.effective("garantie_automobile", on=TODAY)
    key = version.decision_key("pricing")
    context = decision_context(version.definition, CAR, today=TODAY)
    raw_engine = zen.ZenEngine({"loader": {"type": "static", "content": catalog.decision_contents()}})

    def raw_call() -> object:
        return raw_engine.evaluate(key, context)

    def product_call() -> object:
        decision = engine.decide(version, "pricing", CAR, today=TODAY)
        return price_breakdown(decision.result, frequency="monthly")

    decision = engine.decide(version, "pricing", CAR, today=TODAY)
    assert decision.result == raw_engine.evaluate(key, context)["result"], "not the same decision"
    assert decision.inputs == context, "not the same context"
    assert decision.fired, "no trace"
    measured = rates({"raw": raw_call, "product": product_call}, seconds=args.seconds, rounds=args.rounds)
    raw, ours = statistics.median(measured["raw"]), statistics.median(measured["product"])
    ratio = statistics.median(p / r for p, r in zip(measured["product"], measured["raw"], strict=True))
    print(f"raw zen-engine keyed evaluate, no trace : {raw:,.0f} evaluations/s")
    print(f"product pricing call (trace, breakdown) : {ours:,.0f} evaluations/s")
    print(f"ratio product/raw                       : {ratio:.2f} (target >= 0.50)")


if __name__ == "__main__":
    main()
