"""A customer known to every department, built through the public API as in production: an active car contract,
a health dossier underwritten after an investigation, a ticket and a commercial profile. Each department holds a
marker value the GDPR tests look for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from souscription.customers import services as customers
from souscription.sales import services as sales
from souscription.tickets import services as tickets
from tests.integration.test_dossier_api import CAR, HEALTH, Applicant, post, staff, validate_first_invoice

EMAIL = CAR["customer.email"]
CAR_IBAN = CAR["billing.iban"]
HEALTH_IBAN = HEALTH["billing.iban"]
TICKET_MARKER = "Appel : question sur la franchise bris de glace"
PROFESSION_MARKER = "Ostéopathe-marqueur"
REPORT_MARKER = "Entretien du 3 mars : tabagisme modéré confirmé (marqueur)."
ESTIMATE_MARKER = "Surprime tabac de 15 % (marqueur)."


@dataclass(frozen=True)
class KnownCustomer:
    customer_id: uuid.UUID
    car_sid: str
    health_sid: str


def customer_known_everywhere() -> KnownCustomer:
    car = Applicant("garantie_automobile")
    car.answer_all(CAR)
    car.post("/acceptance")
    signed = car.sign("Léa Martin").json()
    assert validate_first_invoice(signed)["stage"] == "active"

    health = Applicant("prevoyance_individuelle")
    contact = {k: v for k, v in CAR.items() if k.startswith("customer.")}
    referred = health.answer_all({**HEALTH, **contact})
    assert referred["stage"] == "referred"
    investigator, _ = staff("investigator")
    task = referred["tasks"][0]["id"]
    reported = post(investigator, f"/underwriting/tasks/{task}/report", {"findings": REPORT_MARKER}).json()["status"]
    estimation = next(t for t in reported["tasks"] if t["kind"] == "estimation")
    estimator, _ = staff("estimator")
    decision = {
        "risk_class": "aggravated",
        "premium_adjustment_pct": 15,
        "exclusions": [],
        "decision": "approve",
        "note": ESTIMATE_MARKER,
    }
    underwritten = post(estimator, f"/underwriting/tasks/{estimation['id']}/estimate", decision).json()["status"]
    assert underwritten["stage"] == "underwritten"

    customer_id = customers.find_customer_id(EMAIL)
    assert customer_id is not None
    tickets.log_contact(
        ticket_id=uuid.uuid4(),
        customer_id=customer_id,
        channel="call",
        reason=TICKET_MARKER,
        operator_id=1,
        action="Renseignée au téléphone",
        at=timezone.now(),
    )
    sales.record_profile(customer_id=customer_id, age_category="18-25", profession=PROFESSION_MARKER, sex="F")
    return KnownCustomer(customer_id, car.sid, health.sid)
