"""Retention: rows past their period are removed, younger ones stay, a dry run changes nothing; the same rules run
daily as a DBOS scheduled workflow."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from dbos import DBOS
from django.core.management import call_command
from django.utils import timezone

from souscription.billing import services as billing
from souscription.billing.models import Invoice, LedgerEntry
from souscription.consents import services as consents
from souscription.consents.domain import Purpose, current_text
from souscription.consents.models import Consent
from souscription.customers import services as customers
from souscription.customers.models import Customer
from souscription.gdpr.domain import months_before
from souscription.gdpr.workflows import RETENTION_CRON, gdpr_retention
from souscription.sales import services as sales
from souscription.subscriptions.models import Dossier
from souscription.tickets import services as tickets
from souscription.tickets.models import Ticket
from tests.integration.test_dossier_api import CAR, Applicant

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]


@dataclass(frozen=True)
class Rows:
    old: str
    young: str


def withdrawn_dossier(*, months_ago: int) -> str:
    applicant = Applicant("garantie_automobile")
    vehicle = {k: v for k, v in CAR.items() if k.startswith("vehicle.")}
    assert applicant.post("/steps/vehicle", {"answers": vehicle}).status_code == 200
    assert applicant.post("/withdrawal", {"reason": "Le client renonce"}).json()["stage"] == "withdrawn"
    Dossier.objects.filter(subscription_id=applicant.sid).update(updated_at=months_before(timezone.now(), months_ago))
    return applicant.sid


def ticket(*, days_ago: int) -> str:
    ticket_id = uuid.uuid4()
    at = timezone.now() - timedelta(days=days_ago)
    tickets.log_contact(
        ticket_id=ticket_id, customer_id=uuid.uuid4(), channel="email", reason="Attestation", operator_id=1,
        action="Envoyée", at=at,
    )  # fmt: skip
    return str(ticket_id)


def invoice(*, year: int) -> str:
    number = f"F-{year}-{uuid.uuid4().hex[:6]}"
    issued = date(year, 6, 30)
    billing.draft_invoice(
        invoice_id=uuid.uuid4(), number=number, customer_id=uuid.uuid4(), amount_cents=1200, drafted_by=None,
        issued_on=issued,
    )  # fmt: skip
    LedgerEntry.objects.create(
        id=uuid.uuid4(), invoice_number=number, journal="VT", entry_date=issued, lines=[], posted_at=timezone.now()
    )
    return number


def withdrawn_consent(*, months_ago: int) -> str:
    sid = f"SUB-2020-{uuid.uuid4().int % 10**6:06d}"
    version = current_text(Purpose.HEALTH_DATA).version
    now = timezone.now()
    consents.give_consent(
        subscription_id=sid, purpose=Purpose.HEALTH_DATA, text_version=version, customer_id=None, now=now
    )
    withdrawn = consents.withdraw_consent(subscription_id=sid, purpose=Purpose.HEALTH_DATA, now=now)
    Consent.objects.filter(id=withdrawn.id).update(withdrawn_at=months_before(now, months_ago))
    return str(withdrawn.id)


def prospect(*, months_ago: int) -> str:
    customer_id = uuid.uuid4()
    contact = customers.ContactDetails("Noé", "Petit", f"noe.{customer_id.hex[:8]}@exemple.fr")
    customers.register_customer(customer_id=customer_id, contact=contact)
    Customer.objects.filter(id=customer_id).update(updated_at=months_before(timezone.now(), months_ago))
    return str(customer_id)


def populate() -> dict[str, Rows]:
    year = timezone.now().year
    return {
        "not_concluded_dossiers": Rows(withdrawn_dossier(months_ago=7), withdrawn_dossier(months_ago=5)),
        "tickets": Rows(ticket(days_ago=3 * 366 + 10), ticket(days_ago=2 * 365)),
        "accounting": Rows(invoice(year=year - 11), invoice(year=year - 9)),
        "withdrawn_consents": Rows(withdrawn_consent(months_ago=61), withdrawn_consent(months_ago=59)),
        "prospects": Rows(prospect(months_ago=37), prospect(months_ago=35)),
    }


def exists(category: str, key: str) -> bool:
    found = {
        "not_concluded_dossiers": lambda: (
            Dossier.objects.filter(subscription_id=key).exists() or bool(sales.dossier_answers(key))
        ),
        "tickets": lambda: Ticket.objects.filter(id=key).exists(),
        "accounting": lambda: (
            Invoice.objects.filter(number=key).exists() or LedgerEntry.objects.filter(invoice_number=key).exists()
        ),
        "withdrawn_consents": lambda: Consent.objects.filter(id=key).exists(),
        "prospects": lambda: Customer.objects.filter(id=key).exists(),
    }
    return found[category]()


def test_a_dry_run_counts_the_rows_past_their_period_and_changes_nothing() -> None:
    rows = populate()
    out = io.StringIO()
    call_command("gdpr", "retention", "--dry-run", "--format", "json", stdout=out)
    counted = {outcome["category"]: outcome["count"] for outcome in json.loads(out.getvalue())}
    # One old row per category; accounting counts documents: the old invoice and its ledger entry.
    assert counted == {**{category: 1 for category in rows}, "accounting": 2}
    for category, pair in rows.items():
        assert exists(category, pair.old), category
        assert exists(category, pair.young), category


def test_rows_past_their_retention_period_are_removed_and_younger_ones_stay() -> None:
    rows = populate()
    call_command("gdpr", "retention", stdout=io.StringIO())
    for category, pair in rows.items():
        assert not exists(category, pair.old), category
        assert exists(category, pair.young), category


def test_the_retention_job_is_scheduled_daily_in_dbos_and_applies_every_rule() -> None:
    schedule = DBOS.get_schedule("gdpr_retention")
    assert schedule is not None
    assert (schedule["schedule"], schedule["cron_timezone"]) == (RETENTION_CRON, "Europe/Paris")
    old = ticket(days_ago=4 * 365)
    outcomes = DBOS.start_workflow(gdpr_retention, timezone.now(), None).get_result()
    assert {o["category"] for o in outcomes} >= {"tickets", "accounting", "not_concluded_dossiers"}
    assert next(o["count"] for o in outcomes if o["category"] == "tickets") == 1
    assert not Ticket.objects.filter(id=old).exists()
