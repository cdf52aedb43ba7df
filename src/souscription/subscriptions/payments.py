"""The direct debit at the payment provider, when configuration gives the payment port to one (Stripe).

The embedded default keeps the SEPA mandate in Billing and schedules the debit; nothing here runs. With a vendor:
- once the contract is signed and Billing has recorded the mandate, the dossier's workflow registers the payer and
  sets the mandate up at the provider from the IBAN and the acceptance given by signing (one durable vendor call
  per dossier); `mandate_status` is the provider's;
- once the dossier is active, the first instalment is debited off-session under that mandate (one call per
  invoice, the provider's idempotency key derived from it); `payment_status` is `processing`, as SEPA is;
- the provider's webhooks (`POST /api/v1/webhooks/stripe`) bring the outcome days later, and a mandate revoked by
  the payer's bank: once per event id, never backwards.

The IBAN is read by the call itself from Billing and sent to the provider only: DBOS's workflow database holds ids
and statuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone

from souscription.billing import services as billing
from souscription.billing import vendor_payments
from souscription.connectors import calls, registry
from souscription.connectors import services as connectors
from souscription.customers import services as customers
from souscription.integrations.payment.port import (
    AcceptanceChannel,
    BankAccount,
    Instalment,
    MandateAcceptance,
    Payer,
    PaymentEvent,
    SetupStatus,
)
from souscription.platform import workflows
from souscription.subscriptions import services
from souscription.subscriptions.models import Dossier as DossierRow

DATABASE = services.DATABASE


# -- from the dossier's workflows -------------------------------------------------------------------------------


def set_up_mandate(subscription_id: str, dossier_key: str) -> None:
    if not registry.uses_vendor("payment"):
        return
    key = f"mandate:{dossier_key}"
    calls.run("payment.set_up_mandate", key=key, subscription_id=subscription_id, args=(subscription_id,))


def collect_first_instalment(subscription_id: str, dossier_key: str, invoice_id: str) -> None:
    if not registry.uses_vendor("payment"):
        return
    key = f"debit:{dossier_key}:{invoice_id}"
    args = (subscription_id, invoice_id)
    calls.run("payment.collect_instalment", key=key, subscription_id=subscription_id, args=args)
    record_payment_status(subscription_id, invoice_id)


@workflows.step()
def record_payment_status(subscription_id: str, invoice_id: str) -> None:
    """The debit's status as Billing has it now: a webhook may already have brought a later one than the call's."""
    status = vendor_payments.payment_status(uuid.UUID(invoice_id))
    with transaction.atomic(using=DATABASE):
        DossierRow.objects.filter(subscription_id=subscription_id).update(payment_status=status[:16])


# -- the provider's webhooks ------------------------------------------------------------------------------------


def apply_event(event: PaymentEvent, *, vendor: str, now: datetime) -> bool:
    """Take a verified event in once; True when the dossier's `payment_status` or `mandate_status` changed."""
    with transaction.atomic(using=DATABASE):
        if not connectors.first_delivery(vendor=vendor, event_id=event.event_id, event_type=event.event_type, at=now):
            return False
        if event.payment_status is not None and event.payment_id:
            applied = vendor_payments.apply_payment_status(
                event.payment_id, event.payment_status.value, occurred_at=event.occurred_at
            )
            if applied is not None:
                _set(applied.subscription_id, payment_status=applied.status)
                return True
        if event.mandate_status is not None and event.mandate_id:
            subscription_id = vendor_payments.apply_mandate_status(event.mandate_id, event.mandate_status.value)
            if subscription_id is not None:
                _set(subscription_id, mandate_status=event.mandate_status.value)
                return True
    return False


def _set(subscription_id: str, **statuses: str) -> None:
    DossierRow.objects.filter(subscription_id=subscription_id).update(**statuses)


# -- the operations (run by connectors.calls, one attempt per DBOS step) ----------------------------------------


@calls.operation("payment.set_up_mandate")
def set_up_mandate_at_vendor(subscription_id: str, *, key: str) -> str:
    row, _dossier = services.load(subscription_id)
    account = billing.mandate_account(subscription_id)
    contact = customers.contact_of(row.customer_id) if row.customer_id else None
    if account is None or contact is None:
        raise ValueError("the dossier has no mandate or no contact")
    payments: Any = registry.adapter("payment")
    payer = payments.create_customer(
        Payer(subscription_id=subscription_id, name=account.holder, email=contact.email), key=f"{key}:customer"
    )
    # The customer accepted the mandate by signing the contract that carries it: the signed contract is the
    # evidence, kept by Legal, hence an offline acceptance dated at the signature.
    signed_on = account.signed_on or row.updated_at.date()
    signed_at = datetime.combine(signed_on, time(12, 0), tzinfo=UTC)
    setup = payments.set_up_mandate(
        payer.customer_id,
        BankAccount(holder_name=account.holder, email=contact.email, iban=account.iban),
        MandateAcceptance(channel=AcceptanceChannel.OFFLINE, accepted_at=signed_at),
        key=f"{key}:setup",
    )
    if setup.status is not SetupStatus.SUCCEEDED or not setup.mandate_id:
        raise ValueError(f"mandate set-up {setup.status.value} ({setup.failure_code or setup.vendor_status})")
    mandate = payments.mandate(setup.mandate_id)
    vendor_payments.record_vendor_mandate(
        subscription_id,
        customer_id=payer.customer_id,
        payment_method_id=setup.payment_method_id,
        mandate_id=setup.mandate_id,
        status=mandate.status.value,
    )
    return str(mandate.status.value)


@calls.operation("payment.collect_instalment")
def collect_at_vendor(subscription_id: str, invoice_id: str, *, key: str) -> str:
    mandate = vendor_payments.vendor_mandate(subscription_id)
    invoice = billing.invoice(uuid.UUID(invoice_id))
    if mandate is None:
        raise ValueError("no mandate at the payment provider for this dossier")
    payment = registry.adapter("payment").collect_instalment(
        Instalment(
            subscription_id=subscription_id,
            customer_id=mandate.customer_id,
            payment_method_id=mandate.payment_method_id,
            mandate_id=mandate.mandate_id,
            amount_cents=invoice.amount_cents,
            currency=invoice.currency.lower(),
            description=f"Prime d'assurance {subscription_id}, facture {invoice.number}",
        ),
        key=key,
    )
    applied = vendor_payments.record_payment(
        uuid.UUID(invoice_id), payment_id=payment.payment_id, status=payment.status.value, at=timezone.now()
    )
    return applied.status
