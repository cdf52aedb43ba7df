"""Sales use cases: the commercial profile, each dossier's risk answers and its offers (database `sales`)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.platform import prepared
from souscription.sales.models import CommercialProfile, DossierProfile, Offer

DATABASE = "sales"


def record_profile(*, customer_id: uuid.UUID, age_category: str, profession: str, sex: str) -> CommercialProfile:
    with transaction.atomic(using=DATABASE):
        profile, _created = CommercialProfile.objects.update_or_create(
            customer_id=customer_id,
            defaults={"age_category": age_category, "profession": profession, "sex": sex},
        )
    return profile


def profile_count() -> int:
    return CommercialProfile.objects.count()


def record_dossier_answers(
    *, subscription_id: str, product: str, customer_id: uuid.UUID | None, answers: dict[str, Any], at: datetime
) -> None:
    """Merge a step's commercial answers into the dossier's profile (the risk described).

    Read and written through compiled statements: a dossier's every step passes here."""
    with transaction.atomic(using=DATABASE):
        profile = prepared.one(DossierProfile, by="subscription_id", value=subscription_id, for_update=True)
        if profile is None:
            first = DossierProfile(subscription_id=subscription_id, product=product, answers=answers, updated_at=at)
            first.customer_id = customer_id
            try:
                with transaction.atomic(using=DATABASE):  # a savepoint: another request may create it first
                    prepared.insert(first, using=DATABASE)
                return
            except IntegrityError:
                profile = prepared.one(DossierProfile, by="subscription_id", value=subscription_id, for_update=True)
                if profile is None:
                    raise
        profile.answers = {**profile.answers, **answers}
        profile.customer_id = customer_id or profile.customer_id
        profile.updated_at = at
        prepared.update_all(profile, using=DATABASE)


def dossier_answers(subscription_id: str) -> dict[str, Any]:
    profile = prepared.one(DossierProfile, by="subscription_id", value=subscription_id, only=("answers",))
    return dict(profile.answers) if profile else {}


@dataclass(frozen=True)
class OfferTerms:
    offer_id: uuid.UUID
    subscription_id: str
    revision: int
    premium_cents: int
    instalment_cents: int
    currency: str
    frequency: str
    breakdown: dict[str, Any]
    valid_until: datetime


def issue_offer(terms: OfferTerms, *, document: bytes, at: datetime) -> None:
    """Record a priced offer and its PDF (idempotent on the offer id); older offers of the dossier are superseded."""
    with transaction.atomic(using=DATABASE):
        if prepared.one(Offer, by="id", value=terms.offer_id, only=("id",)) is not None:
            return
        prepared.update_where(
            Offer,
            where={"subscription_id": terms.subscription_id, "status": Offer.Status.OFFERED},
            values={"status": Offer.Status.SUPERSEDED},
            using=DATABASE,
        )
        offer = Offer(
            id=terms.offer_id,
            subscription_id=terms.subscription_id,
            revision=terms.revision,
            premium_cents=terms.premium_cents,
            instalment_cents=terms.instalment_cents,
            currency=terms.currency,
            frequency=terms.frequency,
            breakdown=terms.breakdown,
            valid_until=terms.valid_until,
            document=document,
            created_at=at,
        )
        prepared.insert(offer, using=DATABASE)


def mark_offer_accepted(offer_id: uuid.UUID) -> None:
    with transaction.atomic(using=DATABASE):
        prepared.update_where(Offer, where={"id": offer_id}, values={"status": Offer.Status.ACCEPTED}, using=DATABASE)


def offer_terms(offer_id: uuid.UUID) -> OfferTerms | None:
    offer = prepared.one(Offer, by="id", value=offer_id, defer=("document",))
    if offer is None:
        return None
    return OfferTerms(
        offer_id=offer.id,
        subscription_id=offer.subscription_id,
        revision=offer.revision,
        premium_cents=offer.premium_cents,
        instalment_cents=offer.instalment_cents,
        currency=offer.currency,
        frequency=offer.frequency,
        breakdown=dict(offer.breakdown),
        valid_until=offer.valid_until,
    )


def offer_document(offer_id: uuid.UUID) -> bytes | None:
    offer = Offer.objects.filter(id=offer_id).only("document").first()
    return (bytes(offer.document) or None) if offer else None


# -- GDPR: access, erasure ---------------------------------------------------------------------------------


def customer_data(*, customer_id: uuid.UUID, subscription_ids: list[str]) -> dict[str, Any]:
    """Right of access: the commercial profile, each dossier's risk answers and the offers (PDFs by their hash)."""
    profile = CommercialProfile.objects.filter(customer_id=customer_id).first()
    dossiers = DossierProfile.objects.filter(subscription_id__in=subscription_ids) | DossierProfile.objects.filter(
        customer_id=customer_id
    )
    offers = Offer.objects.filter(subscription_id__in=subscription_ids).order_by("created_at")
    return {
        "commercial_profile": None
        if profile is None
        else {
            "age_category": profile.age_category,
            "profession": profile.profession,
            "sex": profile.sex,
            "updated_at": profile.updated_at,
        },
        "dossier_answers": [
            {"subscription_id": row.subscription_id, "product": row.product, "answers": row.answers}
            for row in dossiers.order_by("subscription_id")
        ],
        "offers": [_offer_data(offer) for offer in offers],
    }


def _offer_data(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "subscription_id": offer.subscription_id,
        "revision": offer.revision,
        "status": offer.status,
        "premium_cents": offer.premium_cents,
        "currency": offer.currency,
        "frequency": offer.frequency,
        "breakdown": offer.breakdown,
        "valid_until": offer.valid_until,
        "created_at": offer.created_at,
        "document_sha256": hashlib.sha256(bytes(offer.document)).hexdigest(),
    }


def erase_profile(*, customer_id: uuid.UUID, dry_run: bool, reason: str) -> int:
    """Delete the commercial profile (age category, profession, sex): marketing data, no retention applies."""
    with transaction.atomic(using=DATABASE):
        rows = CommercialProfile.objects.filter(customer_id=customer_id)
        count = rows.count()
        if not dry_run and count:
            rows.delete()
            _erased("commercial_profile", customer_id, {"profiles": count, "reason": reason})
    return count


def erase_dossier(*, subscription_id: str, keep_accepted_offer: bool, dry_run: bool, reason: str) -> dict[str, int]:
    """Delete a dossier's risk answers and its offers; a signed contract's accepted offer stays (its terms are
    the contract's). Returns the counts (what would go, on a dry run)."""
    with transaction.atomic(using=DATABASE):
        answers = DossierProfile.objects.filter(subscription_id=subscription_id)
        offers = Offer.objects.filter(subscription_id=subscription_id)
        if keep_accepted_offer:
            offers = offers.exclude(status=Offer.Status.ACCEPTED)
        counts = {"dossier_answers": answers.count(), "offers": offers.count()}
        if not dry_run and any(counts.values()):
            answers.delete()
            offers.delete()
            _erased("dossier", subscription_id, {**counts, "reason": reason})
    return counts


def _erased(record_type: str, record_id: object, details: dict[str, Any]) -> None:
    record_action(database=DATABASE, action=Action.ERASE, record_type=record_type, record_id=record_id, details=details)
