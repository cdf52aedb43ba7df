"""Customer service's use cases on identity and contact data (database `customer_service`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.customers.models import Customer, Message
from souscription.platform import prepared

log = structlog.get_logger(__name__)

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
    street: str = ""
    postcode: str = ""
    city: str = ""


def record_contact(contact: Contact) -> uuid.UUID:
    """Keep a prospect's contact data; one customer per e-mail address, so a second dossier reuses the first's
    customer and brings its contact data up to date. Returns the customer's id."""
    customer, _created = prepared.update_or_create(
        Customer,
        where={"email": contact.email.lower()},
        defaults={
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "phone": contact.phone,
            "country": contact.country,
            "street": contact.street,
            "postcode": contact.postcode,
            "city": contact.city,
        },
        using=DATABASE,
    )
    return customer.id


def contact_of(customer_id: uuid.UUID) -> Contact | None:
    customer = prepared.one(Customer, by="id", value=customer_id)
    if customer is None:
        return None
    return Contact(
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        country=customer.country,
        street=customer.street,
        postcode=customer.postcode,
        city=customer.city,
    )


# -- GDPR: access, erasure, retention ----------------------------------------------------------------------


def find_customer_id(reference: str) -> uuid.UUID | None:
    """A customer by id or by e-mail address (case-insensitive), None when there is none."""
    try:
        customer_id = uuid.UUID(reference)
    except ValueError:
        found = Customer.objects.filter(email=reference.strip().lower()).values_list("id", flat=True).first()
        return found
    return customer_id if Customer.objects.filter(id=customer_id).exists() else None


def customer_data(customer_id: uuid.UUID) -> dict[str, Any] | None:
    """Right of access: the customer's identity and contact data as kept."""
    row = Customer.objects.filter(id=customer_id).first()
    if row is None:
        return None
    fields = (
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "country",
        "street",
        "postcode",
        "city",
        "availability",
        "created_at",
        "updated_at",
    )
    data: dict[str, Any] = {name: getattr(row, name) for name in fields}
    data["messages"] = [
        {"subject": m.subject, "sent_at": m.sent_at} for m in inbox(row.email, limit=1000)
    ]  # what was sent to them; bodies may hold one-time codes, long expired, and are not repeated
    return data


def erase_contact(*, customer_id: uuid.UUID, dry_run: bool, reason: str) -> int:
    """Delete the customer's identity and contact data; the audit entry says that it happened, never what it was."""
    with transaction.atomic(using=DATABASE):
        rows = Customer.objects.filter(id=customer_id)
        emails = list(rows.values_list("email", flat=True))
        count = rows.count()
        if dry_run or not count:
            return count
        messages, _by_model = Message.objects.filter(recipient__in=[email.lower() for email in emails]).delete()
        rows.delete()
        record_action(
            database=DATABASE,
            action=Action.ERASE,
            record_type="customer",
            record_id=customer_id,
            details={"contact": count, "messages": messages, "reason": reason},
        )
    return count


def customers_untouched_since(cutoff: datetime) -> list[uuid.UUID]:
    """Customers whose contact data has not changed since `cutoff` (candidates for the prospects' retention)."""
    return list(Customer.objects.filter(updated_at__lt=cutoff).values_list("id", flat=True))


# -- messages to customers (the embedded messaging port: the portal inbox) ------------------------------------------


@dataclass(frozen=True)
class SentMessage:
    recipient: str
    subject: str
    body: str
    sent_at: datetime


def send_message(*, recipient: str, subject: str, body: str, at: datetime) -> None:
    # Bodies carry one-time codes and links, of which the platform keeps only keyed digests: in production the
    # inbox keeps what was sent and when, never the body (a mail or SMS vendor's adapter delivers it, issue 5).
    kept = "" if settings.SOUSCRIPTION.is_production else body
    message = Message(recipient=recipient.strip().lower(), subject=subject, body=kept, sent_at=at)
    prepared.insert(message, using=DATABASE)
    if not settings.SOUSCRIPTION.is_production:
        # Embedded mode has no mail server: the message is shown on the console, as Django's console mail backend
        # does, so that a newcomer can follow a verification link or type a code. Never in production.
        log.info("message.sent", recipient=recipient, subject=subject, body=body)


def inbox(recipient: str, *, limit: int = 20) -> list[SentMessage]:
    """The newest messages sent to `recipient`, as the customer reads them in the portal."""
    rows = Message.objects.filter(recipient=recipient.strip().lower())[:limit]
    return [SentMessage(row.recipient, row.subject, row.body, row.sent_at) for row in rows]
