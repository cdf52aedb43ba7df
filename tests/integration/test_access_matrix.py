"""Every role x every resource x every field x read/write, through the API and the rendered pages: no leak.

Two dossiers are driven to `active` with marker values (a contact email, an IBAN, a medical exclusion, health
answers that make the "Fumeur" price factor): then each role, an unknown role and the applicant read every status
field, every document and queue, and try every action. Two kinds of assertion: the API gives each viewer exactly
what the access policy says (`souscription.access.policy`), and, independently of that table, health data never
reaches a role outside Legal, bank data never leaves Billing, and nobody outside the departments sees a customer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from souscription.access import policy
from souscription.access.policy import Category, Permission, Viewer
from souscription.identity.domain import Department, Role
from souscription.identity.models import User
from tests.integration.conftest import PASSWORD, signed_in
from tests.integration.test_dossier_api import CAR, HEALTH, STEPS, Applicant, post, staff, validate_first_invoice

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]

EXCLUSION = f"Exclusion-marqueur-{uuid.uuid4().hex[:8]}"
LEGAL = {role for role in Role if role.department is Department.LEGAL}
BILLING = {role for role in Role if role.department is Department.BILLING}
DEPARTMENTS = {Department.CUSTOMER_SERVICE, Department.SALES, Department.LEGAL, Department.BILLING}
WORKING = {role for role in Role if role.department in DEPARTMENTS}
VIEWERS: list[Role | str] = [*Role, "unknown", "applicant"]


def health_dossier_to_active() -> Applicant:
    applicant = Applicant("prevoyance_individuelle")
    referred = applicant.answer_all(HEALTH)
    investigator, _ = staff("investigator")
    report = {"findings": "Questionnaire complété par téléphone, tabagisme confirmé."}
    after = post(investigator, f"/underwriting/tasks/{referred['tasks'][0]['id']}/report", report).json()["status"]
    estimation = next(t for t in after["tasks"] if t["kind"] == "estimation")
    estimator, _ = staff("estimator")
    decision = {
        "risk_class": "aggravated",
        "premium_adjustment_pct": 25,
        "exclusions": [EXCLUSION],
        "decision": "approve",
        "note": "Fumeur : surprime de 25 %.",
    }
    post(estimator, f"/underwriting/tasks/{estimation['id']}/estimate", decision)
    accepted = applicant.post("/acceptance").json()
    contract_task = next(t for t in accepted["tasks"] if t["kind"] == "contract")
    jurist, _ = staff("jurist")
    post(jurist, f"/underwriting/tasks/{contract_task['id']}/contract")
    signed = applicant.sign("Inès Durand").json()
    assert validate_first_invoice(signed)["stage"] == "active"
    return applicant


def car_dossier_to_active() -> Applicant:
    applicant = Applicant("garantie_automobile")
    applicant.answer_all(CAR)
    applicant.post("/acceptance")
    signed = applicant.sign("Léa Martin").json()
    assert validate_first_invoice(signed)["stage"] == "active"
    return applicant


class Reader:
    """One viewer: a signed-in staff member (a known or unknown role), or the applicant of the dossier read."""

    def __init__(self, who: Role | str) -> None:
        self.who = who
        self.client = Client()
        if who == "unknown":
            user = User.objects.create_user(f"inconnu-{uuid.uuid4().hex[:6]}@assureur.test", PASSWORD, role="ghost")
            signed_in(self.client, user)
            self.viewer = Viewer(role=None)
        elif isinstance(who, Role):
            user = User.objects.create_user(f"{who.value}-{uuid.uuid4().hex[:6]}@assureur.test", PASSWORD, role=who)
            signed_in(self.client, user)
            self.viewer = Viewer(role=who)
        else:
            self.viewer = Viewer(role=None, is_applicant=True)

    def get(self, path: str, dossier: Applicant) -> Any:
        headers = {"Authorization": f"Bearer {dossier.token}"} if self.who == "applicant" else {}
        return self.client.get(f"/api/v1{path}", headers=headers)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(f"/api/v1{path}", body or {}, content_type="application/json")


def filled(value: Any) -> bool:
    return value not in (None, [], {})


def status_violations(reader: Reader, dossier: Applicant, *, health_product: bool) -> list[str]:
    answer = reader.get(f"/dossiers/{dossier.sid}", dossier)
    if not policy.readable(reader.viewer, Category.DOSSIER):
        return [] if answer.status_code == 403 else [f"status readable ({answer.status_code})"]
    if answer.status_code != 200:
        return [f"status refused ({answer.status_code})"]
    status, found = answer.json(), []
    values = {
        "customer.email": status["customer"]["email"],
        "customer.country": status["customer"]["country"],
        "offer": status["offer"],
        "offer.breakdown": (status["offer"] or {}).get("breakdown"),
        "exclusions": status["exclusions"],
        "tasks": status["tasks"],
        "invoice_id": status["invoice_id"],
    }
    for field, value in values.items():
        category = policy.status_field_category(field, health_product=health_product, referred=health_product)
        if field in {"tasks", "exclusions"} and not health_product:
            continue  # a straight-through dossier has no underwriting tasks or exclusions to show or hide
        if filled(value) != policy.readable(reader.viewer, category):
            found.append(f"{field} {'shown' if filled(value) else 'withheld'} ({category})")
    body = answer.content.decode()
    if (EXCLUSION in body or '"Fumeur"' in body) and reader.who not in LEGAL and reader.who != "applicant":
        found.append("health data outside Legal")
    if any(iban in body for iban in (CAR["billing.iban"], HEALTH["billing.iban"])):
        found.append("an IBAN in the status")
    if dossier_email(dossier) in body and reader.who not in WORKING and reader.who != "applicant":
        found.append("contact data outside the departments")
    return found


def dossier_email(dossier: Applicant) -> str:
    return str((CAR if dossier.product == "garantie_automobile" else HEALTH)["customer.email"])


def document_violations(reader: Reader, dossier: Applicant, *, health_product: bool) -> list[str]:
    found = []
    for kind in ("offer", "contract", "signed-contract"):
        code = reader.get(f"/dossiers/{dossier.sid}/documents/{kind}", dossier).status_code
        allowed = policy.readable(reader.viewer, Category.DOSSIER) and policy.readable(
            reader.viewer, policy.document_category(kind, health_product=health_product)
        )
        if (code == 200) != allowed:
            found.append(f"document {kind}: {code}")
        if code == 200 and kind != "offer" and reader.who not in LEGAL and reader.who != "applicant":
            found.append(f"contract {kind} outside Legal")
    return found


def action_violations(reader: Reader, car: Applicant) -> list[str]:
    """Each action by a role it is not granted to is refused (403); a granted role passes the check (then meets a
    missing task or invoice, or a dossier past draft: anything but 403)."""
    if reader.who == "applicant":
        return []
    role = reader.viewer.role
    unknown = uuid.uuid4()
    attempts = {
        Permission.FILE_INVESTIGATION_REPORT: (f"/underwriting/tasks/{unknown}/report", {"findings": "Rien à dire."}),
        Permission.ESTIMATE_RISK: (
            f"/underwriting/tasks/{unknown}/estimate",
            {"risk_class": "standard", "premium_adjustment_pct": 0, "decision": "approve", "note": "RAS"},
        ),
        Permission.DRAFT_CONTRACT: (f"/underwriting/tasks/{unknown}/contract", None),
        Permission.VALIDATE_INVOICE: (f"/invoices/{unknown}/validation", None),
        Permission.ACT_ON_DOSSIER: (f"/dossiers/{car.sid}/acceptance", None),  # field writes: the test below
        Permission.MANAGE_STAFF: (f"/staff-users/{10**9}/deactivation", None),
    }
    found = []
    for permission, (path, body) in attempts.items():
        code = reader.post(path, body).status_code
        if (code != 403) != policy.may(role, permission):
            found.append(f"{permission}: {code}")
    queue = reader.client.get("/api/v1/underwriting/queue").status_code
    if (queue == 200) != policy.may(role, Permission.VIEW_UNDERWRITING_QUEUE):
        found.append(f"underwriting queue: {queue}")
    return found


def test_every_viewer_reads_exactly_what_the_policy_allows_and_acts_only_where_granted() -> None:
    car, health = car_dossier_to_active(), health_dossier_to_active()
    report: dict[str, list[str]] = {}
    for who in VIEWERS:
        reader = Reader(who)
        problems = [
            *(f"car {p}" for p in status_violations(reader, car, health_product=False)),
            *(f"health {p}" for p in status_violations(reader, health, health_product=True)),
            *(f"car {p}" for p in document_violations(reader, car, health_product=False)),
            *(f"health {p}" for p in document_violations(reader, health, health_product=True)),
            *action_violations(reader, car),
        ]
        if problems:
            report[str(who)] = problems
    assert report == {}


def test_no_rendered_page_shows_a_customer_to_any_role() -> None:
    car = car_dossier_to_active()
    markers = (CAR["customer.email"], CAR["billing.iban"], CAR["customer.last_name"])
    for who in [*Role, "unknown"]:
        reader = Reader(who)
        page = reader.client.get("/")
        assert page.status_code == (403 if who == "unknown" else 200), who
        html = page.content.decode()
        assert not [marker for marker in markers if marker in html], (who, car.sid)


def get_operations() -> list[str]:
    from souscription.api import api

    return [path for path, operations in api.get_openapi_schema()["paths"].items() if "get" in operations]


def test_every_get_operation_of_the_api_keeps_health_bank_and_contact_data_with_their_owners() -> None:
    """Walks the OpenAPI document itself, so that an operation added later is walked too without editing this test."""
    health = health_dossier_to_active()
    values = {"subscription_id": health.sid, "customer_id": HEALTH["customer.email"], "kind": "offer"}
    markers = {
        "health": (EXCLUSION, '"Fumeur"'),
        "bank": (HEALTH["billing.iban"],),
        "contact": (HEALTH["customer.email"], HEALTH["customer.last_name"]),
    }
    owners = {"health": LEGAL, "bank": BILLING, "contact": WORKING}
    exporters = set(policy.roles_granted(Permission.EXPORT_CUSTOMER_DATA))  # the DPO's right of access: everything
    leaks = []
    for who in [*Role, "unknown", "anonymous"]:
        reader = Reader(who) if who != "anonymous" else None
        client = reader.client if reader else Client()
        for template in get_operations():
            path = template.format(**values)
            if path.endswith(("/documents/offer", "/docs", "/openapi.json")):
                continue  # PDFs are walked by the matrix above; the docs carry no customer data
            body = client.get(path).content.decode(errors="replace")
            for kind, found in markers.items():
                allowed = who in owners[kind] or (who in exporters and "/data-export" in template)
                if not allowed and any(marker in body for marker in found):
                    leaks.append(f"{who} reads {kind} data at GET {template}")
    assert leaks == []


def test_each_role_writes_only_its_departments_fields_and_health_and_bank_answers_come_from_the_applicant() -> None:
    car = Applicant("garantie_automobile")
    health = Applicant("prevoyance_individuelle")
    health.give_health_consent()
    steps = {
        car: {
            step: {k: v for k, v in CAR.items() if k.startswith(prefix)}
            for step, prefix in STEPS["garantie_automobile"].items()
        },
        health: {"health": {k: v for k, v in HEALTH.items() if k.startswith("health.")}},
    }
    slices = {
        "vehicle": {"commercial"},
        "driver": {"commercial"},
        "contact": {"contact"},
        "billing": {"bank", "commercial"},
    }
    slices["health"] = {"health"}
    wrong = []
    for who in [*Role, "unknown"]:
        reader = Reader(who)
        for dossier, answers_by_step in steps.items():
            for step, answers in answers_by_step.items():
                code = reader.post(f"/dossiers/{dossier.sid}/steps/{step}", {"answers": answers}).status_code
                role = reader.viewer.role
                allowed = policy.may(role, Permission.ACT_ON_DOSSIER) and all(
                    policy.writable(reader.viewer, Category(found)) for found in slices[step]
                )
                if (code == 200) != allowed or (code == 200 and slices[step] & {"health", "bank"}):
                    wrong.append(f"{who} {step}: {code}")
    for dossier, answers_by_step in steps.items():  # the applicant answers everything of theirs
        for step, answers in answers_by_step.items():
            assert dossier.post(f"/steps/{step}", {"answers": answers}).status_code == 200, step
    assert wrong == []
