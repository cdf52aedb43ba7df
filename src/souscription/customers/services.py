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


@dataclass(frozen=True)
class Contact:
    """A prospect's contact data as a dossier's contact step gives it."""

    first_name: str
    last_name: str
    email: str
    phone: str
    country: str


def record_contact(contact: Contact) -> uuid.UUID:
    """Keep a prospect's contact data; one customer per e-mail address, so a second dossier reuses the first's
    customer and brings its contact data up to date. Returns the customer's id."""
    with transaction.atomic(using=DATABASE):
        customer, _created = Customer.objects.update_or_create(
            email=contact.email.lower(),
            defaults={
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "phone": contact.phone,
                "country": contact.country,
            },
        )
    return customer.id


def contact_of(customer_id: uuid.UUID) -> Contact | None:
    customer = Customer.objects.filter(id=customer_id).first()
    if customer is None:
        return None
    return Contact(
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        country=customer.country,
    )
