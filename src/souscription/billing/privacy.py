"""Billing's share of the GDPR rights (database `billing`): the access export, decrypted, and the erasure of a
dossier's slice by crypto-shredding and deletion, and the accounting documents past their retention."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.db import transaction

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.billing.models import BankAccount, DataKey, Invoice, LedgerEntry, Mandate
from souscription.billing.services import DATABASE, _cipher, _open_iban
from souscription.platform.encryption.keyring import DataKeyShredded


def customer_data(*, customer_id: uuid.UUID, subscription_ids: list[str]) -> dict[str, Any]:
    """Right of access: bank accounts and mandates with their IBAN decrypted (None once shredded), invoices and
    their ledger entries."""
    accounts = BankAccount.objects.filter(subscription_id__in=subscription_ids) | BankAccount.objects.filter(
        customer_id=customer_id
    )
    mandates = Mandate.objects.filter(subscription_id__in=subscription_ids) | Mandate.objects.filter(
        customer_id=customer_id
    )
    invoices = invoices_of(customer_id=customer_id, subscription_ids=subscription_ids)
    numbers = [row["number"] for row in invoices]
    return {
        "bank_accounts": [
            {
                "id": a.id,
                "subscription_id": a.subscription_id,
                "holder": a.holder,
                "iban": _readable_iban(a),
                "bic": a.bic,
                "updated_at": a.updated_at,
            }
            for a in accounts.order_by("subscription_id")
        ],
        "mandates": mandates_of(mandates),
        "invoices": invoices,
        "ledger_entries": [
            {"invoice_number": e.invoice_number, "journal": e.journal, "entry_date": e.entry_date, "lines": e.lines}
            for e in LedgerEntry.objects.filter(invoice_number__in=numbers).order_by("entry_date")
        ],
    }


def mandates_of(rows: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "reference": m.reference,
            "subscription_id": m.subscription_id,
            "holder": m.holder,
            "iban": _readable_iban(m),
            "bic": m.bic,
            "status": m.status,
            "signed_on": m.signed_on,
        }
        for m in rows.order_by("signed_on")
    ]


def invoices_of(*, customer_id: uuid.UUID, subscription_ids: list[str]) -> list[dict[str, Any]]:
    rows = Invoice.objects.filter(customer_id=customer_id) | Invoice.objects.filter(
        subscription_id__in=subscription_ids
    )
    return [
        {
            "id": i.id,
            "number": i.number,
            "subscription_id": i.subscription_id,
            "amount_cents": i.amount_cents,
            "currency": i.currency,
            "status": i.status,
            "issued_on": i.issued_on,
            "validated_at": i.validated_at,
        }
        for i in rows.order_by("issued_on", "number")
    ]


def mandates_kept(subscription_ids: list[str]) -> list[dict[str, Any]]:
    return mandates_of(Mandate.objects.filter(subscription_id__in=subscription_ids))


def _readable_iban(row: BankAccount | Mandate) -> str | None:
    try:
        return _open_iban(row)
    except DataKeyShredded:
        return None


def erase_dossier(*, subscription_id: str, dry_run: bool, reason: str) -> dict[str, int]:
    """Erase a dossier's bank details: its data key destroyed (every IBAN of the dossier unreadable, in backups
    too), the account deleted, the mandate cancelled. The mandate's reference and date and the invoices stay:
    accounting documents, kept 10 years (Code de commerce, art. L123-22)."""
    with transaction.atomic(using=DATABASE):
        accounts = BankAccount.objects.filter(subscription_id=subscription_id)
        counts = {
            "bank_accounts": accounts.count(),
            "data_keys_destroyed": DataKey.objects.filter(subject=subscription_id).count(),
            "mandates_cancelled": Mandate.objects.filter(
                subscription_id=subscription_id, status=Mandate.Status.ACTIVE
            ).count(),
        }
        if dry_run or not any(counts.values()):
            return counts
        _cipher.shred(subject=subscription_id)
        accounts.delete()
        Mandate.objects.filter(subscription_id=subscription_id).update(status=Mandate.Status.CANCELLED)
        record_action(
            database=DATABASE,
            action=Action.ERASE,
            record_type="dossier",
            record_id=subscription_id,
            details={**counts, "reason": reason},
        )
    return counts


def purge_accounting_before(*, cutoff: date, dry_run: bool) -> int:
    """Retention: invoices issued, and ledger entries written, before `cutoff` are deleted. Returns the count."""
    with transaction.atomic(using=DATABASE):
        invoices = Invoice.objects.filter(issued_on__lt=cutoff)
        entries = LedgerEntry.objects.filter(entry_date__lt=cutoff)
        gone = [("invoice", number) for number in invoices.values_list("number", flat=True)]
        gone += [("ledger_entry", number) for number in entries.values_list("invoice_number", flat=True)]
        if dry_run or not gone:
            return len(gone)
        invoices.delete()
        entries.delete()
        for record_type, number in gone:
            record_action(
                database=DATABASE,
                action=Action.ERASE,
                record_type=record_type,
                record_id=number,
                details={"retention_rule": "accounting"},
            )
    return len(gone)
