"""Billing's record of the payment provider's objects (database `billing`), when configuration gives the payment
port to one (Stripe): the customer, payment method and mandate set up from the mandate the customer signed, and the
debit of each invoice with its status as the provider last gave it.

The provider answers late and out of order (a SEPA debit is `processing` for days, its webhooks may come twice or
after a later one): a status is applied only if it is newer and moves forward, so nothing goes backwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from souscription.billing.models import Invoice, Mandate
from souscription.platform import prepared

DATABASE = "billing"
_PAYMENT_RANK = {"scheduled": 0, "processing": 1, "requires_action": 1, "succeeded": 2, "failed": 2, "canceled": 2}
"""A debit goes forward only: a failed debit stays failed (a new attempt is a new payment); a succeeded one may
still be refunded (rank 3)."""


@dataclass(frozen=True)
class VendorMandate:
    customer_id: str
    payment_method_id: str
    mandate_id: str
    status: str


@dataclass(frozen=True)
class PaymentApplied:
    subscription_id: str
    status: str


def record_vendor_mandate(
    subscription_id: str, *, customer_id: str, payment_method_id: str, mandate_id: str, status: str
) -> None:
    with transaction.atomic(using=DATABASE):
        Mandate.objects.filter(subscription_id=subscription_id).update(
            vendor_customer_id=customer_id[:64],
            vendor_payment_method_id=payment_method_id[:64],
            vendor_mandate_id=mandate_id[:64],
            vendor_status=status[:16],
        )


def vendor_mandate(subscription_id: str) -> VendorMandate | None:
    row = Mandate.objects.filter(subscription_id=subscription_id).exclude(vendor_mandate_id="").first()
    if row is None:
        return None
    return VendorMandate(row.vendor_customer_id, row.vendor_payment_method_id, row.vendor_mandate_id, row.vendor_status)


def mandate_status(subscription_id: str) -> str:
    """What the dossier shows: the provider's state of the mandate when there is one, else Billing's own."""
    row = prepared.one(
        Mandate, by="subscription_id", value=subscription_id, only=("status", "vendor_status"), using=DATABASE
    )
    if row is None:
        return "none"
    return row.vendor_status or row.status


def apply_mandate_status(mandate_id: str, status: str) -> str | None:
    """The provider changed the mandate (revoked by the payer's bank, activated): the subscription it belongs to."""
    with transaction.atomic(using=DATABASE):
        row = Mandate.objects.select_for_update().filter(vendor_mandate_id=mandate_id).first()
        if row is None or not mandate_id:
            return None
        row.vendor_status = status[:16]
        row.save(update_fields=["vendor_status"])
    return row.subscription_id


def record_payment(invoice_id: uuid.UUID, *, payment_id: str, status: str, at: datetime) -> PaymentApplied:
    """The debit started for an invoice (its status as the provider answered the call)."""
    with transaction.atomic(using=DATABASE):
        row = Invoice.objects.select_for_update().get(id=invoice_id)
        row.vendor_payment_id = payment_id[:64]
        if _forward(row.payment_status, status):
            row.payment_status = status[:16]
        row.save(update_fields=["vendor_payment_id", "payment_status"])
    return PaymentApplied(row.subscription_id, row.payment_status)


def payment_status(invoice_id: uuid.UUID) -> str:
    return str(Invoice.objects.filter(id=invoice_id).values_list("payment_status", flat=True).first() or "")


def apply_payment_status(payment_id: str, status: str, *, occurred_at: datetime) -> PaymentApplied | None:
    """A provider's notification of a debit: applied if newer and forward; None when nothing changed."""
    with transaction.atomic(using=DATABASE):
        row = Invoice.objects.select_for_update().filter(vendor_payment_id=payment_id).first() if payment_id else None
        if row is None or not _forward(row.payment_status, status):
            return None
        if row.payment_status_at is not None and occurred_at < row.payment_status_at:
            return None
        row.payment_status, row.payment_status_at = status[:16], occurred_at
        row.save(update_fields=["payment_status", "payment_status_at"])
    return PaymentApplied(row.subscription_id, row.payment_status)


def _forward(current: str, new: str) -> bool:
    if not current:
        return True
    if current == "refunded":
        return False
    if new == "refunded":
        return current == "succeeded"
    return _PAYMENT_RANK.get(new, 0) >= _PAYMENT_RANK.get(current, 0) and _PAYMENT_RANK.get(current, 0) < 2
