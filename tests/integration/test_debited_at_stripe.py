"""With the payment port given to Stripe (its local fake, answering 30 % of calls with faults), a signed car dossier
has its SEPA mandate set up at Stripe from the IBAN Billing keeps, and once active its first instalment debited
off-session: `processing`, as SEPA is. Stripe's webhooks (late, repeated, out of order) bring the outcome days
later: `payment_status` becomes `succeeded` or `failed`, once, never backwards. Every effect happens once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from souscription.billing.models import Invoice
from souscription.configuration import VendorAccess
from tests.fakes.base import FaultPlan
from tests.fakes.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe
from tests.integration.test_dossier_api import CAR, Applicant, validate_first_invoice
from tests.integration.vendor_settings import port_given_to

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
WEBHOOK = "/api/v1/webhooks/stripe"
FAILING_IBAN = "FR8420041010050500013M02607"  # Stripe's test IBAN whose debits fail


@pytest.fixture
def stripe(settings: Any) -> Iterator[FakeStripe]:
    with FakeStripe(FaultPlan(rate=0.3, seed=6, kinds=("server_error", "rate_limited", "reset", "slow"))) as fake:
        access = VendorAccess("stripe", fake.url, token=SECRET_KEY, webhook_secret=WEBHOOK_SECRET)
        with port_given_to(settings, "payment", access):
            yield fake


def active_dossier(iban: str = CAR["billing.iban"]) -> tuple[Applicant, dict[str, Any]]:
    applicant = Applicant("garantie_automobile")
    applicant.answer_all({**CAR, "billing.iban": iban})
    applicant.post("/acceptance")
    signed = applicant.sign("Léa Martin").json()
    assert signed["stage"] == "signed"
    assert signed["mandate_status"] == "active"  # Stripe's mandate, set up before the dossier said it was
    active = validate_first_invoice(signed)
    assert active["stage"] == "active"
    return applicant, active


def deliver(stripe: FakeStripe, event: dict[str, Any], **options: Any) -> int:
    headers, body = stripe.signed(event, **options)
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return Client().post(WEBHOOK, body, content_type="application/json", **extra).status_code


def payment_of(applicant: Applicant) -> str:
    return str(Invoice.objects.get(subscription_id=applicant.sid).vendor_payment_id)


def test_the_first_instalment_is_debited_at_stripe_and_succeeds_days_later(stripe: FakeStripe) -> None:
    applicant, active = active_dossier()
    assert active["payment_status"] == "processing"
    payment_id = payment_of(applicant)
    assert stripe.objects[payment_id]["amount"] == Invoice.objects.get(subscription_id=applicant.sid).amount_cents
    # Stripe's events so far (the mandate's, the debit's processing) and those of the outcome, delivered late,
    # repeated and out of order.
    stripe.advance(payment_id)
    events = list(stripe.events)
    for event in [*reversed(events), *events]:
        assert deliver(stripe, event) == 204
    assert applicant.status()["payment_status"] == "succeeded"
    assert stripe.duplicates() == {}
    kinds = sorted(kind for kind, _key in stripe.effects)
    assert kinds == ["customer.create", "payment_intent.create", "setup_intent.create"]
    assert sum(stripe.faults_injected.values()) > 0


def test_a_debit_the_bank_refuses_is_shown_failed_and_a_late_processing_event_does_not_undo_it(
    stripe: FakeStripe,
) -> None:
    applicant, _active = active_dossier(FAILING_IBAN)
    payment_id = payment_of(applicant)
    processing = list(stripe.events)
    stripe.advance(payment_id)
    for event in stripe.events[len(processing) :]:
        assert deliver(stripe, event) == 204
    assert applicant.status()["payment_status"] == "failed"
    for event in processing:
        assert deliver(stripe, event) == 204
    assert applicant.status()["payment_status"] == "failed"


def test_a_webhook_not_signed_by_stripe_or_signed_too_long_ago_is_refused(stripe: FakeStripe) -> None:
    applicant, _active = active_dossier()
    stripe.advance(payment_of(applicant))
    succeeded = stripe.events[-1]
    assert deliver(stripe, succeeded, secret="whsec_not_the_one") == 401
    assert deliver(stripe, succeeded, at=stripe._now() - 301) == 401  # outside Stripe's 300 s tolerance
    assert applicant.status()["payment_status"] == "processing"


def test_a_mandate_the_payers_bank_revokes_is_shown_inactive(stripe: FakeStripe) -> None:
    applicant, _active = active_dossier()
    [mandate_id] = [key for key, item in stripe.objects.items() if item.get("object") == "mandate"]
    revoked = stripe.update_mandate(mandate_id, "inactive")
    assert deliver(stripe, revoked) == 204
    assert deliver(stripe, revoked) == 204  # Stripe's redelivery: taken in once
    assert applicant.status()["mandate_status"] == "inactive"
