"""The consent register: health answers of the health-underwritten product need the applicant's explicit consent
(GDPR art. 9(2)(a)) on the text in force; a withdrawal is recorded with its time and stops further health answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from souscription.audit.models import AuditEntry
from souscription.consents.domain import Purpose, current_text
from souscription.underwriting.models import HealthDeclaration
from tests.integration.test_dossier_api import CAR, HEALTH, Applicant

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
VERSION = current_text(Purpose.HEALTH_DATA).version


def step(applicant: Applicant, name: str, prefix: str) -> Any:
    return applicant.post(f"/steps/{name}", {"answers": {k: v for k, v in HEALTH.items() if k.startswith(prefix)}})


def test_the_health_step_is_refused_without_consent_with_a_per_field_error_and_nothing_is_kept() -> None:
    applicant = Applicant("prevoyance_individuelle")
    assert step(applicant, "insured", "insured.").status_code == 200
    refused = step(applicant, "health", "health.")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (error["code"], error["field"]) == ("health_data_consent_required", "consents.health_data")
    assert "consentement explicite" in error["message"]
    assert not HealthDeclaration.objects.filter(subscription_id=applicant.sid).exists()
    assert applicant.status()["revision"] == 1


def test_the_health_step_is_accepted_once_the_applicant_consents_on_the_text_in_force() -> None:
    applicant = Applicant("prevoyance_individuelle")
    texts = applicant.client.get("/api/v1/consent-texts").json()
    assert [(t["purpose"], t["version"]) for t in texts] == [("health_data", VERSION)]
    assert "questionnaire de santé" in texts[0]["text"]
    consent = applicant.give_health_consent()
    assert (consent["purpose"], consent["text_version"], consent["in_force"]) == ("health_data", VERSION, True)
    assert consent["given_by"] == f"applicant:{applicant.sid}"
    assert step(applicant, "health", "health.").status_code == 200
    assert HealthDeclaration.objects.filter(subscription_id=applicant.sid).count() == 1


def test_a_consent_on_a_text_no_longer_in_force_is_refused() -> None:
    applicant = Applicant("prevoyance_individuelle")
    old = applicant.post("/consents", {"purpose": "health_data", "text_version": "2019-01"})
    assert old.status_code == 422
    assert old.json()["errors"][0]["code"] == "consent_text_outdated"
    unknown = applicant.post("/consents", {"purpose": "marketing_calls", "text_version": VERSION})
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == "unknown_consent_purpose"


def test_withdrawal_is_recorded_with_its_time_and_stops_further_health_answers() -> None:
    applicant = Applicant("prevoyance_individuelle")
    applicant.give_health_consent()
    assert step(applicant, "health", "health.").status_code == 200

    now = timezone.now()
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the API's times are to the millisecond
    withdrawn = applicant.post("/consents/health_data/withdrawal")
    assert withdrawn.status_code == 200
    body = withdrawn.json()
    assert body["in_force"] is False
    assert before <= timezone.datetime.fromisoformat(body["withdrawn_at"]) <= timezone.now()

    again = step(applicant, "health", "health.")
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "health_data_consent_required"
    assert HealthDeclaration.objects.filter(subscription_id=applicant.sid).count() == 1
    listed = applicant.client.get(
        f"/api/v1/dossiers/{applicant.sid}/consents", headers={"Authorization": f"Bearer {applicant.token}"}
    ).json()["consents"]
    assert [(c["in_force"], c["withdrawn_at"] is not None) for c in listed] == [(False, True)]
    logged = AuditEntry.objects.using("customer_service").filter(record_type="consent").order_by("sequence")
    assert [(e.action, e.details["withdrawn"]) for e in logged] == [("create", False), ("change", True)]


def test_withdrawing_a_consent_never_given_is_a_conflict_and_another_dossiers_token_is_refused() -> None:
    applicant, other = Applicant("prevoyance_individuelle"), Applicant("prevoyance_individuelle")
    assert applicant.post("/consents/health_data/withdrawal").json()["errors"][0]["code"] == "consent_not_in_force"
    borrowed = other.client.post(
        f"/api/v1/dossiers/{applicant.sid}/consents",
        {"purpose": "health_data", "text_version": VERSION},
        content_type="application/json",
        headers={"Authorization": f"Bearer {other.token}"},
    )
    assert borrowed.status_code == 401


def test_a_product_without_health_questions_needs_no_consent() -> None:
    assert Applicant("garantie_automobile").answer_all(CAR)["stage"] == "priced"
