"""The consent register's use cases (database `customer_service`): give, withdraw, check, export, purge.

Every feature that needs a consent asks `missing_consent` before processing; the register answers for the text in
force only, so a consent given on an older wording does not count."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from souscription.audit.context import current, record_action
from souscription.audit.domain import Action
from souscription.consents.domain import ConsentNotInForce, Purpose, check_is_current, consent_required, current_text
from souscription.consents.models import Consent
from souscription.kernel.errors import Problem

DATABASE = "customer_service"


@dataclass(frozen=True)
class ConsentView:
    id: uuid.UUID
    subscription_id: str
    purpose: str
    text_version: str
    given_at: datetime
    given_by: str
    withdrawn_at: datetime | None
    withdrawn_by: str

    @property
    def in_force(self) -> bool:
        return self.withdrawn_at is None


def give_consent(
    *, subscription_id: str, purpose: Purpose, text_version: str, customer_id: uuid.UUID | None, now: datetime
) -> ConsentView:
    """Record a consent on the text in force (idempotent: the same consent again changes nothing). A consent in
    force on an older text is closed by the new one (`withdrawn_by = "superseded"`), so history stays whole."""
    check_is_current(purpose, text_version)
    try:
        with transaction.atomic(using=DATABASE):
            existing = _in_force(subscription_id, purpose, for_update=True)
            if existing is not None and existing.text_version == text_version:
                return _view(existing)
            if existing is not None:
                existing.withdrawn_at, existing.withdrawn_by = now, "superseded"
                existing.save(update_fields=["withdrawn_at", "withdrawn_by"])
            row = Consent.objects.create(
                subscription_id=subscription_id,
                customer_id=customer_id,
                purpose=purpose.value,
                text_version=text_version,
                given_at=now,
                given_by=current().id,
            )
            _audit(Action.CREATE, row)
    except IntegrityError:
        # A concurrent request recorded the same consent first.
        found = _in_force(subscription_id, purpose)
        if found is None:
            raise
        return _view(found)
    return _view(row)


def withdraw_consent(*, subscription_id: str, purpose: Purpose, now: datetime) -> ConsentView:
    """Withdraw the consent in force (GDPR art. 7(3)): processing that needs it stops from `now` on."""
    with transaction.atomic(using=DATABASE):
        row = _in_force(subscription_id, purpose, for_update=True)
        if row is None:
            raise ConsentNotInForce(field="purpose")
        row.withdrawn_at, row.withdrawn_by = now, current().id
        row.save(update_fields=["withdrawn_at", "withdrawn_by"])
        _audit(Action.CHANGE, row)
    return _view(row)


def consent_in_force(*, subscription_id: str, purpose: Purpose) -> ConsentView | None:
    """The consent in force for this purpose on the text in force, if any."""
    row = _in_force(subscription_id, purpose)
    if row is None or row.text_version != current_text(purpose).version:
        return None
    return _view(row)


def missing_consent(*, subscription_id: str, purpose: Purpose) -> Problem | None:
    """The problem to report when the dossier lacks the consent `purpose` needs, else None."""
    if consent_in_force(subscription_id=subscription_id, purpose=purpose) is None:
        return consent_required(purpose)
    return None


def consents_of(subscription_id: str) -> list[ConsentView]:
    return [_view(row) for row in Consent.objects.filter(subscription_id=subscription_id).order_by("given_at")]


def customer_data(*, customer_id: uuid.UUID, subscription_ids: list[str]) -> list[dict[str, Any]]:
    """Right of access: every consent given for the customer's dossiers, withdrawn ones included."""
    rows = Consent.objects.filter(subscription_id__in=subscription_ids) | Consent.objects.filter(
        customer_id=customer_id
    )
    return [asdict(_view(row)) for row in rows.order_by("given_at")]


def purge_withdrawn_before(*, cutoff: datetime, dry_run: bool) -> int:
    """Retention: consents withdrawn before `cutoff` no longer need proving. Returns how many (would) go."""
    with transaction.atomic(using=DATABASE):
        rows = Consent.objects.filter(withdrawn_at__lt=cutoff)
        ids = list(rows.values_list("id", flat=True))
        if dry_run or not ids:
            return len(ids)
        rows.delete()
        for consent_id in ids:
            record_action(
                database=DATABASE,
                action=Action.ERASE,
                record_type="consent",
                record_id=consent_id,
                details={"retention_rule": "withdrawn_consents"},
            )
    return len(ids)


def _in_force(subscription_id: str, purpose: Purpose, *, for_update: bool = False) -> Consent | None:
    rows = Consent.objects.select_for_update() if for_update else Consent.objects
    return rows.filter(subscription_id=subscription_id, purpose=purpose.value, withdrawn_at__isnull=True).first()


def _audit(action: Action, row: Consent) -> None:
    record_action(
        database=DATABASE,
        action=action,
        record_type="consent",
        record_id=row.id,
        details={
            "subscription_id": row.subscription_id,
            "purpose": row.purpose,
            "text_version": row.text_version,
            "withdrawn": row.withdrawn_at is not None,
        },
    )


def _view(row: Consent) -> ConsentView:
    return ConsentView(
        id=row.id,
        subscription_id=row.subscription_id,
        purpose=row.purpose,
        text_version=row.text_version,
        given_at=row.given_at,
        given_by=row.given_by,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by=row.withdrawn_by,
    )
