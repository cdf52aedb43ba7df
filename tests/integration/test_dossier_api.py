"""A dossier through `/api/v1`, from the first form to an active contract, on the real runtime and databases.

The applicant acts with the token returned at creation; staff act with their own accounts and roles. Workflows
run in this process's DBOS runtime (`workflow_runtime`), so what is asserted is what production does."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from souscription.billing import services as billing
from souscription.consents.domain import Purpose
from souscription.consents.domain import current_text as consent_text
from souscription.identity.models import User
from souscription.platform import workflows as platform_workflows
from souscription.platform.models import IdempotencyRecord
from souscription.sales.models import Offer
from souscription.simulation import signature_code_in_inbox
from souscription.subscriptions import paperwork, services, workflows
from souscription.subscriptions.api import DossierStatusOut
from souscription.subscriptions.models import DecisionRecord, Dossier, DossierEvent
from souscription.underwriting import services as underwriting
from souscription.underwriting.models import ContractCopy, DecisionTrace, HealthDeclaration, RiskEstimate
from tests.integration.conftest import signed_in

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
ROOT = Path(__file__).parents[2]
CAR = json.loads((ROOT / "tests/data/answers/garantie_automobile.json").read_text(encoding="utf-8"))
HEALTH = {
    "insured.birth_date": "1980-05-14",
    "insured.sex": "F",
    "insured.profession": "comptable",
    "insured.profession_risk": "bureau",
    "health.tobacco": True,
    "health.cigarettes_per_day": 10,
    "health.alcohol_units_per_week": 3,
    "health.chronic_disease": False,
    "cover.capital_eur": 100_000,
    "customer.first_name": "Inès",
    "customer.last_name": "Durand",
    "customer.email": "ines.durand@exemple.fr",
    "customer.phone": "+33 6 11 22 33 44",
    "customer.country": "FR",
    "customer.street": "4 avenue Jean Jaurès",
    "customer.postcode": "75019",
    "customer.city": "Paris",
    "billing.frequency": "annual",
    "billing.account_holder": "Inès Durand",
    "billing.iban": "FR1420041010050500013M02606",
}
STEPS = {
    "garantie_automobile": {"vehicle": "vehicle.", "driver": "driver.", "contact": "customer.", "billing": "billing."},
    "prevoyance_individuelle": {
        "insured": "insured.",
        "health": "health.",
        "cover": "cover.",
        "contact": "customer.",
        "billing": "billing.",
    },
}


class Applicant:
    """The prospect, holding the token the API gave when the dossier was opened."""

    def __init__(self, product: str) -> None:
        self.client = Client()
        response = self.client.post("/api/v1/dossiers", {"product": product}, content_type="application/json")
        assert response.status_code == 201, response.content
        body = response.json()
        self.sid, self.token, self.product = body["subscription_id"], body["applicant_token"], product

    def post(self, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.post(
            f"/api/v1/dossiers/{self.sid}{path}",
            body or {},
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}", **headers},
        )

    def status(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/dossiers/{self.sid}", headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 200, response.content
        return response.json()  # type: ignore[no-any-return]

    def give_health_consent(self) -> Any:
        """Explicit consent to the processing of health data, on the text in force (GDPR art. 9(2)(a))."""
        text = consent_text(Purpose.HEALTH_DATA)
        response = self.post("/consents", {"purpose": "health_data", "text_version": text.version})
        assert response.status_code == 201, response.content
        return response.json()

    def sign(self, signer_name: str) -> Any:
        """Ask for the signature code, read it in the inbox of the dossier's email, sign with it."""
        assert self.post("/signature-code").status_code == 200
        code = signature_code_in_inbox(self.status()["customer"]["email"], self.sid)
        return self.post("/signature", {"signer_name": signer_name, "code": code})

    def answer_all(self, answers: dict[str, Any]) -> dict[str, Any]:
        status: dict[str, Any] = {}
        for step, prefix in STEPS[self.product].items():
            if step == "health":
                self.give_health_consent()
            values = {name: value for name, value in answers.items() if name.startswith(prefix)}
            response = self.post(f"/steps/{step}", {"answers": values})
            assert response.status_code == 200, response.content
            status = response.json()
        return status


