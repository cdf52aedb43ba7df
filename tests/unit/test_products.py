"""Products are configuration: definitions, answer checks, decisions with traces, prices with their breakdown."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zen

from souscription.products.catalog import BUILT_IN, Catalog, ProductVersion, UnknownProduct
from souscription.products.domain import InvalidDefinition, check_answers, missing_fields, parse_definition
from souscription.products.pricing import PricingResultInvalid, price_breakdown
from souscription.products.rules import RuleEngine, decision_context, whole_years

TODAY = date(2026, 11, 21)
TEST_PRODUCTS = Path(__file__).parents[1] / "data" / "products"
CATALOG = Catalog.load(BUILT_IN, TEST_PRODUCTS)
ENGINE = RuleEngine(CATALOG)

SAMPLE_ANSWERS = Path(__file__).parents[1] / "data" / "answers"
CAR = json.loads((SAMPLE_ANSWERS / "garantie_automobile.json").read_text(encoding="utf-8"))
HEALTH = {
    "insured.birth_date": "1980-05-05",
    "insured.sex": "F",
    "insured.profession": "Couvreuse",
    "insured.profession_risk": "a_risque",
    "health.tobacco": True,
    "health.cigarettes_per_day": 10,
    "health.alcohol_units_per_week": 3,
    "health.chronic_disease": False,
    "cover.capital_eur": 150_000,
    "customer.first_name": "Inès",
    "customer.last_name": "Durand",
    "customer.email": "ines@exemple.fr",
    "customer.phone": "0612345678",
    "customer.country": "FR",
    "billing.frequency": "annual",
    "billing.account_holder": "Inès Durand",
    "billing.iban": "FR1420041010050500013M02606",
}


def version(product: str) -> object:
    return CATALOG.effective(product, on=TODAY)


def fired(product: str, decision: str, answers: dict[str, object]) -> list[str]:
    return [rule.rule_id for rule in ENGINE.decide(version(product), decision, answers, today=TODAY).fired]


def test_the_catalogue_holds_the_two_built_in_products_and_the_test_one() -> None:
    assert CATALOG.products() == ["assurance_velo", "garantie_automobile", "prevoyance_individuelle"]
    assert Catalog.load(BUILT_IN).products() == ["garantie_automobile", "prevoyance_individuelle"]


def test_only_the_health_product_asks_health_questions() -> None:
    health_fields = {s.name for s in version("prevoyance_individuelle").definition.fields() if s.sensitive == "health"}
    assert health_fields >= {"health.tobacco", "health.alcohol_units_per_week", "health.chronic_disease"}
    assert not [s for s in version("garantie_automobile").definition.fields() if s.sensitive == "health"]


def test_complete_valid_answers_raise_no_problem() -> None:
    for product, answers in (("garantie_automobile", CAR), ("prevoyance_individuelle", HEALTH)):
        definition = version(product).definition
        assert check_answers(definition, answers, today=TODAY) == []
        assert missing_fields(definition, answers) == ()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("vehicle.registration", "AB123CD", "invalid_string"),
        ("vehicle.mileage_km", -1, "invalid_integer"),
        ("vehicle.mileage_km", "beaucoup", "invalid_integer"),
        ("vehicle.power_hp", True, "invalid_integer"),
        ("vehicle.fuel", "charbon", "invalid_choice"),
        ("driver.birth_date", "21/11/2003", "invalid_date"),
        ("driver.birth_date", "2030-01-01", "invalid_date"),
        ("customer.email", "lea@", "invalid_email"),
        ("customer.country", "France", "invalid_country"),
        ("vehicle.colour", "rouge", "unknown_field"),
    ],
)
def test_each_wrong_answer_names_its_field_with_a_stable_code(field: str, value: object, code: str) -> None:
    problems = check_answers(version("garantie_automobile").definition, {**CAR, field: value}, today=TODAY)
    assert [(p.field, p.code) for p in problems] == [(field, code)]
    assert problems[0].message


def test_the_registration_format_error_tells_the_expected_format() -> None:
    [problem] = check_answers(version("garantie_automobile").definition, {"vehicle.registration": "x"}, today=TODAY)
    assert "AB-123-CD" in problem.message


def test_conditional_fields_are_required_only_when_their_condition_holds() -> None:
    car = version("garantie_automobile").definition
    assert missing_fields(car, CAR) == ()
    assert missing_fields(car, {**CAR, "vehicle.fuel": "electrique"}) == ("vehicle.battery_warranty_end",)
    health = version("prevoyance_individuelle").definition
    assert missing_fields(health, {**HEALTH, "health.cigarettes_per_day": None}) == ("health.cigarettes_per_day",)
    assert missing_fields(health, {**HEALTH, "health.tobacco": False, "health.cigarettes_per_day": None}) == ()


def test_eligibility_refusals_are_traced_to_the_rows_that_fired() -> None:
    answers = {**CAR, "vehicle.first_registration": "2010-01-01", "customer.country": "BE"}
    decision = ENGINE.decide(version("garantie_automobile"), "eligibility", answers, today=TODAY)
    assert [r["reason"] for r in decision.result["refusals"]] == [
        "Le véhicule a plus de 10 ans.",
        "Ce produit est réservé aux résidents en France.",
    ]
    trace = decision.as_trace()
    assert trace["rule_set"] == "garantie_automobile/2026.1/eligibility"
    assert [f["rule"] for f in trace["fired"]] == ["auto-elig-age", "auto-elig-country"]
    assert trace["inputs"]["vehicle"]["first_registration_years"] == 16
    assert trace["inputs"]["customer"]["country"] == "BE"


def test_health_answers_send_the_dossier_to_underwriting() -> None:
    assert fired("prevoyance_individuelle", "referral", HEALTH) == ["prev-ref-tobacco"]
    sober = {**HEALTH, "health.tobacco": False, "health.cigarettes_per_day": None}
    assert fired("prevoyance_individuelle", "referral", sober) == []
    heavy = {**sober, "health.alcohol_units_per_week": 20, "health.chronic_disease": True}
    assert fired("prevoyance_individuelle", "referral", heavy) == ["prev-ref-alcohol", "prev-ref-disease"]


def test_ages_are_whole_years_exact_on_the_birthday() -> None:
    assert whole_years(date(2000, 11, 21), TODAY) == 26
    assert whole_years(date(2000, 11, 22), TODAY) == 25
    assert whole_years(date(2008, 2, 29), date(2026, 2, 28)) == 17
    minor = {**CAR, "driver.birth_date": "2008-11-22"}
    assert fired("garantie_automobile", "eligibility", minor) == ["auto-elig-driver"]
    assert fired("garantie_automobile", "eligibility", {**CAR, "driver.birth_date": "2008-11-21"}) == []


BIKE = {
    "bike.value_eur": 9_000,
    "bike.electric": True,
    "bike.battery_serial": "BAT123456",
    "owner.birth_date": "1990-01-01",
    "billing.frequency": "annual",
}
DOSSIERS = [
    ("garantie_automobile", CAR),
    ("garantie_automobile", {**CAR, "vehicle.first_registration": "2010-01-01", "customer.country": "BE"}),
    ("garantie_automobile", {**CAR, "driver.birth_date": "2008-11-22", "vehicle.mileage_km": 300_000}),
    ("garantie_automobile", {**CAR, "vehicle.fuel": "electrique", "vehicle.power_hp": 200}),
    ("garantie_automobile", {**CAR, "vehicle.power_hp": 60, "driver.license_date": "2025-01-01"}),
    ("prevoyance_individuelle", HEALTH),
    ("prevoyance_individuelle", {**HEALTH, "insured.birth_date": "2010-01-01", "customer.country": "BE"}),
    ("prevoyance_individuelle", {**HEALTH, "health.alcohol_units_per_week": 20, "cover.capital_eur": 900_000}),
    ("assurance_velo", BIKE),
    ("assurance_velo", {**BIKE, "bike.electric": False, "bike.value_eur": 500, "owner.birth_date": "2012-01-01"}),
]


def _traced_by_zen(key: str, context: dict[str, object]) -> tuple[object, list[tuple[str, str, str]]]:
    """The reference: zen's own trace of the graph as written (what `decide` recorded before it read the rows from
    the result), and zen's result without trace."""
    plain = zen.ZenEngine({"loader": {"type": "static", "content": CATALOG.decision_contents()}})
    trace = plain.evaluate(key, context, {"trace": True})["trace"]
    rows = []
    for node in trace.values():
        data = node.get("traceData")
        for row in data if isinstance(data, list) else [data] if isinstance(data, dict) and "rule" in data else []:
            rows.append((node["name"], row["rule"]["_id"], row["rule"].get("_description", "")))
    return plain.evaluate(key, context)["result"], sorted(rows)


