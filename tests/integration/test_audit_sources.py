"""The sensitive actions of a dossier's life write their audit entries, each in its department's own log, naming
who acted; the logs still verify afterwards."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from souscription.audit.models import AuditEntry
from tests.integration.test_dossier_api import CAR, HEALTH, Applicant, staff, validate_first_invoice

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]


def entries(database: str, **filters: str) -> list[tuple[str, str, str]]:
    rows = AuditEntry.objects.using(database).filter(**filters).order_by("sequence")
    return [(row.action, row.record_type, row.actor) for row in rows]


def test_a_car_dossier_leaves_its_trail_in_the_platform_legal_and_billing_logs() -> None:
    applicant = Applicant("garantie_automobile")
    applicant.answer_all(CAR)
    applicant.post("/acceptance")
    signed = applicant.sign("Léa Martin").json()
    validate_first_invoice(signed)
    me = f"applicant:{applicant.sid}"
    platform = entries("default", record_id=applicant.sid)
    assert ("change", "dossier", me) in platform
    assert ("decide", "dossier", "platform") in platform  # the rules' decision
    assert ("decide", "dossier", me) in platform  # the offer accepted
    assert ("sign", "dossier", me) in platform
    legal = entries("legal", record_type="contract_copy")
    assert [action for action, _type, _actor in legal] == ["create", "sign"]
    billing = entries("billing")
    assert ("change", "bank_account", me) in billing
    assert any(action == "validate" and kind == "invoice" and actor.isdigit() for action, kind, actor in billing)
    call_command("audit", "verify")  # raises (non-zero exit) when a log no longer verifies


def test_health_answers_are_logged_as_declared_without_their_values() -> None:
    applicant = Applicant("prevoyance_individuelle")
    applicant.answer_all(HEALTH)
    declared = AuditEntry.objects.using("legal").filter(record_type="health_declaration").get()
    assert declared.actor == f"applicant:{applicant.sid}"
    assert "tobacco" not in str(declared.details)
    assert "True" not in str(declared.details)


def test_the_estimateur_decision_names_the_estimateur() -> None:
    applicant = Applicant("prevoyance_individuelle")
    status = applicant.answer_all(HEALTH)
    investigator, _ = staff("investigator")
    task = next(t for t in status["tasks"] if t["kind"] == "investigation")
    investigator.post(
        f"/api/v1/underwriting/tasks/{task['id']}/report",
        {"findings": "Questionnaire complété par téléphone, déclarations cohérentes."},
        content_type="application/json",
    )
    estimator, user = staff("estimator")
    task = next(t for t in applicant.status()["tasks"] if t["kind"] == "estimation")
    estimate = {
        "risk_class": "standard",
        "premium_adjustment_pct": 0,
        "exclusions": [],
        "decision": "approve",
        "note": "Risque standard.",
    }
    answer = estimator.post(
        f"/api/v1/underwriting/tasks/{task['id']}/estimate", estimate, content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    decided = entries("legal", record_type="risk_estimate")
    assert decided == [("decide", "risk_estimate", str(user.pk))]
    assert entries("legal", record_type="investigation_report")[0][0] == "create"


def test_a_refused_request_is_logged_with_who_tried_and_what() -> None:
    applicant = Applicant("garantie_automobile")
    sales_rep, user = staff("sales_rep")
    refused = sales_rep.get("/api/v1/underwriting/queue")
    assert refused.status_code == 403
    assert Client().get(f"/api/v1/dossiers/{applicant.sid}").status_code == 401
    denied = entries("default", action="access_denied")
    assert (("access_denied", "request", str(user.pk))) in denied
    assert ("access_denied", "request", "anonymous") in denied
