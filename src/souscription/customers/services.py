"""Customer service's use cases on identity and contact data (database `customer_service`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from souscription.customers.models import Customer

DATABASE = "customer_service"


@dataclass(frozen=True)
class ContactDetails:
    first_name: str
    last_name: str
    email: str
    phone: str = ""
    availability: str = ""


def register_customer(*, customer_id: uuid.UUID, contact: ContactDetails) -> Customer:
    """Create or update a customer's contact data under a known id (idempotent)."""
    with transaction.atomic(using=DATABASE):
        customer, _created = Customer.objects.update_or_create(
            id=customer_id,
            defaults={
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "email": contact.email.lower(),
                "phone": contact.phone,
                "availability": contact.availability,
            },
        )
    return customer


def customer_count() -> int:
    return Customer.objects.count()
