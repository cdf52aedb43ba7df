"""The payment port, provider-neutral: what the platform asks of any SEPA Direct Debit provider, in its own words.

A payer is registered once per subscription, a SEPA mandate is set up from the IBAN the customer gave and the
acceptance they expressed, each instalment is collected off-session under that mandate, its status is read back (or
pushed by the provider's webhooks: SEPA answers in days, not in the call), and a collected payment is refunded when
the dossier is withdrawn (compensation). Every call that changes something takes the caller's `key` (dossier and
step): the same key never debits twice. Pure: no HTTP, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from souscription.kernel.errors import InvalidInput, Problem


class PaymentStatus(StrEnum):
    """One instalment's collection, as the dossier and the ops screens show it."""

    SCHEDULED = "scheduled"
    """Created but not yet submitted to the payer's bank."""
    PROCESSING = "processing"
    """Submitted: a SEPA debit succeeds or fails days later (up to 14 business days)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The bank refused the debit (`failure_code` says why): a new attempt is a new payment."""
    REFUNDED = "refunded"
    """Fully refunded (a partial refund leaves it SUCCEEDED with `refunded_cents`)."""
    REQUIRES_ACTION = "requires_action"
    """Waiting for someone: never expected for an off-session SEPA debit, so a person looks."""
    CANCELED = "canceled"

    @classmethod
    def pending(cls) -> frozenset[PaymentStatus]:
        """The outcome is still to come: wait for the webhook, or read the payment again later."""
        return frozenset({cls.SCHEDULED, cls.PROCESSING})


class SetupStatus(StrEnum):
    """Setting up the mandate from the IBAN."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    CANCELED = "canceled"


class MandateStatus(StrEnum):
    """Whether the mandate may be used to debit."""

    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"
    """Refused, revoked by the payer or their bank: no further debit; a new mandate is needed."""


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    CANCELED = "canceled"


class RefundReason(StrEnum):
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    """Withdrawal (rétractation) or cancellation asked by the customer."""
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"


class AcceptanceChannel(StrEnum):
    ONLINE = "online"
    """Accepted in the portal: the IP address and the browser's user agent are the evidence."""
    OFFLINE = "offline"
    """Accepted on paper or by phone with an adviser."""


class PaymentEventKind(StrEnum):
    """What a provider's notification says happened, in the platform's words."""

    PAYMENT_PROCESSING = "payment_processing"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_CANCELED = "payment_canceled"
    PAYMENT_REQUIRES_ACTION = "payment_requires_action"
    PAYMENT_REFUNDED = "payment_refunded"
    REFUND_UPDATED = "refund_updated"
    PAYMENT_DISPUTED = "payment_disputed"
    """The payer contested the debit at their bank (SEPA: 8 weeks, no questions asked): a person looks."""
    MANDATE_SET_UP = "mandate_set_up"
    MANDATE_SETUP_FAILED = "mandate_setup_failed"
    MANDATE_UPDATED = "mandate_updated"
    NOT_HANDLED = "not_handled"
    """A notification type the platform does not act on: acknowledged, nothing recorded."""


@dataclass(frozen=True)
class Payer:
    subscription_id: str
    name: str
    email: str


@dataclass(frozen=True)
class Customer:
    customer_id: str
    subscription_id: str


@dataclass(frozen=True)
class BankAccount:
    holder_name: str
    email: str
    iban: str = field(repr=False)
    """Personal data: never in a log line, a step result or an error message."""


@dataclass(frozen=True)
class MandateAcceptance:
    """The payer's acceptance of the SEPA mandate, the evidence the creditor must keep."""

    channel: AcceptanceChannel
    accepted_at: datetime
    ip_address: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class MandateSetup:
    setup_id: str
    status: SetupStatus
    vendor_status: str
    """The provider's own word, kept for the ops screens and the logs."""
    payment_method_id: str = ""
    mandate_id: str = ""
    failure_code: str = ""


@dataclass(frozen=True)
class Mandate:
    mandate_id: str
    status: MandateStatus
    vendor_status: str
    payment_method_id: str = ""
    reference: str = ""
    """The mandate's unique reference (RUM), printed on the pre-notification the payer receives."""


@dataclass(frozen=True)
class Instalment:
    """One debit of the billing plan, under the mandate set up for the subscription."""

    subscription_id: str
    customer_id: str
    payment_method_id: str
    mandate_id: str
    amount_cents: int
    number: int = 1
    currency: str = "eur"
    description: str = ""


@dataclass(frozen=True)
class Payment:
    payment_id: str
    status: PaymentStatus
    vendor_status: str
    amount_cents: int
    currency: str
    refunded_cents: int = 0
    failure_code: str = ""
    """The provider's reason for the last failed attempt (`insufficient_funds`...), empty otherwise."""


@dataclass(frozen=True)
class Refund:
    refund_id: str
    payment_id: str
    status: RefundStatus
    vendor_status: str
    amount_cents: int
    failure_code: str = ""