@pytest.mark.parametrize(("product", "answers"), DOSSIERS)
@pytest.mark.parametrize("decision", ["eligibility", "referral", "pricing"])
def test_the_rows_read_from_the_result_are_the_rows_zen_traces(
    product: str, answers: dict[str, object], decision: str
) -> None:
    made = ENGINE.decide(version(product), decision, answers, today=TODAY)
    result, rows = _traced_by_zen(made.rule_set, decision_context(version(product).definition, answers, today=TODAY))
    assert made.result == result
    assert sorted((f.node, f.rule_id, f.description) for f in made.fired) == rows
    assert "_fired" not in json.dumps(made.result)


def test_a_decision_result_holds_the_graph_outputs_only_not_the_answers() -> None:
    car = version("garantie_automobile")
    assert set(ENGINE.decide(car, "pricing", CAR, today=TODAY).result) == {
        "base_cents",
        "factors",
        "tax_label",
        "tax_rate",
    }
    assert set(ENGINE.decide(car, "eligibility", CAR, today=TODAY).result) == {"refusals"}
    referral = ENGINE.decide(version("prevoyance_individuelle"), "referral", HEALTH, today=TODAY)
    assert set(referral.result) == {"referrals"}
    assert referral.inputs["health"]["tobacco"] is True  # the answers stay in the trace's inputs


