"""The CRM port, provider-neutral: what the platform asks of any CRM, in the insurer's words.

The platform keeps the customer's contact (keyed by email) and one deal per dossier (keyed by its subscription id,
`SUB-YYYY-NNNNNN`) in the CRM, moves the deal when the dossier's stage changes and reads back the deal's CRM status,
which becomes the dossier's `crm_status`. Every write takes the caller's `key` (derived from the dossier and the
step) and is idempotent: the same call made twice leaves the CRM as one call would.

Pure: no HTTP library, no Django. The records check their own data before anything is sent, so a bad email or an
amount in euros instead of cents is refused here with a French message, not by the vendor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

DOSSIER_STAGES = frozenset(
    {
        "draft",
        "validated",
        "priced",
        "referred",
        "underwritten",
        "accepted",
        "contract_drafted",
        "awaiting_signature",
        "signed",
        "active",
        "declined",
        "rejected",
        "withdrawn",
        "expired",
    }
)
"""The dossier's stages (`subscriptions.domain.Stage`), repeated here because integrations sit below the dossier;
a unit test keeps the two lists equal."""


class CrmStatus(StrEnum):
    """The dossier's CRM side status, the same words as the embedded CRM's pipeline (`crm_status_for`)."""

    LEAD = "lead"
    QUALIFIED = "qualified"
    OFFER_SENT = "offer_sent"
    OFFER_ACCEPTED = "offer_accepted"
    WON = "won"
    LOST = "lost"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SUBSCRIPTION_ID = re.compile(r"^SUB-\d{4}-\d{6}$")


class InvalidCrmRecord(ValueError):
    """A record the platform must not send: the caller's data is wrong, the CRM was not called."""

    def __init__(self, code: str, message: str, field: str) -> None:
        self.code, self.field = code, field
        super().__init__(message)


def normalised_email(email: str) -> str:
    """Emails key contacts: compared without case or surrounding spaces, as CRMs do."""
    return email.strip().lower()


@dataclass(frozen=True)
class CustomerContact:
    """The customer as the CRM shows it; `email` is its key in the CRM."""

    email: str
    first_name: str
    last_name: str
    phone: str = ""
    country: str = ""
    """ISO 3166-1 alpha-2 code (FR, BE...), or empty."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalised_email(self.email))
        if not _EMAIL.match(self.email):
            raise InvalidCrmRecord("invalid_email", "L'adresse email du client n'est pas valide.", "email")
        if not (self.first_name.strip() or self.last_name.strip()):
            raise InvalidCrmRecord("missing_name", "Le contact doit avoir un prénom ou un nom.", "last_name")


@dataclass(frozen=True)
class DossierDeal:
    """The dossier as a deal: its subscription id is the deal's key in the CRM."""

    subscription_id: str
    product: str
    amount_cents: int
    """The yearly premium in cents (an integer: no float ever carries money)."""
    stage: str
    """The dossier's stage, one of `DOSSIER_STAGES`."""

    def __post_init__(self) -> None:
        check_subscription_id(self.subscription_id)
        check_stage(self.stage)
        if isinstance(self.amount_cents, bool) or not isinstance(self.amount_cents, int) or self.amount_cents < 0:
            raise InvalidCrmRecord(
                "invalid_amount", "Le montant doit être un nombre entier de centimes, positif ou nul.", "amount_cents"
            )
        if not self.product.strip():
            raise InvalidCrmRecord("missing_product", "Le produit du dossier est obligatoire.", "product")


def check_subscription_id(subscription_id: str) -> None:
    if not _SUBSCRIPTION_ID.match(subscription_id):
        raise InvalidCrmRecord(
            "invalid_subscription_id",
            f"« {subscription_id} » n'est pas un numéro de souscription (SUB-AAAA-NNNNNN).",
            "subscription_id",
        )


def check_stage(stage: str) -> None:
    if stage not in DOSSIER_STAGES:
        raise InvalidCrmRecord("unknown_stage", f"Étape de dossier inconnue : « {stage} ».", "stage")


@dataclass(frozen=True)
class CrmContact:
    crm_id: str
    """The CRM's own id of the contact, which a deal is associated to."""
    email: str
    created: bool
    """True when this call created the contact (False: it existed and was updated)."""


@dataclass(frozen=True)
class CrmDeal:
    crm_id: str
    subscription_id: str
    crm_stage: str
    """The CRM's own stage id, as read (kept for the ops screens)."""
    crm_status: CrmStatus
    created: bool = False


@dataclass(frozen=True)
class CrmDealMoved:
    """A deal's stage changed in the CRM (a salesperson's move, or ours echoed back), from a verified webhook."""

    event_id: str
    """The CRM's id of the event: de-duplicate on it, the CRM delivers at least once."""
    crm_deal_id: str
    crm_stage: str
    crm_status: CrmStatus | None
    """None when the stage is not one of the configured pipeline's (another pipeline's deal, or a stage added in
    the CRM and not configured): never guessed; the caller reads the deal or shows it to a person."""
    occurred_at: datetime
    """Deliveries come out of order: apply a move only if it is later than the last one applied to the dossier."""


class CrmPort(Protocol):
    """What the platform asks of a CRM. Writes raise `VendorUnavailable` (park, retry later) or `VendorRejected`
    (a person looks); each is idempotent for a given `key`."""

    def upsert_contact(self, contact: CustomerContact, *, key: str) -> CrmContact: ...

    def upsert_deal(self, deal: DossierDeal, *, contact_crm_id: str, key: str) -> CrmDeal:
        """Create or update the dossier's deal, at the dossier's stage, associated to the contact."""
        ...

    def move_deal(self, subscription_id: str, stage: str, *, key: str) -> CrmDeal:
        """Move an existing deal to the CRM stage of the dossier's new `stage`."""
        ...

    def read_deal(self, subscription_id: str) -> CrmDeal | None:
        """The deal as the CRM has it now; None when the CRM has none (never created, or deleted there)."""
        ...