def staff(role: str) -> tuple[Client, User]:
    user = User.objects.create_user(f"{role}-{uuid.uuid4().hex[:6]}@assureur.test", "Parapluie-Tulipe-2026", role=role)
    return signed_in(Client(), user), user


def post(client: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/v1{path}", body or {}, content_type="application/json")


def validate_first_invoice(status: dict[str, Any]) -> dict[str, Any]:
    accountant, _ = staff("accountant")
    response = post(accountant, f"/invoices/{status['invoice_id']}/validation")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def test_a_car_warranty_goes_from_the_first_form_to_an_active_contract() -> None:
    applicant = Applicant("garantie_automobile")
    priced = applicant.answer_all(CAR)
    assert priced["stage"] == "priced"
    assert priced["next_action"] == {"code": "accept_offer", "label": "Accepter l'offre", "owner": "applicant"}
    assert priced["offer"]["breakdown"]["total_cents"] == priced["offer"]["premium_cents"] > 0

    awaiting = applicant.post("/acceptance").json()
    assert awaiting["stage"] == "awaiting_signature"
    assert awaiting["signature_status"] == "ongoing"

    signed = applicant.sign("Léa Martin").json()
    assert signed["stage"] == "signed"
    assert (signed["mandate_status"], signed["invoice_status"]) == ("active", "drafted")
    assert signed["next_action"]["owner"] == "accountant"

    active = validate_first_invoice(signed)
    assert active["stage"] == "active"
    assert {k: active[k] for k in ("crm_status", "signature_status", "erp_sync")} == {
        "crm_status": "won",
        "signature_status": "done",
        "erp_sync": "synced",
    }
    assert active["customer"] == {"email": "lea@exemple.fr", "country": "FR"}
    assert active["next_action"] is None
    DossierStatusOut.model_validate(active)

    contract = applicant.client.get(
        f"/api/v1/dossiers/{applicant.sid}/documents/signed-contract",
        headers={"Authorization": f"Bearer {applicant.token}"},
    )
    check = paperwork.verify_contract(contract.content)
    assert (check.intact, check.valid, check.trusted) == (True, True, True)
    lines = billing.ledger_lines(billing.first_invoice_number(applicant.sid))
    assert sum(line["debit_cents"] for line in lines) == sum(line["credit_cents"] for line in lines) > 0


def test_the_health_product_goes_through_investigation_estimation_and_the_juriste() -> None:
    applicant = Applicant("prevoyance_individuelle")
    referred = applicant.answer_all(HEALTH)
    assert referred["stage"] == "referred"
    assert referred["next_action"]["owner"] == "investigator"
    investigation = referred["tasks"][0]

    investigator, _ = staff("investigator")
    queue = investigator.get("/api/v1/underwriting/queue").json()
    assert [task["id"] for task in queue["tasks"]] == [investigation["id"]]
    assert queue["tasks"][0]["due_on"] > referred["updated_at"][:10]
    estimator, _ = staff("estimator")
    wrong_role = post(estimator, f"/underwriting/tasks/{investigation['id']}/report", {"findings": "Rien à signaler."})
    assert wrong_role.status_code == 403

    report = {"findings": "Questionnaire complété par téléphone, tabagisme confirmé."}
    after_report = post(investigator, f"/underwriting/tasks/{investigation['id']}/report", report).json()["status"]
    assert after_report["next_action"]["owner"] == "estimator"
    estimation = next(t for t in after_report["tasks"] if t["kind"] == "estimation")
    decision = {
        "risk_class": "aggravated",
        "premium_adjustment_pct": 25,
        "exclusions": ["Affections liées au tabac"],
        "decision": "approve",
        "note": "Fumeur : surprime de 25 %.",
    }
    underwritten = post(estimator, f"/underwriting/tasks/{estimation['id']}/estimate", decision).json()["status"]
    assert underwritten["stage"] == "underwritten"
    assert underwritten["exclusions"] == ["Affections liées au tabac"]
    factors = underwritten["offer"]["breakdown"]["factors"]
    assert factors[-1]["name"] == "Ajustement de souscription"
    assert factors[-1]["multiplier"] == "1.25"

    accepted = applicant.post("/acceptance").json()
    assert accepted["stage"] == "accepted"
    assert accepted["next_action"]["owner"] == "jurist"
    contract_task = next(t for t in accepted["tasks"] if t["kind"] == "contract")
    sales_rep, _ = staff("sales_rep")
    assert post(sales_rep, f"/underwriting/tasks/{contract_task['id']}/contract").status_code == 403
    jurist, _ = staff("jurist")
    drafted = post(jurist, f"/underwriting/tasks/{contract_task['id']}/contract").json()["status"]
    assert drafted["stage"] == "awaiting_signature"

    signed = applicant.sign("Inès Durand").json()
    assert validate_first_invoice(signed)["stage"] == "active"
    assert ContractCopy.objects.filter(subscription_id=applicant.sid).count() == 2


def test_health_answers_stay_with_legal_and_decisions_cite_them_by_reference() -> None:
    applicant = Applicant("prevoyance_individuelle")
    applicant.answer_all(HEALTH)
    declaration = HealthDeclaration.objects.get(subscription_id=applicant.sid)
    assert "health.tobacco" not in declaration.answers_sealed  # sealed: see test_field_encryption.py
    found = underwriting.latest_health_declaration(applicant.sid)
    assert found is not None
    assert found[0] == declaration.id
    assert found[1]["health.tobacco"] is True
    decisions = DecisionRecord.objects.filter(dossier__subscription_id=applicant.sid)
    assert {d.name for d in decisions} == {"completeness", "eligibility", "pricing", "referral"}
    for decision in decisions.exclude(name="completeness"):
        assert "health" not in decision.inputs, decision.name
        assert decision.health_declaration_id == declaration.id
    referral = decisions.get(name="referral")
    assert referral.rule_set == "prevoyance_individuelle/2026.1/referral"
    # What fired ("Tabac déclaré.") reveals the answer: the platform's record cites Legal's trace, which holds it.
    assert referral.result == {}
    assert referral.fired == []
    trace = DecisionTrace.objects.get(id=referral.legal_trace_id)
    assert [row["rule"] for row in trace.fired] == ["prev-ref-tobacco"]
    assert trace.result["referrals"] == [{"reason": "Tabac déclaré."}]


def test_every_decision_keeps_its_rule_set_the_rows_that_fired_and_the_inputs() -> None:
    applicant = Applicant("garantie_automobile")
    applicant.answer_all(CAR)
    decisions = {d.name: d for d in DecisionRecord.objects.filter(dossier__subscription_id=applicant.sid)}
    assert decisions["eligibility"].rule_set == "garantie_automobile/2026.1/eligibility"
    assert decisions["eligibility"].result["refusals"] == []
    pricing = decisions["pricing"]
    assert pricing.fired
    assert all(row["rule"] and row["node"] for row in pricing.fired)
    assert pricing.inputs["vehicle"]["mileage_km"] == CAR["vehicle.mileage_km"]
    assert pricing.inputs["billing"].get("iban") is None
    assert decisions["completeness"].result == {"missing": []}


def test_a_dossier_is_decided_once_every_step_is_answered_and_not_before() -> None:
    applicant = Applicant("garantie_automobile")
    steps = list(STEPS["garantie_automobile"].items())
    for step, prefix in steps[:-1]:
        values = {name: value for name, value in CAR.items() if name.startswith(prefix)}
        assert applicant.post(f"/steps/{step}", {"answers": values}).status_code == 200
    assert not DecisionRecord.objects.filter(dossier__subscription_id=applicant.sid).exists()
    step, prefix = steps[-1]
    values = {name: value for name, value in CAR.items() if name.startswith(prefix)}
    assert applicant.post(f"/steps/{step}", {"answers": values}).json()["stage"] == "priced"
    decided = DecisionRecord.objects.filter(dossier__subscription_id=applicant.sid)
    assert sorted(d.name for d in decided) == ["completeness", "eligibility", "pricing", "referral"]


def test_wrong_answers_are_all_named_with_their_field_and_nothing_is_saved() -> None:
    applicant = Applicant("garantie_automobile")
    answers = {k: v for k, v in CAR.items() if k.startswith("vehicle.")}
    wrong = {**answers, "vehicle.registration": "AB123CD", "vehicle.mileage_km": -5, "driver.birth_date": "2000-01-01"}
    del wrong["vehicle.make"]
    response = applicant.post("/steps/vehicle", {"answers": wrong})
    assert response.status_code == 422
    errors = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert errors == {
        ("vehicle.registration", "invalid_string"),
        ("vehicle.mileage_km", "invalid_integer"),
        ("driver.birth_date", "unknown_field"),
        ("vehicle.make", "required"),
    }
    assert all(e["message"] for e in response.json()["errors"])
    status = applicant.status()
    assert (status["revision"], status["missing_steps"][0]) == (0, "vehicle")

    bad_iban = {k: v for k, v in CAR.items() if k.startswith("billing.")} | {
        "billing.iban": "FR7630006000011234567890188"
    }
    response = applicant.post("/steps/billing", {"answers": bad_iban})
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("billing.iban", "invalid_iban")]
    assert billing.bank_answers(applicant.sid) == {}


