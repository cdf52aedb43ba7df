"""Billing's use cases (database `billing`): bank details, SEPA mandates, invoices and their validation by a
second person, and the embedded ERP's ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from souscription.audit import context as audit_context
from souscription.audit.context import Actor, record_action
from souscription.audit.domain import Action
from souscription.billing.models import BankAccount, DataKey, Invoice, LedgerEntry, Mandate
from souscription.kernel.errors import Conflict, DomainError, NotFound, PermissionDenied
from souscription.platform import prepared
from souscription.platform.encryption.store import FieldCipher

DATABASE = "billing"
_cipher = FieldCipher(DataKey, database=DATABASE)


def draft_invoice(
    *,
    invoice_id: uuid.UUID,
    number: str,
    customer_id: uuid.UUID,
    amount_cents: int,
    drafted_by: int | None,
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


# -- bank details and the SEPA mandate -----------------------------------------------------------------------


class InvalidIban(DomainError):
    code = "invalid_iban"
    message = "IBAN non valide : vérifiez la clé et la longueur (exemple : FR76 3000 6000 0112 3456 7890 189)."


def record_bank_details(*, subscription_id: str, holder: str, iban: str, at: datetime) -> None:
    """Keep the account to debit for a dossier, its IBAN checked (structure, length, checksum) and its BIC found.

    The IBAN is stored sealed with the dossier's data key; only its last four characters are kept in clear."""
    try:
        checked = IBAN(iban)
    except SchwiftyException:
        raise InvalidIban(field="billing.iban") from None
    bic = checked.bic
    account_id = uuid.uuid5(uuid.NAMESPACE_URL, f"bank-account:{subscription_id}")
    with transaction.atomic(using=DATABASE):
        record_action(
            database=DATABASE,
            action=Action.CHANGE,
            record_type="bank_account",
            record_id=account_id,
            details={"subscription_id": subscription_id, "iban_last4": checked.compact[-4:]},
        )
        prepared.update_or_create(
            BankAccount,
            where={"subscription_id": subscription_id},
            using=DATABASE,
            defaults={
                "id": account_id,
                "holder": holder,
                "iban_sealed": _seal_iban(checked.compact, subject=subscription_id, model=BankAccount, pk=account_id),
                "iban_last4": checked.compact[-4:],
                "bic": str(bic) if bic else "",
                "updated_at": at,
            },
        )


def bank_answers(subscription_id: str) -> dict[str, Any]:
    account = prepared.one(BankAccount, by="subscription_id", value=subscription_id)
    if account is None:
        return {}
    return {"billing.account_holder": account.holder, "billing.iban": _open_iban(account)}


def mandate_reference(subscription_id: str) -> str:
    """The unique mandate reference (RUM, at most 35 characters): the insurer's prefix and the dossier."""
    return f"RUM-{subscription_id}"


def record_mandate(*, subscription_id: str, customer_id: uuid.UUID | None, signed_on: date) -> str:
    """Record the SEPA Direct Debit mandate the customer signed with the contract (idempotent per dossier)."""
    mandate_id = uuid.uuid5(uuid.NAMESPACE_URL, f"mandate:{subscription_id}")
    with transaction.atomic(using=DATABASE):
        account = prepared.one(BankAccount, by="subscription_id", value=subscription_id, using=DATABASE)
        if account is None:
            raise BankAccount.DoesNotExist(f"{subscription_id} : aucun compte bancaire, le mandat ne peut être signé.")
        if customer_id and account.customer_id != customer_id:
            account.customer_id = customer_id
            prepared.update_all(account, fields=("customer_id",))
        existing = prepared.one(Mandate, by="subscription_id", value=subscription_id, using=DATABASE)
        if existing is not None:
            return existing.reference
        mandate = Mandate(
            id=mandate_id,
            reference=mandate_reference(subscription_id),
            subscription_id=subscription_id,
            customer_id=customer_id,
            holder=account.holder,
            iban_sealed=_seal_iban(_open_iban(account), subject=subscription_id, model=Mandate, pk=mandate_id),
            iban_last4=account.iban_last4,
            bic=account.bic,
            signed_on=signed_on,
        )
        prepared.insert(mandate, using=DATABASE)
    return mandate.reference


@dataclass(frozen=True)
class MandateAccount:
    reference: str
    holder: str
    iban: str
    bic: str
    status: str
    signed_on: date | None = None


def mandate_account(subscription_id: str) -> MandateAccount | None:
    """The debtor's account as signed on the mandate, IBAN in clear: for the direct debit, never for display."""
    row = Mandate.objects.filter(subscription_id=subscription_id).first()
    if row is None:
        return None
    return MandateAccount(row.reference, row.holder, _open_iban(row), row.bic, row.status, row.signed_on)


def shred_bank_details(*, subscription_id: str) -> int:
    """Crypto-shredding for erasure: the dossier's data key is destroyed, its IBANs (account and mandate, in this
    database, its replicas and its backups) can no longer be read. Returns the number of data keys destroyed."""
    return _cipher.shred(subject=subscription_id)


def _seal_iban(iban: str, *, subject: str, model: type[BankAccount | Mandate], pk: uuid.UUID) -> str:
    return _cipher.seal(iban, subject=subject, table=model._meta.db_table, record_id=pk, field="iban")


def _open_iban(row: BankAccount | Mandate) -> str:
    return _cipher.open(row.iban_sealed, table=row._meta.db_table, record_id=row.id, field="iban")