def _chained(graph: dict[str, Any]) -> dict[str, Any]:
    """The graph with its tables one after the other, each passing its input through (input → t1 → … → output)."""
    chained = copy.deepcopy(graph)
    tables = [node for node in chained["nodes"] if node["type"] == "decisionTableNode"]
    for table in tables:
        table["content"]["passThrough"] = True
    order = ["input", *(table["id"] for table in tables), "output"]
    chained["edges"] = [
        {"id": f"e{i}", "sourceId": a, "targetId": b, "type": "edge"}
        for i, (a, b) in enumerate(itertools.pairwise(order))
    ]
    return chained


def _engine_with(product: str, **graphs: dict[str, Any]) -> tuple[RuleEngine, ProductVersion]:
    written = CATALOG.effective(product, on=TODAY)
    changed = ProductVersion(definition=written.definition, decisions={**written.decisions, **graphs})
    return RuleEngine(Catalog([changed])), changed


def test_tables_chained_with_pass_through_are_traced_from_the_result_too() -> None:
    car = version("garantie_automobile")
    engine, chained = _engine_with("garantie_automobile", pricing=_chained(car.decisions["pricing"]))
    decision = engine.decide(chained, "pricing", CAR, today=TODAY)
    assert [f.rule_id for f in decision.fired] == [
        "auto-base-mid",
        "auto-f-age",
        "auto-f-km",
        "auto-f-young",
        "auto-tax",
    ]
    assert price_breakdown(decision.result, frequency="monthly").total_cents == 52_948
    assert "_fired" not in json.dumps(decision.result)


def test_a_graph_whose_rows_cannot_be_read_from_the_result_is_traced_by_zen() -> None:
    """A table whose output only feeds a later table (here: the risk class the price depends on) leaves no cell in
    the result: such a graph is evaluated with zen's trace, and every row that fired is still recorded."""
    bike = CATALOG.effective("assurance_velo", on=TODAY)
    graph = copy.deepcopy(bike.decisions["pricing"])
    risk = {
        "id": "risk",
        "type": "decisionTableNode",
        "name": "Classe de risque",
        "position": {"x": 120, "y": 0},
        "content": {
            "hitPolicy": "first",
            "passThrough": False,
            "inputs": [{"id": "i0", "name": "Électrique", "field": "bike.electric"}],
            "outputs": [{"id": "o0", "name": "Classe", "field": "bike.electric"}],
            "rules": [
                {"_id": "velo-risk-e", "_description": "Électrique", "i0": "true", "o0": "true"},
                {"_id": "velo-risk", "_description": "Musculaire", "i0": "", "o0": "false"},
            ],
        },
    }
    graph["nodes"].append(risk)
    graph["edges"] = [
        {"id": "e0", "sourceId": "input", "targetId": "risk", "type": "edge"},
        {"id": "e1", "sourceId": "risk", "targetId": "base", "type": "edge"},
        {"id": "e2", "sourceId": "base", "targetId": "output", "type": "edge"},
    ]
    engine, changed = _engine_with("assurance_velo", pricing=graph)
    decision = engine.decide(changed, "pricing", BIKE, today=TODAY)
    assert [(f.node, f.rule_id) for f in decision.fired] == [
        ("Classe de risque", "velo-risk-e"),
        ("base", "velo-base-e"),
    ]
    assert decision.result["base_cents"] == 60_000


