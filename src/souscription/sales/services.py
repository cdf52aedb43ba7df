"""Sales use cases: the commercial profile, each dossier's risk answers and its offers (database `sales`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

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
    """Merge a step's commercial answers into the dossier's profile (the risk described)."""
    with transaction.atomic(using=DATABASE):
        profile, _created = DossierProfile.objects.select_for_update().get_or_create(
            subscription_id=subscription_id, defaults={"product": product, "updated_at": at}
        )
        profile.answers = {**profile.answers, **answers}
        profile.customer_id = customer_id or profile.customer_id
        profile.updated_at = at
        profile.save()


def dossier_answers(subscription_id: str) -> dict[str, Any]:
    profile = DossierProfile.objects.filter(subscription_id=subscription_id).only("answers").first()
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
        if Offer.objects.filter(id=terms.offer_id).exists():
            return
        Offer.objects.filter(subscription_id=terms.subscription_id, status=Offer.Status.OFFERED).update(
            status=Offer.Status.SUPERSEDED
        )
        Offer.objects.create(
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


def mark_offer_accepted(offer_id: uuid.UUID) -> None:
    with transaction.atomic(using=DATABASE):
        Offer.objects.filter(id=offer_id).update(status=Offer.Status.ACCEPTED)


def offer_terms(offer_id: uuid.UUID) -> OfferTerms | None:
    offer = Offer.objects.filter(id=offer_id).defer("document").first()
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
    return bytes(offer.document) if offer else None
