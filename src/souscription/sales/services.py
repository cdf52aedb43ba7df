"""Sales use cases on the commercial profile (database `sales`)."""

from __future__ import annotations

import uuid

from django.db import transaction

from souscription.sales.models import CommercialProfile

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