def test_editing_a_priced_dossier_returns_it_to_draft_discards_the_price_and_prices_it_again() -> None:
    applicant = Applicant("garantie_automobile")
    first = applicant.answer_all(CAR)
    newer_car = {k: v for k, v in CAR.items() if k.startswith("vehicle.")} | {"vehicle.mileage_km": 20_000}
    second = applicant.post("/steps/vehicle", {"answers": newer_car}).json()
    assert second["stage"] == "priced"
    assert second["offer"]["premium_cents"] != first["offer"]["premium_cents"]
    returned = DossierEvent.objects.get(dossier__subscription_id=applicant.sid, name__endswith="returned_to_draft")
    assert returned.payload["data"]["previous_stage"] == "priced"
    assert returned.payload["data"]["price_discarded"] is True
    statuses = sorted(Offer.objects.filter(subscription_id=applicant.sid).values_list("status", flat=True))
    assert statuses == ["offered", "superseded"]


def test_a_dossier_whose_contract_is_drafted_refuses_edits_and_only_the_applicant_signs() -> None:
    applicant = Applicant("garantie_automobile")
    applicant.answer_all(CAR)
    applicant.post("/acceptance")
    vehicle = {k: v for k, v in CAR.items() if k.startswith("vehicle.")}
    refused = applicant.post("/steps/vehicle", {"answers": vehicle})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "dossier_locked"
    sales_rep, _ = staff("sales_rep")
    response = post(sales_rep, f"/dossiers/{applicant.sid}/signature", {"signer_name": "Léa Martin", "code": "123456"})
    assert response.status_code == 403