def test_the_context_nests_dotted_answers_and_adds_exact_whole_years() -> None:
    definition = version("garantie_automobile").definition
    leap_day = {**CAR, "driver.birth_date": "2008-02-29", "vehicle.first_registration": "pas une date", "x.y.z": 1}
    context = decision_context(definition, leap_day, today=date(2026, 2, 28))
    assert context["today"] == {"iso": "2026-02-28", "year": 2026}
    assert context["driver"]["birth_date_years"] == whole_years(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert "first_registration_years" not in context["vehicle"]
    assert context["vehicle"]["power_hp"] == 110
    assert context["x"] == {"y": {"z": 1}}
    assert decision_context(definition, {}, today=TODAY) == {"today": {"iso": "2026-11-21", "year": 2026}}


def test_the_price_carries_its_breakdown_base_each_factor_and_tax() -> None:
    decision = ENGINE.decide(version("garantie_automobile"), "pricing", CAR, today=TODAY)
    price = price_breakdown(decision.result, frequency="monthly")
    assert price.base_cents == 32_000
    assert [(f.name, f.multiplier, f.effect_cents) for f in price.factors] == [
        ("Ancienneté du véhicule", Decimal("1.15"), 4_800),
        ("Kilométrage élevé", Decimal("1.20"), 7_360),
        ("Jeune conducteur", Decimal("1.10"), 4_416),
    ]
    assert price.premium_before_tax_cents == 32_000 + 4_800 + 7_360 + 4_416 == 48_576
    assert price.tax_cents == 4_372  # 9 % of 485.76 €, rounded half up
    assert price.total_cents == 52_948
    assert price.instalment_cents == 4_412
    assert [f.rule_id for f in decision.fired] == [
        "auto-base-mid",
        "auto-f-age",
        "auto-f-km",
        "auto-f-young",
        "auto-tax",
    ]


def test_a_pricing_graph_that_returns_no_price_is_a_configuration_error() -> None:
    with pytest.raises(PricingResultInvalid):
        price_breakdown({"factors": []}, frequency="annual")
    with pytest.raises(PricingResultInvalid):
        price_breakdown({"base_cents": 100, "tax_rate": "0.09", "tax_label": "T"}, frequency="weekly")


def test_a_third_product_defined_only_in_test_data_runs_with_no_code_change() -> None:
    bike = CATALOG.effective("assurance_velo", on=TODAY)
    answers = BIKE
    assert check_answers(bike.definition, answers, today=TODAY) == []
    assert missing_fields(bike.definition, {**answers, "bike.battery_serial": ""}) == ("bike.battery_serial",)
    assert ENGINE.decide(bike, "eligibility", answers, today=TODAY).result["refusals"] == []
    assert fired("assurance_velo", "referral", answers) == ["velo-ref-value"]
    price = price_breakdown(ENGINE.decide(bike, "pricing", answers, today=TODAY).result, frequency="annual")
    assert price.total_cents == 60_000 + 5_400


def test_the_version_in_force_is_chosen_by_its_effective_date() -> None:
    assert CATALOG.effective("assurance_velo", on=date(2026, 12, 31)).definition.version == "2026.1"
    assert CATALOG.effective("assurance_velo", on=date(2027, 1, 1)).definition.version == "2027.1"
    with pytest.raises(UnknownProduct):
        CATALOG.effective("assurance_velo", on=date(2025, 12, 31))
    with pytest.raises(UnknownProduct) as unknown:
        CATALOG.effective("assurance_chat", on=TODAY)
    assert unknown.value.field == "product"


def _definition(**changes: object) -> dict[str, object]:
    data = json.loads((TEST_PRODUCTS / "assurance_velo" / "2026.1" / "product.json").read_text())
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({k: v for k, v in _definition().items() if k != "decisions"}, "clé obligatoire absente : decisions"),
        (_definition(effective_from="demain"), "demain"),
        (
            _definition(steps=[{"id": "s", "label": "S", "fields": [{"name": "a", "type": "texte", "label": "A"}]}]),
            "steps[0]:fields[0]: type « texte » inconnu",
        ),
        (
            _definition(steps=[{"id": "s", "label": "S", "fields": [{"name": "a", "type": "choice", "label": "A"}]}]),
            "doit lister ses « choices »",
        ),
        (
            _definition(
                steps=[
                    {
                        "id": "s",
                        "label": "S",
                        "fields": [
                            {"name": "a", "type": "string", "label": "A"},
                            {"name": "a", "type": "string", "label": "B"},
                        ],
                    }
                ]
            ),
            "champs en double : a",
        ),
        (
            _definition(
                steps=[
                    {
                        "id": "s",
                        "label": "S",
                        "fields": [
                            {"name": "a", "type": "string", "label": "A", "required_if": {"field": "zz", "in": [True]}}
                        ],
                    }
                ]
            ),
            "dépend d'un champ inconnu zz",
        ),
    ],
)
def test_a_malformed_definition_is_refused_naming_the_file_and_the_key(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(data, source="velo.json")
    assert fragment in str(refused.value)
    assert str(refused.value).startswith("velo.json")


def test_a_product_folder_with_broken_json_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "p" / "1"
    folder.mkdir(parents=True)
    (folder / "product.json").write_text('{"product": "p",\n "version": }')
    with pytest.raises(InvalidDefinition) as refused:
        Catalog.load(tmp_path)
    assert "ligne 2" in str(refused.value)
