"""Right of access (GDPR art. 15): one export holds everything every department database keeps on a customer,
decrypted, with the audit entries about it; only the DPO (auditor) and the IT manager may ask, and asking is logged."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from souscription.audit.models import AuditEntry
from souscription.underwriting.models import ContractCopy
from tests.integration.gdpr_people import (
    CAR_IBAN,
    EMAIL,
    ESTIMATE_MARKER,
    HEALTH_IBAN,
    PROFESSION_MARKER,
    REPORT_MARKER,
    TICKET_MARKER,
    customer_known_everywhere,
)
from tests.integration.test_dossier_api import CAR, staff

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]


def export_as(client: Client, customer_id: object, fmt: str = "json") -> Any:
    return client.get(f"/api/v1/customers/{customer_id}/data-export", {"format": fmt})


def test_the_access_export_holds_a_marker_of_every_department_database_and_is_logged() -> None:
    known = customer_known_everywhere()
    dpo, _ = staff("auditor")
    response = export_as(dpo, known.customer_id)
    assert response.status_code == 200, response.content
    export = response.json()
    databases = export["databases"]

    service = databases["customer_service"]
    assert service["contact"]["email"] == EMAIL
    assert [t["reason"] for t in service["tickets"]] == [TICKET_MARKER]
    assert [(c["purpose"], c["subscription_id"]) for c in service["consents"]] == [("health_data", known.health_sid)]

    dossiers = {d["subscription_id"]: d for d in databases["default"]["dossiers"]}
    assert set(dossiers) == {known.car_sid, known.health_sid}
    assert dossiers[known.car_sid]["stage"] == "active"
    assert {d["name"] for d in dossiers[known.car_sid]["decisions"]} >= {"eligibility", "pricing"}

    sales = databases["sales"]
    assert sales["commercial_profile"]["profession"] == PROFESSION_MARKER
    answers = {a["subscription_id"]: a["answers"] for a in sales["dossier_answers"]}
    assert answers[known.car_sid]["vehicle.registration"] == CAR["vehicle.registration"]
    assert {o["subscription_id"] for o in sales["offers"]} == {known.car_sid, known.health_sid}

    legal = databases["legal"]
    [declaration] = legal["health_declarations"]
    assert (declaration["answers"]["health.cigarettes_per_day"], declaration["shredded"]) == (10, False)
    assert [r["findings"] for r in legal["investigation_reports"]] == [REPORT_MARKER]
    assert [e["note"] for e in legal["risk_estimates"]] == [ESTIMATE_MARKER]
    signed = ContractCopy.objects.get(subscription_id=known.car_sid, kind="signed")
    copies = {(c["subscription_id"], c["kind"]): c["sha256"] for c in legal["contract_copies"]}
    assert copies[(known.car_sid, "signed")] == hashlib.sha256(bytes(signed.pdf)).hexdigest()

    billing = databases["billing"]
    assert {a["iban"] for a in billing["bank_accounts"]} == {CAR_IBAN, HEALTH_IBAN}
    assert [m["iban"] for m in billing["mandates"]] == [CAR_IBAN]
    assert [i["subscription_id"] for i in billing["invoices"]] == [known.car_sid]
    assert billing["ledger_entries"][0]["invoice_number"] == billing["invoices"][0]["number"]

    # Sales records no action on a dossier today; every other database has entries about this customer.
    assert set(export["audit_trail"]) == {"default", "customer_service", "sales", "legal", "billing"}
    for database in ("default", "customer_service", "legal", "billing"):
        assert export["audit_trail"][database], database
    assert any(e["record_type"] == "health_declaration" for e in export["audit_trail"]["legal"])
    logged = AuditEntry.objects.using("default").filter(action="export", record_id=str(known.customer_id)).get()
    assert (logged.role, logged.details["format"]) == ("auditor", "json")
    assert AuditEntry.objects.using("legal").filter(action="read_health", record_id=declaration["id"]).exists()


def test_the_html_export_is_readable_and_the_it_manager_may_ask_for_it_by_email() -> None:
    known = customer_known_everywhere()
    it_manager, _ = staff("it_manager")
    response = export_as(it_manager, EMAIL, fmt="html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for marker in (EMAIL, TICKET_MARKER, PROFESSION_MARKER, REPORT_MARKER, CAR_IBAN, known.car_sid):
        assert marker in page, marker
    assert "<script" not in page


def test_the_export_is_refused_to_every_other_role_and_to_anonymous_callers() -> None:
    known = customer_known_everywhere()
    for role in ("customer_advisor", "jurist", "legal_lead", "billing_lead", "director"):
        client, _ = staff(role)
        refused = export_as(client, known.customer_id)
        assert refused.status_code == 403, role
        assert refused.json()["errors"][0]["code"] == "permission_denied"
    assert export_as(Client(), known.customer_id).status_code == 401
    assert not AuditEntry.objects.using("default").filter(action="export").exists()


def test_the_export_command_writes_json_and_html_readable_by_their_owner_only(tmp_path: Path) -> None:
    known = customer_known_everywhere()
    prefix = tmp_path / "lea"
    call_command("gdpr", "export", "--customer", EMAIL, "--output", str(prefix))
    written = json.loads((tmp_path / "lea.json").read_text(encoding="utf-8"))
    assert written["customer_id"] == str(known.customer_id)
    assert TICKET_MARKER in (tmp_path / "lea.html").read_text(encoding="utf-8")
    for name in ("lea.json", "lea.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    entry = AuditEntry.objects.using("default").get(action="export")
    assert entry.actor.startswith("console:")