def test_a_withdrawn_dossier_is_closed_and_its_open_underwriting_tasks_cancelled() -> None:
    applicant = Applicant("prevoyance_individuelle")
    applicant.answer_all(HEALTH)
    withdrawn = applicant.post("/withdrawal", {"reason": "Le client renonce"}).json()
    assert withdrawn["stage"] == "withdrawn"
    assert [t["status"] for t in withdrawn["tasks"]] == ["cancelled"]
    assert withdrawn["next_action"] is None


def test_the_same_idempotency_key_and_body_replays_the_first_answer() -> None:
    client = Client()
    headers = {"Idempotency-Key": "4d7c1f8e-5b2a-4c3e-9f10-create00001"}
    body = {"product": "garantie_automobile"}
    first = client.post("/api/v1/dossiers", body, content_type="application/json", headers=headers)
    again = client.post("/api/v1/dossiers", body, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other = client.post(
        "/api/v1/dossiers", {"product": "prevoyance_individuelle"}, content_type="application/json", headers=headers
    )
    assert other.status_code == 422
    assert other.json()["errors"][0] == {
        "code": "idempotency_key_reused",
        "message": "Cette Idempotency-Key a déjà servi pour une autre requête : utilisez une nouvelle clé.",
        "field": "Idempotency-Key",
    }


def test_without_a_credential_the_key_must_be_unguessable_and_the_table_keeps_no_token_nor_key() -> None:
    client = Client()
    body = {"product": "garantie_automobile"}
    weak = client.post("/api/v1/dossiers", body, content_type="application/json", headers={"Idempotency-Key": "1"})
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["code"] == "idempotency_key_too_weak"
    key = str(uuid.uuid4())
    opened = client.post("/api/v1/dossiers", body, content_type="application/json", headers={"Idempotency-Key": key})
    token = opened.json()["applicant_token"]
    stored = IdempotencyRecord.objects.get()
    assert key not in stored.key
    assert token.encode() not in bytes(stored.body)
    assert b"applicant_token" not in bytes(stored.body)  # sealed with a key only the caller's Idempotency-Key gives


def test_a_dossier_opened_again_after_its_answer_was_lost_is_the_same_dossier_with_the_same_token(
    settings: Any,
) -> None:
    """The process died between committing the dossier and recording its answer (kill -9): the key's claim is left
    without an answer. Once the claim is stale, the retry runs, and finds the dossier the key already opened."""
    settings.SOUSCRIPTION = dataclasses.replace(settings.SOUSCRIPTION, idempotency_in_flight_seconds=1)
    client, key = Client(), str(uuid.uuid4())
    body, headers = {"product": "garantie_automobile"}, {"Idempotency-Key": key}
    first = client.post("/api/v1/dossiers", body, content_type="application/json", headers=headers).json()
    IdempotencyRecord.objects.update(status_code=None, body=b"", created_at=timezone.now())  # the lost answer
    in_flight = client.post("/api/v1/dossiers", body, content_type="application/json", headers=headers)
    assert in_flight.status_code == 409
    assert in_flight.json()["errors"][0]["code"] == "idempotency_key_in_flight"
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(seconds=2))
    again = client.post("/api/v1/dossiers", body, content_type="application/json", headers=headers)
    assert again.status_code == 201
    assert again.json()["subscription_id"] == first["subscription_id"]
    assert again.json()["applicant_token"] == first["applicant_token"]
    assert Dossier.objects.count() == 1


