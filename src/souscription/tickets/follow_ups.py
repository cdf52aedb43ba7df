"""Follow-up tickets the platform opens for customer advisors (database `customer_service`): what Legal asked of an
applicant, to be chased with the customer. With a ticketing service (Zendesk) the ticket is opened there too; its
status comes back from the service's webhooks, applied only when newer (they come out of order)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from souscription.tickets.models import Ticket, TicketAction, VendorErasure

DATABASE = "customer_service"
PLATFORM_OPERATOR = 0
"""`operator_id` of the actions the platform writes itself (staff ids start at 1)."""


@dataclass(frozen=True)
class FollowUp:
    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    reason: str
    first_action: str
    status: str
    vendor_ticket_id: str


def open_follow_up(*, ticket_id: uuid.UUID, customer_id: uuid.UUID, reason: str, action: str, at: datetime) -> bool:
    """Open the ticket with its first action, in the caller's transaction; False when it exists already."""
    with transaction.atomic(using=DATABASE):
        ticket, created = Ticket.objects.get_or_create(
            id=ticket_id,
            defaults={
                "customer_id": customer_id,
                "channel": Ticket.Channel.PLATFORM,
                "reason": reason[:200],
                "opened_at": at,
            },
        )
        if created:
            TicketAction.objects.create(ticket=ticket, operator_id=PLATFORM_OPERATOR, description=action, at=at)
    return created


def follow_up(ticket_id: uuid.UUID) -> FollowUp | None:
    ticket = Ticket.objects.filter(id=ticket_id).first()
    if ticket is None:
        return None
    first = ticket.actions.order_by("at").first()
    return FollowUp(
        ticket.id,
        ticket.customer_id,
        ticket.reason,
        first.description if first else ticket.reason,
        ticket.status,
        ticket.vendor_ticket_id,
    )


def record_vendor_ticket(ticket_id: uuid.UUID, *, vendor_ticket_id: str, at: datetime) -> None:
    """The ticket's number at the service. A ticket erased here while the service was opening it is erased there
    too."""
    with transaction.atomic(using=DATABASE):
        if not Ticket.objects.filter(id=ticket_id).update(vendor_ticket_id=vendor_ticket_id[:32]):
            owe_vendor_erasure(vendor_ticket_id, at=at, reason="erased_while_opening")


def owe_vendor_erasure(vendor_ticket_id: str, *, at: datetime, reason: str) -> None:
    """The service's copy of a ticket no longer here is to be erased there."""
    with transaction.atomic(using=DATABASE):
        VendorErasure.objects.get_or_create(
            vendor_ticket_id=vendor_ticket_id[:32], defaults={"asked_at": at, "reason": reason[:64]}
        )


def vendor_erasures(*, limit: int = 100) -> list[str]:
    """The service's ticket numbers whose erasure there has not been started yet, the oldest first."""
    rows = VendorErasure.objects.filter(started_at__isnull=True)
    return list(rows.values_list("vendor_ticket_id", flat=True)[:limit])


def vendor_erasures_started(vendor_ticket_ids: list[str], *, at: datetime) -> None:
    with transaction.atomic(using=DATABASE):
        VendorErasure.objects.filter(vendor_ticket_id__in=vendor_ticket_ids, started_at__isnull=True).update(
            started_at=at
        )


def vendor_erasure_done(vendor_ticket_id: str) -> None:
    with transaction.atomic(using=DATABASE):
        VendorErasure.objects.filter(vendor_ticket_id=vendor_ticket_id).delete()


def apply_vendor_status(*, vendor_ticket_id: str, status: str, updated_at: datetime) -> bool:
    """An agent (or the service's automations) changed the ticket there: applied if newer than the last change."""
    with transaction.atomic(using=DATABASE):
        ticket = Ticket.objects.select_for_update().filter(vendor_ticket_id=vendor_ticket_id).first()
        if ticket is None or not vendor_ticket_id:
            return False
        if ticket.vendor_status_at is not None and updated_at <= ticket.vendor_status_at:
            return False
        ticket.status, ticket.vendor_status_at = status, updated_at
        ticket.save(update_fields=["status", "vendor_status_at"])
    return True
