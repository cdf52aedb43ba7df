"""Parked and dead-lettered vendor calls, and webhook de-duplication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from souscription.connectors.models import ParkedCall, ReceivedWebhook

DATABASE = "default"


@dataclass(frozen=True)
class Waiting:
    key: str
    workflow_id: str
    vendor: str
    operation: str
    subscription_id: str
    status: str
    reason: str
    attempts: int
    parked_at: datetime
    next_attempt_at: datetime | None


def park(
    *,
    key: str,
    workflow_id: str,
    vendor: str,
    operation: str,
    subscription_id: str,
    dead: bool,
    reason: str,
    retry_in: float | None,
    at: datetime,
) -> None:
    """Record (or update) the call as waiting, with its reason: visible in `souscription connectors parked`."""
    with transaction.atomic(using=DATABASE):
        row = ParkedCall.objects.select_for_update().filter(key=key).first()
        status = ParkedCall.Status.DEAD if dead else ParkedCall.Status.PARKED
        next_at = None if retry_in is None else at + timedelta(seconds=retry_in)
        if row is None:
            ParkedCall.objects.create(
                key=key,
                workflow_id=workflow_id,
                vendor=vendor,
                operation=operation,
                subscription_id=subscription_id,
                status=status,
                reason=reason,
                attempts=1,
                parked_at=at,
                next_attempt_at=next_at,
            )
            return
        row.status, row.reason, row.attempts, row.next_attempt_at = status, reason, row.attempts + 1, next_at
        row.resolved_at = None
        row.save(update_fields=["status", "reason", "attempts", "next_attempt_at", "resolved_at"])


def resolve(key: str, *, at: datetime) -> None:
    with transaction.atomic(using=DATABASE):
        ParkedCall.objects.filter(key=key).exclude(status=ParkedCall.Status.RESOLVED).update(
            status=ParkedCall.Status.RESOLVED, resolved_at=at, next_attempt_at=None
        )


def waiting(*, vendor: str | None = None, status: str | None = None) -> list[Waiting]:
    rows = ParkedCall.objects.exclude(status=ParkedCall.Status.RESOLVED)
    if vendor:
        rows = rows.filter(vendor=vendor)
    if status:
        rows = rows.filter(status=status)
    return [
        Waiting(
            r.key,
            r.workflow_id,
            r.vendor,
            r.operation,
            r.subscription_id,
            r.status,
            r.reason,
            r.attempts,
            r.parked_at,
            r.next_attempt_at,
        )
        for r in rows
    ]


def counts() -> dict[str, int]:
    found: dict[str, int] = {}
    for status in ParkedCall.Status.values:
        found[status] = ParkedCall.objects.filter(status=status).count()
    return found


def first_delivery(*, vendor: str, event_id: str, event_type: str, at: datetime) -> bool:
    """True the first time a vendor's event id is taken in; False for every redelivery."""
    try:
        with transaction.atomic(using=DATABASE):
            ReceivedWebhook.objects.create(vendor=vendor, event_id=event_id, event_type=event_type, received_at=at)
    except IntegrityError:
        return False
    return True


def forget_webhooks_before(moment: datetime) -> int:
    """Retention: past the vendors' redelivery windows (days), the event ids serve no purpose."""
    with transaction.atomic(using=DATABASE):
        deleted, _ = ReceivedWebhook.objects.filter(received_at__lt=moment).delete()
    return deleted
