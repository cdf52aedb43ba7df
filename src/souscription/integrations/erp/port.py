"""The ERP port, provider-neutral: what the platform asks of any accounting system, in the insurer's words.

The platform keeps each customer as a partner of the ERP (keyed by the customer's reference), sends the customer
invoice of a contract's validated first instalment and has it posted (keyed by the invoice's number), reads back
its payment state, which becomes the dossier's `erp_sync`, and reverses a posted invoice with a credit note when
the payment is refunded (compensation). Every write takes the caller's `key` (derived from the dossier and the
step) and is idempotent: the same call made twice leaves the ERP as one call would.

Pure: no HTTP library, no Django. Records are checked and normalised by `quality.py` before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Protocol


class ErpSync(StrEnum):
    """The dossier's ERP side status (`Dossier.erp_sync`, 16 characters at most)."""

    NONE = "none"
    """Nothing to send yet."""
    READY = "ready"
    """The first invoice is drafted on the platform, waiting for its validation and its sending."""
    REJECTED = "rejected"
    """The data-quality checks refused the record: it was not sent; a person corrects the data."""
    PENDING = "pending"
    """In the ERP as a draft, not posted yet."""
    SYNCED = "synced"
    """Posted in the ERP, nothing paid yet."""
    IN_PAYMENT = "in_payment"
    """A payment is registered, not yet matched with the bank statement."""
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    BLOCKED = "blocked"
    """An accountant blocked the invoice's payment in the ERP."""
    REVERSED = "reversed"
    """Compensated by a credit note."""
    CANCELLED = "cancelled"
    """Cancelled in the ERP before being posted."""


@dataclass(frozen=True)
class Customer:
    """The customer as the ERP knows it: a partner with a postal address, for invoicing."""

    reference: str
    """The platform's customer reference (`quality.customer_reference`): the partner's unique key in the ERP."""
    name: str
    email: str
    street: str
    postcode: str
    city: str
    country_code: str
    """ISO 3166-1 alpha-2, such as FR."""


@dataclass(frozen=True)
class InstalmentInvoice:
    """The customer invoice of a contract's validated first instalment."""

    invoice_id: str
    """The platform's invoice number (`F-...`): the invoice's unique key in the ERP."""
    subscription_id: str
    customer_reference: str
    amount_excl_tax_cents: int
    tax_rate: Decimal
    """A fraction: Decimal("0.09") for 9 %."""
    currency: str
    """ISO 4217, such as EUR."""
    issued_on: date
    label: str
    """The invoice line's text, such as « Prime d'assurance — première échéance »."""


@dataclass(frozen=True)
class ErpCustomer:
    erp_id: str
    reference: str
    created: bool
    """False when the partner already existed (it was brought up to date when it differed)."""


@dataclass(frozen=True)
class ErpInvoice:
    erp_id: str
    invoice_id: str
    number: str
    """The ERP's own number (Odoo's `INV/2026/00001`), empty while the invoice is a draft."""
    sync: ErpSync
    amount_excl_tax_cents: int
    tax_cents: int
    total_cents: int
    residual_cents: int
    """What the customer still owes."""


class ReversalOutcome(StrEnum):
    CREDIT_NOTE = "credit_note"
    """The posted invoice is compensated by a posted credit note."""
    CANCELLED = "cancelled"
    """The invoice was still a draft (now cancelled) or was already cancelled: no credit note needed."""
    NOTHING_TO_REVERSE = "nothing_to_reverse"
    """The invoice never reached the ERP."""


@dataclass(frozen=True)
class ErpReversal:
    invoice_id: str
    outcome: ReversalOutcome
    credit_note_erp_id: str = ""
    credit_note_number: str = ""

    @property
    def sync(self) -> ErpSync:
        """The dossier's `erp_sync` once the compensation is done."""
        return _REVERSAL_SYNC[self.outcome]


_REVERSAL_SYNC = {
    ReversalOutcome.CREDIT_NOTE: ErpSync.REVERSED,
    ReversalOutcome.CANCELLED: ErpSync.CANCELLED,
    ReversalOutcome.NOTHING_TO_REVERSE: ErpSync.NONE,
}


class ErpPort(Protocol):
    """Raises `VendorUnavailable` (park and retry later), `VendorRejected` (a person looks) or
    `quality.RecordRejected` (the record failed the data-quality checks and was not sent)."""

    def upsert_customer(self, customer: Customer, *, key: str) -> ErpCustomer: ...

    def post_invoice(self, invoice: InstalmentInvoice, *, customer_erp_id: str, key: str) -> ErpInvoice:
        """Create the invoice for the partner `customer_erp_id` (from `upsert_customer`) and post it."""
        ...

    def invoice_status(self, invoice_id: str) -> ErpInvoice | None:
        """The invoice as the ERP sees it now; None when it never reached the ERP."""
        ...

    def reverse_invoice(self, invoice_id: str, *, reason: str, key: str) -> ErpReversal: ...


def tax_cents(amount_excl_tax_cents: int, rate: Decimal) -> int:
    """The tax of one invoice line, rounded half up to the cent as accounting systems do."""
    return int((Decimal(amount_excl_tax_cents) * rate).quantize(Decimal(1), ROUND_HALF_UP))
