"""Ticketing use cases: every call or email logged, with the operator's actions (database `customer_service`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from souscription.tickets.models import Ticket, TicketAction

DATABASE = "customer_service"


def log_contact(
    *,
    ticket_id: uuid.UUID,
    customer_id: uuid.UUID,
    channel: str,
    reason: str,
    operator_id: int,
    action: str,
    at: datetime,
) -> Ticket:
    """Log a call or an email as a ticket with its first action (idempotent on `ticket_id`)."""
    with transaction.atomic(using=DATABASE):
        ticket, created = Ticket.objects.get_or_create(
            id=ticket_id,
            defaults={"customer_id": customer_id, "channel": channel, "reason": reason, "opened_at": at},
        )
        if created:
            TicketAction.objects.create(ticket=ticket, operator_id=operator_id, description=action, at=at)
    return ticket


def open_ticket_count() -> int:
    return Ticket.objects.exclude(status=Ticket.Status.SOLVED).count()
