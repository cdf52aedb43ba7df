"""Billing's use cases (database `billing`)."""

from __future__ import annotations

import uuid
from datetime import date

from django.db import transaction

from souscription.billing.models import Invoice

DATABASE = "billing"


def draft_invoice(
    *,
    invoice_id: uuid.UUID,
    number: str,
    customer_id: uuid.UUID,
    amount_cents: int,
    drafted_by: int,
    issued_on: date,
) -> Invoice:
    """Draft an invoice (idempotent on `invoice_id`); validation by a second person comes with its workflow."""
    with transaction.atomic(using=DATABASE):
        invoice, _created = Invoice.objects.get_or_create(
            id=invoice_id,
            defaults={
                "number": number,
                "customer_id": customer_id,
                "amount_cents": amount_cents,
                "drafted_by": drafted_by,
                "issued_on": issued_on,
            },
        )
    return invoice


def draft_invoice_count() -> int:
    return Invoice.objects.filter(status=Invoice.Status.DRAFT).count()