def cancel_mandate(subscription_id: str) -> bool:
    with transaction.atomic(using=DATABASE):
        return bool(
            Mandate.objects.filter(subscription_id=subscription_id, status=Mandate.Status.ACTIVE).update(
                status=Mandate.Status.CANCELLED
            )
        )


# -- the first invoice, its validation by a second person, the ledger ------------------------------------------


def first_invoice_number(subscription_id: str) -> str:
    return f"F-{subscription_id.removeprefix('SUB-')}-01"


def draft_first_invoice(
    *, subscription_id: str, customer_id: uuid.UUID, amount_cents: int, issued_on: date
) -> uuid.UUID:
    """The platform drafts the contract's first instalment; an accountant validates it (four-eyes rule)."""
    invoice_id = uuid.uuid5(uuid.NAMESPACE_URL, f"first-invoice:{subscription_id}")
    with transaction.atomic(using=DATABASE):
        prepared.get_or_create(
            Invoice,
            where={"id": invoice_id},
            using=DATABASE,
            defaults={
                "number": first_invoice_number(subscription_id),
                "subscription_id": subscription_id,
                "customer_id": customer_id,
                "amount_cents": amount_cents,
                "drafted_by": None,
                "issued_on": issued_on,
            },
        )
    return invoice_id


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"
    message = "Facture introuvable."


class SecondPersonRequired(PermissionDenied):
    code = "second_person_required"
    message = "Une facture est validée par une autre personne que celle qui l'a rédigée."


class InvoiceAlreadyValidated(Conflict):
    code = "invoice_already_validated"
    message = "Cette facture est déjà validée."


@dataclass(frozen=True)
class InvoiceView:
    id: uuid.UUID
    number: str
    subscription_id: str
    amount_cents: int
    currency: str
    status: str
    drafted_by: int | None
    validated_by: int | None
    issued_on: date | None = None


def invoice(invoice_id: uuid.UUID) -> InvoiceView:
    row = prepared.one(Invoice, by="id", value=invoice_id, using=DATABASE)
    if row is None:
        raise InvoiceNotFound(field="invoice_id")
    return InvoiceView(
        row.id,
        row.number,
        row.subscription_id,
        row.amount_cents,
        row.currency,
        row.status,
        row.drafted_by,
        row.validated_by,
        row.issued_on,
    )


def check_can_validate(invoice_id: uuid.UUID, *, by: int) -> InvoiceView:
    found = invoice(invoice_id)
    if found.status != Invoice.Status.DRAFT:
        raise InvoiceAlreadyValidated(field="invoice_id")
    if found.drafted_by == by:
        raise SecondPersonRequired(field="invoice_id")
    return found


def validate_invoice(*, invoice_id: uuid.UUID, by: int, at: datetime) -> None:
    """Validate a drafted invoice; a replay by the same validator changes nothing."""
    with transaction.atomic(using=DATABASE):
        row = prepared.one(Invoice, by="id", value=invoice_id, using=DATABASE, for_update=True)
        if row is None:
            raise InvoiceNotFound(field="invoice_id")
        if row.status == Invoice.Status.VALIDATED:
            return
        if row.drafted_by == by:
            raise SecondPersonRequired(field="invoice_id")
        row.status, row.validated_by, row.validated_at = Invoice.Status.VALIDATED, by, at
        prepared.update_all(row, fields=("status", "validated_by", "validated_at"))
        record_action(
            database=DATABASE,
            action=Action.VALIDATE,
            record_type="invoice",
            record_id=row.id,
            details={"number": row.number, "amount_cents": row.amount_cents},
            actor=Actor(str(by), "", audit_context.current().source),
        )


def post_invoice_to_ledger(*, invoice_id: uuid.UUID, tax_rate: Decimal, at: datetime) -> str:
    """The embedded ERP: a balanced sales-journal entry for a validated invoice (idempotent per invoice).

    Customer account debited with the amount including tax; premiums and the insurance tax credited."""
    with transaction.atomic(using=DATABASE):
        row = prepared.one(Invoice, by="id", value=invoice_id, using=DATABASE)
        if row is None:
            raise InvoiceNotFound(field="invoice_id")
        if row.status != Invoice.Status.VALIDATED:
            raise InvoiceNotValidated(field="invoice_id")
        tax = int((Decimal(row.amount_cents) * tax_rate / (1 + tax_rate)).quantize(Decimal(1), ROUND_HALF_UP))
        lines = [
            {"account": "411000", "label": "Client", "debit_cents": row.amount_cents, "credit_cents": 0},
            {"account": "706000", "label": "Primes émises", "debit_cents": 0, "credit_cents": row.amount_cents - tax},
            {
                "account": "445710",
                "label": "Taxe sur les conventions d'assurance",
                "debit_cents": 0,
                "credit_cents": tax,
            },
        ]
        prepared.get_or_create(
            LedgerEntry,
            where={"invoice_number": row.number},
            using=DATABASE,
            defaults={
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"ledger:{row.number}"),
                "journal": "VT",
                "entry_date": row.issued_on,
                "lines": lines,
                "posted_at": at,
            },
        )
    return row.number


class InvoiceNotValidated(Conflict):
    code = "invoice_not_validated"
    message = "Seule une facture validée est comptabilisée."


def ledger_lines(invoice_number: str) -> list[dict[str, Any]]:
    entry = LedgerEntry.objects.filter(invoice_number=invoice_number).first()
    return list(entry.lines) if entry else []
