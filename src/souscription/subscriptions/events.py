"""Events the dossier publishes, one per transition (past tense, versioned). Pure dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from souscription.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class DossierEvent(DomainEvent):
    subscription_id: str
    stage: str


@dataclass(frozen=True, kw_only=True)
class DossierCreated(DossierEvent):
    name = "subscriptions.dossier_created"
    product: str
    product_version: str


@dataclass(frozen=True, kw_only=True)
class DossierEdited(DossierEvent):
    name = "subscriptions.dossier_edited"
    fields: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DossierReturnedToDraft(DossierEvent):
    name = "subscriptions.dossier_returned_to_draft"
    previous_stage: str
    price_discarded: bool


@dataclass(frozen=True, kw_only=True)
class DossierValidated(DossierEvent):
    name = "subscriptions.dossier_validated"


@dataclass(frozen=True, kw_only=True)
class DossierPriced(DossierEvent):
    name = "subscriptions.dossier_priced"
    premium_cents: int
    currency: str


@dataclass(frozen=True, kw_only=True)
class DossierReferred(DossierEvent):
    name = "subscriptions.dossier_referred"
    reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class InformationRequested(DossierEvent):
    name = "subscriptions.information_requested"
    question: str


@dataclass(frozen=True, kw_only=True)
class DossierUnderwritten(DossierEvent):
    name = "subscriptions.dossier_underwritten"
    premium_cents: int
    exclusions: tuple[str, ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class OfferAccepted(DossierEvent):
    name = "subscriptions.offer_accepted"


@dataclass(frozen=True, kw_only=True)
class ContractDrafted(DossierEvent):
    name = "subscriptions.contract_drafted"
    drafted_by_role: str


@dataclass(frozen=True, kw_only=True)
class SentForSignature(DossierEvent):
    name = "subscriptions.sent_for_signature"


@dataclass(frozen=True, kw_only=True)
class DossierSigned(DossierEvent):
    name = "subscriptions.dossier_signed"


@dataclass(frozen=True, kw_only=True)
class DossierActivated(DossierEvent):
    name = "subscriptions.dossier_activated"


@dataclass(frozen=True, kw_only=True)
class DossierClosed(DossierEvent):
    """Declined, rejected, withdrawn or expired: `stage` says which, `reason` says why."""

    name = "subscriptions.dossier_closed"
    reason: str


@dataclass(frozen=True, kw_only=True)
class DossierReopened(DossierEvent):
    name = "subscriptions.dossier_reopened"
