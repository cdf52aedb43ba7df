"""Ticketing use cases: every call or email logged, with the operator's actions (database `customer_service`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.tickets.models import Ticket, TicketAction, VendorErasure

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


# -- GDPR: access, erasure, retention ----------------------------------------------------------------------


def customer_data(customer_id: uuid.UUID) -> list[dict[str, Any]]:
    """Right of access: every ticket of the customer with the operators' actions."""
    tickets = Ticket.objects.filter(customer_id=customer_id).prefetch_related("actions").order_by("opened_at")
    return [
        {
            "id": ticket.id,
            "channel": ticket.channel,
            "reason": ticket.reason,
            "status": ticket.status,
            "routed_to": ticket.routed_to,
            "opened_at": ticket.opened_at,
            "actions": [
                {"operator_id": action.operator_id, "description": action.description, "at": action.at}
                for action in ticket.actions.all()
            ],
        }
        for ticket in tickets
    ]


def customers_with_tickets(customer_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    return set(Ticket.objects.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True))


def erase_customer_tickets(*, customer_id: uuid.UUID, dry_run: bool, reason: str) -> int:
    """Delete the customer's tickets and their actions (no legal retention applies to them)."""
    return _delete(Ticket.objects.filter(customer_id=customer_id), dry_run=dry_run, reason=reason)


def purge_tickets_opened_before(*, cutoff: datetime, dry_run: bool) -> int:
    """Retention: tickets opened before `cutoff` are deleted with their actions."""
    return _delete(Ticket.objects.filter(opened_at__lt=cutoff), dry_run=dry_run, reason="retention:tickets")


def _delete(rows: Any, *, dry_run: bool, reason: str) -> int:
    """Delete the tickets and their actions; those opened at the ticketing service too are marked to be erased there
    (in the same transaction), which the platform does once the service answers."""
    with transaction.atomic(using=DATABASE):
        # Locked (PostgreSQL): a ticket whose number at the service is being recorded meanwhile is either read with
        # it, or its recording finds it gone and owes the erasure itself (`follow_ups.record_vendor_ticket`).
        found = list(rows.select_for_update().values_list("id", "vendor_ticket_id"))
        ids = [ticket_id for ticket_id, _vendor_id in found]
        if dry_run or not ids:
            return len(ids)
        at = timezone.now()
        VendorErasure.objects.bulk_create(
            [
                VendorErasure(vendor_ticket_id=vendor_id, asked_at=at, reason=reason[:64])
                for _ticket_id, vendor_id in found
                if vendor_id
            ],
            ignore_conflicts=True,  # already asked (a ticket erased twice by two rules): one erasure there
        )
        Ticket.objects.filter(id__in=ids).delete()
        for ticket_id in ids:
            record_action(
                database=DATABASE,
                action=Action.ERASE,
                record_type="ticket",
                record_id=ticket_id,
                details={"reason": reason},
            )
    return len(ids)
