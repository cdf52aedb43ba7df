"""The platform's share of the GDPR rights (database `default`): a customer's dossiers, their decisions and events
for the access export, their erasure, and the closed dossiers past their retention period."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.subscriptions.domain import Stage
from souscription.subscriptions.models import DecisionRecord, Dossier, DossierEvent

DATABASE = "default"
CONTRACT_SIGNED = frozenset({Stage.SIGNED, Stage.ACTIVE})
"""Stages at which a contract exists: its copy, invoices and dossier reference are kept for the legal retention."""
NOT_CONCLUDED = frozenset({Stage.DRAFT, Stage.DECLINED, Stage.REJECTED, Stage.WITHDRAWN, Stage.EXPIRED})
"""Dossiers that never became a contract, hence erased 6 months after their last change (retention rule)."""


def customer_dossiers(customer_id: uuid.UUID) -> list[tuple[str, Stage]]:
    """The customer's dossiers as (subscription id, stage), oldest first."""
    rows = Dossier.objects.filter(customer_id=customer_id).order_by("created_at")
    return [(row.subscription_id, Stage(row.stage)) for row in rows.only("subscription_id", "stage")]


def customers_with_dossiers(customer_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    found = Dossier.objects.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True)
    return {customer_id for customer_id in found if customer_id is not None}


def customer_data(customer_id: uuid.UUID) -> list[dict[str, Any]]:
    """Right of access: each dossier with its events and its decisions (rule set, rows fired, inputs)."""
    rows = Dossier.objects.filter(customer_id=customer_id).order_by("created_at")
    return [_dossier_data(row) for row in rows.prefetch_related("events", "decisions")]


def _dossier_data(row: Dossier) -> dict[str, Any]:
    fields = (
        "subscription_id",
        "product",
        "product_version",
        "stage",
        "revision",
        "referred",
        "answered_fields",
        "premium_cents",
        "currency",
        "exclusions",
        "information_requested",
        "closing_reason",
        "created_at",
        "updated_at",
    )
    return {
        **{name: getattr(row, name) for name in fields},
        "events": [{"name": e.name, "occurred_at": e.occurred_at, "payload": e.payload} for e in row.events.all()],
        "decisions": [
            {
                "name": d.name,
                "revision": d.revision,
                "rule_set": d.rule_set,
                "result": d.result,
                "fired": d.fired,
                "inputs": d.inputs,
                "health_declaration_id": d.health_declaration_id,
                "decided_at": d.decided_at,
            }
            for d in row.decisions.all()
        ],
    }


def erase_dossier(*, subscription_id: str, keep_reference: bool, dry_run: bool, reason: str) -> dict[str, int]:
    """Erase the platform's part of a dossier. With `keep_reference` (a signed contract, whose copy and invoices
    are kept) the row stays as the reference they cite, stripped of its decisions' inputs, its free texts and its
    applicant token; otherwise the row goes with its events and decisions."""
    with transaction.atomic(using=DATABASE):
        rows = Dossier.objects.filter(subscription_id=subscription_id)
        counts = {
            "dossiers": 0 if keep_reference else rows.count(),
            "decisions": DecisionRecord.objects.filter(dossier__subscription_id=subscription_id).count(),
            "events": 0
            if keep_reference
            else DossierEvent.objects.filter(dossier__subscription_id=subscription_id).count(),
        }
        if dry_run or not any(counts.values()):
            return counts
        if keep_reference:
            DecisionRecord.objects.filter(dossier__subscription_id=subscription_id).delete()
            rows.update(information_requested="", closing_reason="", applicant_token_sha256="", exclusions=[])
        else:
            rows.delete()
        record_action(
            database=DATABASE,
            action=Action.ERASE,
            record_type="dossier",
            record_id=subscription_id,
            details={**counts, "reason": reason},
        )
    return counts


def not_concluded_untouched_since(cutoff: datetime) -> list[str]:
    """Dossiers that never became a contract and have not changed since `cutoff`."""
    rows = Dossier.objects.filter(stage__in=[stage.value for stage in NOT_CONCLUDED], updated_at__lt=cutoff)
    return list(rows.order_by("updated_at").values_list("subscription_id", flat=True))