@dataclass(frozen=True)
class PaymentEvent:
    """A verified provider notification. The statuses are those of the object the event carries (a snapshot), so
    events that come twice or out of order are handled by de-duplicating on `event_id` and never moving a dossier
    backwards on `occurred_at`."""

    event_id: str
    event_type: str
    kind: PaymentEventKind
    occurred_at: datetime
    object_id: str
    payment_id: str = ""
    payment_status: PaymentStatus | None = None
    setup_status: SetupStatus | None = None
    mandate_id: str = ""
    mandate_status: MandateStatus | None = None
    refund_status: RefundStatus | None = None
    failure_code: str = ""


class PaymentPort(Protocol):
    def create_customer(self, payer: Payer, *, key: str) -> Customer:
        """Register the payer once: the same `key` always returns the same customer."""
        ...

    def set_up_mandate(
        self, customer_id: str, account: BankAccount, acceptance: MandateAcceptance, *, key: str
    ) -> MandateSetup:
        """Save the IBAN as a reusable SEPA payment method and create its mandate, off-session use."""
        ...

    def mandate(self, mandate_id: str) -> Mandate: ...

    def collect_instalment(self, instalment: Instalment, *, key: str) -> Payment:
        """Start the debit. SEPA answers later: the payment is usually PROCESSING; a refusal at once is a FAILED
        payment, not an error."""
        ...

    def payment(self, payment_id: str) -> Payment: ...

    def refund(
        self,
        payment_id: str,
        *,
        key: str,
        amount_cents: int | None = None,
        reason: RefundReason = RefundReason.REQUESTED_BY_CUSTOMER,
    ) -> Refund:
        """Give back all (None) or part of a succeeded payment (compensation)."""
        ...

    def read_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentEvent:
        """The event of a genuine provider notification; `WebhookRejected` otherwise."""
        ...


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
MAX_SEPA_DEBIT_CENTS = 1_000_000
"""A provider's usual ceiling for one SEPA debit (Stripe: 10,000 EUR)."""


def compact_iban(iban: str) -> str:
    """The IBAN as banks exchange it: upper case, no spaces."""
    return re.sub(r"\s", "", iban).upper()


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: two letters, two check digits, the account; the whole, rotated and read in base 36, is 1 mod 97."""
    compact = compact_iban(iban)
    if not _IBAN.fullmatch(compact):
        return False
    rotated = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rotated)) % 97 == 1


def check_payer(payer: Payer) -> None:
    problems = []
    if not payer.name.strip():
        problems.append(Problem("required", "Le nom du payeur est obligatoire.", "payer.name"))
    if not _EMAIL.fullmatch(payer.email.strip()):
        problems.append(Problem("invalid_email", "L'adresse e-mail du payeur est invalide (nom@domaine.fr).", "email"))
    if not payer.subscription_id.strip():
        problems.append(Problem("required", "La souscription du payeur est obligatoire.", "subscription_id"))
    if problems:
        raise InvalidInput(problems)


def check_mandate_request(account: BankAccount, acceptance: MandateAcceptance) -> None:
    """Every problem at once, before anything is sent: a provider refusal costs a round trip and a parked step."""
    problems = []
    if not account.holder_name.strip():
        problems.append(Problem("required", "Le titulaire du compte est obligatoire.", "holder_name"))
    if not _EMAIL.fullmatch(account.email.strip()):
        problems.append(Problem("invalid_email", "L'adresse e-mail du titulaire est invalide.", "email"))
    if not iban_is_valid(account.iban):
        problems.append(Problem("invalid_iban", "L'IBAN est invalide : vérifiez-le sur le RIB (FR76 ...).", "iban"))
    if acceptance.accepted_at.tzinfo is None:
        problems.append(Problem("naive_datetime", "La date d'acceptation doit porter son fuseau.", "accepted_at"))
    if acceptance.channel is AcceptanceChannel.ONLINE and not (acceptance.ip_address and acceptance.user_agent):
        problems.append(
            Problem(
                "acceptance_evidence",
                "Un mandat accepté en ligne exige l'adresse IP et le navigateur du payeur.",
                "acceptance",
            )
        )
    if problems:
        raise InvalidInput(problems)


def check_instalment(instalment: Instalment) -> None:
    problems = []
    if instalment.currency != "eur":
        problems.append(Problem("currency", "Un prélèvement SEPA se fait en euros (eur).", "currency"))
    if not 1 <= instalment.amount_cents <= MAX_SEPA_DEBIT_CENTS:
        problems.append(
            Problem("amount", "Le montant d'une échéance va de 0,01 € à 10 000 € par prélèvement.", "amount_cents")
        )
    for name in ("customer_id", "payment_method_id", "mandate_id"):
        if not getattr(instalment, name):
            problems.append(Problem("required", f"L'échéance n'a pas de {name} : mandat à mettre en place.", name))
    if problems:
        raise InvalidInput(problems)
