"""The account-information port, provider-neutral: what the platform asks of any open-banking provider (GoCardless
Bank Account Data today, Powens or Enable Banking later), in its own words. Pure: no HTTP, no Django.

The customer picks a bank (`institutions`), the platform opens a consent there (`start_consent`: the access terms,
history window, access duration and scopes, plus the link the customer follows to authenticate at the bank), reads
the consent back until the customer is done (`consent`: its status, the linked accounts and the expiry the provider
gave), reads each account (`account`, `balances`, `transactions`, normalised: amounts in cents) and revokes the
consent in one click (`revoke`), after which the fetched data is purged.

The provider's "agreement" (access terms) and its "link" (the requisition) are one operation here: an agreement
alone grants nothing and, at GoCardless, cannot be looked up by any key of ours, so only the pair can be made
idempotent (the link carries our reference). Enable Banking (`POST /auth`) and Powens (the connect URL) work the
same way: one call gives the terms and the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from souscription.integrations.errors import VendorRejected
from souscription.integrations.resilience import FailureKind


class Scope(StrEnum):
    """What the customer lets the insurer read (the provider's access scope)."""

    BALANCES = "balances"
    DETAILS = "details"
    TRANSACTIONS = "transactions"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


class ConsentStatus(StrEnum):
    """Where a consent stands, whatever the provider: its states are mapped onto these by an explicit table."""

    CREATED = "created"
    """The link exists; the customer has not opened it yet."""
    IN_PROGRESS = "in_progress"
    """The customer is at the provider's consent screen or authenticating at the bank."""
    ACTIVE = "active"
    """Accounts are linked: data may be read until the consent expires."""
    REJECTED = "rejected"
    """The customer failed or refused the bank's authentication."""
    EXPIRED = "expired"
    """The access duration has passed, or the customer withdrew the consent at the bank."""
    SUSPENDED = "suspended"
    """The provider stopped reading the accounts after repeated errors: the customer must reconnect."""
    FAILED = "failed"
    """The provider reports an error on its side."""
    REVOKED = "revoked"
    """The platform (the customer's one click) deleted the consent: the fetched data is purged."""

    @classmethod
    def final(cls) -> frozenset[ConsentStatus]:
        """Nothing more happens to this consent: reading again needs a new one."""
        return frozenset({cls.REJECTED, cls.EXPIRED, cls.SUSPENDED, cls.FAILED, cls.REVOKED})

    @classmethod
    def waiting_for_customer(cls) -> frozenset[ConsentStatus]:
        return frozenset({cls.CREATED, cls.IN_PROGRESS})


class AccountStatus(StrEnum):
    PENDING = "pending"
    """Discovered or still being processed by the bank."""
    READY = "ready"
    ERROR = "error"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Institution:
    institution_id: str
    name: str
    bic: str
    countries: tuple[str, ...]
    history_days: int
    """The longest transaction history the bank gives."""
    max_access_days: int | None
    """The longest access the bank allows; None when the provider does not say."""
    logo: str = ""


@dataclass(frozen=True)
class AccessTerms:
    """What the customer is asked to consent to. The provider may grant less (a bank giving 90 days of history
    only): the consent read back carries what was granted, and its expiry."""

    history_days: int
    access_days: int
    scopes: frozenset[Scope] = ALL_SCOPES


@dataclass(frozen=True)
class ConsentLink:
    consent_id: str
    reference: str
    """Ours, derived from the caller's key: the provider refuses a second consent with it."""
    link: str
    """Where the customer authenticates at the bank (strong authentication)."""
    status: ConsentStatus
    institution_id: str
    terms: AccessTerms
    """The terms asked, after fitting them to what the bank allows."""


@dataclass(frozen=True)
class Consent:
    consent_id: str
    reference: str
    institution_id: str
    status: ConsentStatus
    vendor_status: str
    """The provider's own word, kept for the ops screens and the logs."""
    account_ids: tuple[str, ...] = ()
    terms: AccessTerms | None = None
    accepted_at: datetime | None = None
    expires_at: datetime | None = None
    """The expiry the provider's agreement gives (never a constant of ours); None until the customer accepts."""

    @property
    def usable(self) -> bool:
        return self.status is ConsentStatus.ACTIVE


@dataclass(frozen=True)
class AccountDetails:
    account_id: str
    iban: str
    currency: str
    owner_name: str
    name: str
    product: str
    status: AccountStatus


@dataclass(frozen=True)
class Balance:
    kind: str
    """The provider's balance type (`closingBooked`, `interimAvailable`, `expected`...)."""
    amount_cents: int
    currency: str
    reference_date: date | None


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    booked: bool
    """False for a pending transaction: its amount or date may still change."""
    booking_date: date | None
    amount_cents: int
    """Negative for money leaving the account."""
    currency: str
    label: str
    counterparty: str
    """Who was paid (a debit) or who paid (a credit); empty when the bank does not say."""


@dataclass(frozen=True)
class Revocation:
    """A consent deleted at the provider: the caller purges what it fetched from these accounts."""

    consent_id: str
    account_ids: tuple[str, ...]
    revoked_at: datetime


class ConsentUnusable(VendorRejected):
    """The provider refuses to read an account because its consent expired, was withdrawn at the bank, revoked by
    us, or suspended: reading again needs a new consent, not a retry."""

    def __init__(
        self, vendor: str, operation: str, consent_status: ConsentStatus, *, status: int | None, vendor_code: str
    ) -> None:
        self.consent_status = consent_status
        super().__init__(
            vendor,
            operation,
            FailureKind.REJECTED,
            f"consentement inutilisable ({consent_status.value}) : le client doit se reconnecter à sa banque",
            status=status,
            vendor_code=vendor_code,
        )


@runtime_checkable
class AccountInformationPort(Protocol):
    def institutions(self, *, country: str) -> list[Institution]:
        """The banks of a country (ISO 3166 two letters) the customer may choose from."""
        ...

    def start_consent(
        self, *, key: str, institution_id: str, terms: AccessTerms, redirect_url: str, language: str = "fr"
    ) -> ConsentLink:
        """Open a consent at the bank and return the link the customer follows. The same `key` always returns the
        same consent, never a second one. `ConsentRuleBroken` (consent.py) when the terms break our rules."""
        ...

    def consent(self, consent_id: str) -> Consent: ...

    def account(self, account_id: str) -> AccountDetails: ...

    def balances(self, account_id: str) -> list[Balance]: ...

    def transactions(self, account_id: str, *, since: date | None = None) -> list[Transaction]:
        """Booked then pending transactions, from `since` (default: the whole history the consent grants)."""
        ...

    def revoke(self, *, key: str, consent_id: str) -> Revocation:
        """Delete the consent at the provider; revoking twice is harmless."""
        ...