def test_an_idempotent_step_submission_is_applied_once() -> None:
    applicant = Applicant("garantie_automobile")
    vehicle = {"answers": {k: v for k, v in CAR.items() if k.startswith("vehicle.")}}
    first = applicant.post("/steps/vehicle", vehicle, **{"Idempotency-Key": "step-vehicle-1"})
    second = applicant.post("/steps/vehicle", vehicle, **{"Idempotency-Key": "step-vehicle-1"})
    assert first.json() == second.json()
    assert applicant.status()["revision"] == 1


def test_a_key_used_again_after_its_retention_is_a_new_request() -> None:
    """Answers are kept a day: after that, the same key is a new request (here another body, applied, not refused)."""
    applicant = Applicant("garantie_automobile")
    vehicle = {k: v for k, v in CAR.items() if k.startswith("vehicle.")}
    applicant.post("/steps/vehicle", {"answers": vehicle}, **{"Idempotency-Key": "step-vehicle-1"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    later = {**vehicle, "vehicle.mileage_km": vehicle["vehicle.mileage_km"] + 1000}
    again = applicant.post("/steps/vehicle", {"answers": later}, **{"Idempotency-Key": "step-vehicle-1"})
    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again
    assert applicant.status()["revision"] == 2
    assert IdempotencyRecord.objects.count() == 1


def test_a_caller_without_the_dossiers_token_or_a_staff_account_is_refused() -> None:
    applicant = Applicant("garantie_automobile")
    other = Applicant("garantie_automobile")
    anonymous = Client().get(f"/api/v1/dossiers/{applicant.sid}")
    assert anonymous.status_code == 401
    borrowed = Client().get(f"/api/v1/dossiers/{applicant.sid}", headers={"Authorization": f"Bearer {other.token}"})
    assert borrowed.status_code == 401
    unknown = Client().post("/api/v1/dossiers", {"product": "assurance_yacht"}, content_type="application/json")
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "product"


def test_the_status_contract_is_published_as_json_schema_and_matches_the_committed_copy() -> None:
    published = Client().get("/api/v1/schemas/dossier-status.json")
    assert published.status_code == 200
    committed = json.loads((ROOT / "docs/schemas/dossier-status.v1.json").read_text(encoding="utf-8"))
    assert published.json() == committed
    for required in ("subscription_id", "customer", "product", "crm_status", "signature_status", "erp_sync"):
        assert required in committed["required"]


def awaiting_signature() -> Applicant:
    applicant = Applicant("garantie_automobile")
    applicant.answer_all(CAR)
    assert applicant.post("/acceptance").json()["stage"] == "awaiting_signature"
    return applicant


def test_signing_needs_the_code_sent_to_the_dossiers_email_and_a_code_works_once() -> None:
    applicant = awaiting_signature()
    sent = applicant.post("/signature-code").json()
    assert sent["sent_to"] == "l***@exemple.fr"
    code = signature_code_in_inbox(CAR["customer.email"], applicant.sid)
    wrong = "000000" if code != "000000" else "111111"
    refused = applicant.post("/signature", {"signer_name": "Léa Martin", "code": wrong})
    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {
        "code": "signature_code_wrong",
        "message": "Code incorrect : 4 essai(s) restant(s).",
        "field": "code",
    }
    assert applicant.status()["stage"] == "awaiting_signature"
    assert applicant.post("/signature", {"signer_name": "Léa Martin", "code": code}).json()["stage"] == "signed"
    again = applicant.post("/signature", {"signer_name": "Léa Martin", "code": code})
    assert again.status_code == 409  # signed already: neither the code nor the signature counts twice


def test_a_new_code_replaces_the_previous_and_five_wrong_attempts_lock_it() -> None:
    applicant = awaiting_signature()
    applicant.post("/signature-code")
    first = signature_code_in_inbox(CAR["customer.email"], applicant.sid)
    applicant.post("/signature-code")
    second = signature_code_in_inbox(CAR["customer.email"], applicant.sid)
    wrong = "000000" if second != "000000" else "111111"
    attempts = [first if first != second else wrong, wrong, wrong, wrong, wrong]  # the replaced code counts as wrong
    for attempt in attempts:
        refused = applicant.post("/signature", {"signer_name": "Léa Martin", "code": attempt})
        assert refused.json()["errors"][0]["code"] == "signature_code_wrong"
    locked = applicant.post("/signature", {"signer_name": "Léa Martin", "code": second})
    assert locked.json()["errors"][0]["code"] == "signature_code_locked"


def test_signature_codes_are_limited_per_dossier_and_hour() -> None:
    applicant = awaiting_signature()
    for _ in range(5):
        assert applicant.post("/signature-code").status_code == 200
    flooded = applicant.post("/signature-code")
    assert flooded.status_code == 429
    assert int(flooded["Retry-After"]) > 3000


def car_form_completed_without_its_workflow() -> tuple[Applicant, services.Revised]:
    """A car dossier whose last step was kept by the service, as the request does, but whose quote workflow was
    not started (the process died in between, or the test runs the steps itself)."""
    applicant = Applicant("garantie_automobile")
    for step in ("vehicle", "driver", "contact"):
        prefix = STEPS["garantie_automobile"][step]
        applicant.post(f"/steps/{step}", {"answers": {k: v for k, v in CAR.items() if k.startswith(prefix)}})
    billing_answers = {k: v for k, v in CAR.items() if k.startswith("billing.")}
    complete, revised = services.submit_step(applicant.sid, "billing", billing_answers, now=timezone.now())
    assert complete
    return applicant, revised


def test_a_complete_dossier_whose_quote_never_started_is_decided_by_the_sweeper() -> None:
    """The process died between committing the last step and starting the quote workflow (kill -9): the step left
    `decision_due`, and the scheduled sweeper starts the workflow."""
    applicant, revised = car_form_completed_without_its_workflow()
    row = Dossier.objects.get(subscription_id=applicant.sid)
    assert (row.stage, row.decision_due) == ("draft", revised.revision)
    assert workflows.start_undecided_quotes(timezone.now(), None) == 0  # too recent: its request may still run
    Dossier.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    assert workflows.start_undecided_quotes(timezone.now(), None) == 1
    DBOS.retrieve_workflow(f"quote:{row.id}:r{revised.revision}").get_result()
    row.refresh_from_db()
    assert (row.stage, row.decision_due) == ("priced", None)
    assert workflows.start_undecided_quotes(timezone.now(), None) == 0


def test_an_estimate_whose_workflow_never_started_is_applied_by_the_sweeper() -> None:
    """The estimateur's request recorded the estimate in Legal, then the process died before starting the workflow
    that applies it (kill -9): the task is closed, so nobody would act again; the sweeper starts the workflow."""
    applicant = Applicant("prevoyance_individuelle")
    referred = applicant.answer_all(HEALTH)
    investigator, _ = staff("investigator")
    report = {"findings": "Questionnaire complété par téléphone."}
    reported = post(investigator, f"/underwriting/tasks/{referred['tasks'][0]['id']}/report", report).json()["status"]
    estimation = next(t for t in reported["tasks"] if t["kind"] == "estimation")
    _estimator, user = staff("estimator")
    estimate = underwriting.Estimate("aggravated", 15, ("Sports aériens",), "approve", "Surprime de 15 %.")
    task_id = uuid.UUID(estimation["id"])
    underwriting.record_estimate(task_id=task_id, estimator_id=user.pk, estimate=estimate, at=timezone.now())
    assert workflows.start_undecided_quotes(timezone.now(), None) == 0  # too recent: its request may still run
    RiskEstimate.objects.filter(id=task_id).update(decided_at=timezone.now() - timedelta(minutes=1))
    assert workflows.start_undecided_quotes(timezone.now(), None) == 1
    assert DBOS.retrieve_workflow(f"estimate:{task_id}").get_result() == "underwritten"
    assert applicant.status()["stage"] == "underwritten"
    assert workflows.start_undecided_quotes(timezone.now(), None) == 0  # the workflow took it: not started again


def test_a_withdrawal_whose_workflow_never_started_has_its_open_tasks_cancelled_by_the_sweeper() -> None:
    """The applicant withdrew a referred dossier, then the process died before `after_withdrawal` started: the
    enquêteur's task would stay in the queue for a dossier nobody pursues; the sweeper starts the workflow."""
    applicant = Applicant("prevoyance_individuelle")
    referred = applicant.answer_all(HEALTH)
    assert [task["status"] for task in referred["tasks"]] == ["open"]
    services.withdraw(applicant.sid, reason="Offre concurrente retenue", now=timezone.now())
    assert workflows.start_undecided_quotes(timezone.now(), None) == 0  # too recent: its request may still run
    row = Dossier.objects.get(subscription_id=applicant.sid)
    Dossier.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    assert workflows.start_undecided_quotes(timezone.now(), None) == 1
    DBOS.retrieve_workflow(f"withdrawn:{row.id}").get_result()
    assert [task.status for task in underwriting.tasks_of(applicant.sid)] == ["cancelled"]
    assert applicant.status()["stage"] == "withdrawn"
    assert workflows.start_undecided_quotes(timezone.now(), None) == 0  # the workflow took it: not started again


def test_the_decide_step_replayed_after_it_committed_gives_the_same_outcome() -> None:
    """kill -9 after `decide` committed but before DBOS recorded its output: DBOS runs it again, and it must carry
    the workflow on (priced), not take its own effect for a newer revision's."""
    applicant, revised = car_form_completed_without_its_workflow()
    first = workflows.decide(applicant.sid, revised.revision)
    assert first["stage"] == "validated"
    again = workflows.decide(applicant.sid, revised.revision)
    assert {k: again[k] for k in ("stage", "referred", "total_cents", "currency", "health")} == {
        k: first[k] for k in ("stage", "referred", "total_cents", "currency", "health")
    }
    assert DecisionRecord.objects.filter(dossier__subscription_id=applicant.sid, name="pricing").count() == 1


def test_the_quote_step_run_again_after_it_committed_carries_on_to_the_same_stage() -> None:
    """kill -9 after the quote step committed (decided, offered, priced) but before DBOS recorded it: DBOS runs the
    step again, which finds each part done and ends at the same stage, with one decision and one offer."""
    applicant, revised = car_form_completed_without_its_workflow()
    assert workflows.quote(applicant.sid, revised.revision) == "priced"
    assert workflows.quote(applicant.sid, revised.revision) == "priced"
    assert applicant.status()["stage"] == "priced"
    assert DecisionRecord.objects.filter(dossier__subscription_id=applicant.sid, name="pricing").count() == 1
    assert Offer.objects.filter(subscription_id=applicant.sid).count() == 1


def test_a_referred_quote_run_again_after_it_committed_still_opens_the_investigation() -> None:
    """The same after a referral: the dossier is referred when the step runs again, which must still open the
    enquêteur's task (once), not take the referred dossier for a newer revision's."""
    applicant = Applicant("prevoyance_individuelle")
    applicant.give_health_consent()
    steps = list(STEPS["prevoyance_individuelle"].items())
    for step, prefix in steps[:-1]:
        applicant.post(f"/steps/{step}", {"answers": {k: v for k, v in HEALTH.items() if k.startswith(prefix)}})
    last, prefix = steps[-1]
    last_answers = {k: v for k, v in HEALTH.items() if k.startswith(prefix)}
    _complete, revised = services.submit_step(applicant.sid, last, last_answers, now=timezone.now())
    outcome = workflows.decide(applicant.sid, revised.revision)
    workflows.price_and_refer(applicant.sid, revised.revision, outcome)  # the step died before opening the task
    assert applicant.status()["stage"] == "referred"
    assert workflows.quote(applicant.sid, revised.revision) == "referred"
    assert [task.kind for task in underwriting.tasks_of(applicant.sid)] == ["investigation"]


def test_the_contract_step_run_again_after_it_committed_keeps_one_drafted_contract_and_the_stage() -> None:
    """kill -9 after the contract step committed (offer accepted, contract drafted, sent for signature) but before
    DBOS recorded it: the step run again finds the drafted copy kept and the dossier awaiting its signature."""
    applicant = awaiting_signature()
    drafted = ContractCopy.objects.get(subscription_id=applicant.sid, kind="drafted")
    assert workflows.contract_after_acceptance(applicant.sid) == "awaiting_signature"
    assert list(ContractCopy.objects.filter(subscription_id=applicant.sid).values_list("sha256", flat=True)) == [
        drafted.sha256
    ]
    assert applicant.status()["stage"] == "awaiting_signature"
    assert Offer.objects.get(subscription_id=applicant.sid).status == "accepted"


def test_a_step_that_meets_a_transient_database_fault_is_tried_again_and_the_workflow_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database locked past its timeout (or a server connection lost) once, in the middle of the quote: the
    step is tried again, not left in error with the dossier stuck in draft (the sweeper's start would be a no-op)."""
    applicant, revised = car_form_completed_without_its_workflow()
    decide, faults = workflows.decide, []

    def locked_once(subscription_id: str, revision: int) -> dict[str, Any]:
        if not faults:
            faults.append("locked")
            raise OperationalError("database is locked")
        return decide(subscription_id, revision)

    monkeypatch.setattr(workflows, "decide", locked_once)
    row = Dossier.objects.get(subscription_id=applicant.sid)
    handle = workflows.start(
        f"quote:{row.id}:r{revised.revision}", workflows.quote_dossier, applicant.sid, revised.revision
    )
    assert handle.get_result() == "priced"
    assert faults == ["locked"]


def test_a_schema_or_query_error_is_not_taken_for_a_transient_fault() -> None:
    assert platform_workflows.transient_database_fault(OperationalError("database is locked"))
    assert platform_workflows.transient_database_fault(OperationalError("server closed the connection unexpectedly"))
    assert not platform_workflows.transient_database_fault(OperationalError("no such table: subscriptions_dossier"))
    assert not platform_workflows.transient_database_fault(RuntimeError("SUB-2026-000001: accepted without an offer"))


def test_a_workflow_ended_in_error_is_listed_and_resumed_once_its_cause_is_fixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fault trying again does not get past (here a bug: the rules engine raises) ends the quote in error, the
    dossier in draft; `souscription workflows failed` lists it by its id and class of error, never its message,
    and once the cause is fixed, `resume` carries the dossier on from the last recorded step."""
    applicant, revised = car_form_completed_without_its_workflow()
    decide = workflows.decide

    def broken(subscription_id: str, revision: int) -> dict[str, Any]:
        raise KeyError("billing.frequency")

    monkeypatch.setattr(workflows, "decide", broken)
    row = Dossier.objects.get(subscription_id=applicant.sid)
    workflow_id = f"quote:{row.id}:r{revised.revision}"
    with pytest.raises(KeyError):
        workflows.start(workflow_id, workflows.quote_dossier, applicant.sid, revised.revision).get_result()
    listed = io.StringIO()
    call_command("workflows", "failed", stdout=listed)
    assert f"{workflow_id}\tquote_dossier\t" in listed.getvalue()
    assert listed.getvalue().rstrip().endswith("\tKeyError")
    assert "billing.frequency" not in listed.getvalue()

    monkeypatch.setattr(workflows, "decide", decide)
    call_command("workflows", "resume", workflow_id, stdout=io.StringIO())
    assert DBOS.retrieve_workflow(workflow_id).get_result() == "priced"
    assert applicant.status()["stage"] == "priced"
    with pytest.raises(CommandError, match=workflow_id):
        call_command("workflows", "resume", workflow_id, stdout=io.StringIO())
