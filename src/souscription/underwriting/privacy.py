"""Legal's share of the GDPR rights (database `legal`): the access export, decrypted, and the erasure of a
dossier's slice by crypto-shredding and deletion."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import transaction

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.platform.encryption.keyring import DataKeyShredded
from souscription.underwriting.models import (
    ContractCopy,
    DataKey,
    DecisionTrace,
    HealthDeclaration,
    InvestigationReport,
    OfferCopy,
    RiskEstimate,
    UnderwritingTask,
)
from souscription.underwriting.services import DATABASE, _cipher, _task


def customer_data(*, customer_id: uuid.UUID, subscription_ids: list[str]) -> dict[str, Any]:
    """Right of access: health declarations decrypted (a shredded one says so), reports, tasks, estimates, and the
    contract copies listed with their SHA-256. Opening the declarations is recorded as a read of health data."""
    reports = InvestigationReport.objects.filter(subscription_id__in=subscription_ids) | (
        InvestigationReport.objects.filter(customer_id=customer_id)
    )
    return {
        "health_declarations": _declarations(subscription_ids),
        "investigation_reports": [
            {"id": r.id, "subscription_id": r.subscription_id, "findings": r.findings, "written_at": r.written_at}
            for r in reports.order_by("written_at")
        ],
        "tasks": [_task(row).__dict__ for row in UnderwritingTask.objects.filter(subscription_id__in=subscription_ids)],
        "risk_estimates": [
            {
                "id": e.id,
                "subscription_id": e.subscription_id,
                "risk_class": e.risk_class,
                "premium_adjustment_pct": e.premium_adjustment_pct,
                "exclusions": e.exclusions,
                "decision": e.decision,
                "note": e.note,
                "decided_at": e.decided_at,
            }
            for e in RiskEstimate.objects.filter(subscription_id__in=subscription_ids).order_by("decided_at")
        ],
        "contract_copies": contract_copies(subscription_ids),
        "decisions": [
            {
                "id": d.id,
                "subscription_id": d.subscription_id,
                "revision": d.revision,
                "name": d.name,
                "rule_set": d.rule_set,
                "result": d.result,
                "fired": d.fired,
                "decided_at": d.decided_at,
            }
            for d in DecisionTrace.objects.filter(subscription_id__in=subscription_ids)
        ],
        "offers": [
            {"id": o.id, "subscription_id": o.subscription_id, "breakdown": o.breakdown, "created_at": o.created_at}
            for o in OfferCopy.objects.filter(subscription_id__in=subscription_ids).defer("pdf")
        ],
    }


def _declarations(subscription_ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with transaction.atomic(using=DATABASE):
        for row in HealthDeclaration.objects.filter(subscription_id__in=subscription_ids).order_by("declared_at"):
            try:
                answers: dict[str, Any] | None = json.loads(
                    _cipher.open(
                        row.answers_sealed, table=HealthDeclaration._meta.db_table, record_id=row.id, field="answers"
                    )
                )
            except DataKeyShredded:
                answers = None
            found.append(
                {
                    "id": row.id,
                    "subscription_id": row.subscription_id,
                    "declared_at": row.declared_at,
                    "answers": answers,
                    "shredded": answers is None,
                }
            )
            record_action(
                database=DATABASE,
                action=Action.READ_HEALTH,
                record_type="health_declaration",
                record_id=row.id,
                details={"subscription_id": row.subscription_id, "purpose": "right_of_access"},
            )
    return found


def contract_copies(subscription_ids: list[str]) -> list[dict[str, Any]]:
    """The contract copies of these dossiers, by hash (the PDFs themselves stay with Legal)."""
    rows = ContractCopy.objects.filter(subscription_id__in=subscription_ids).defer("pdf").order_by("created_at")
    return [
        {
            "id": r.id,
            "subscription_id": r.subscription_id,
            "kind": r.kind,
            "sha256": r.sha256,
            "created_at": r.created_at,
        }
        for r in rows
    ]


def erase_dossier(*, subscription_id: str, dry_run: bool, reason: str) -> dict[str, int]:
    """Erase a dossier's Legal slice: its data key destroyed (health answers unreadable everywhere, backups
    included), then declarations, tasks, reports, estimates, a health product's decision traces and detailed
    offers, and the drafted copy deleted. The signed contract
    stays: it is kept for the legal retention period (listed by `contract_copies`)."""
    with transaction.atomic(using=DATABASE):
        querysets = {
            "health_declarations": HealthDeclaration.objects.filter(subscription_id=subscription_id),
            "tasks": UnderwritingTask.objects.filter(subscription_id=subscription_id),
            "investigation_reports": InvestigationReport.objects.filter(subscription_id=subscription_id),
            "risk_estimates": RiskEstimate.objects.filter(subscription_id=subscription_id),
            "drafted_contracts": ContractCopy.objects.filter(subscription_id=subscription_id, kind="drafted"),
            "decision_traces": DecisionTrace.objects.filter(subscription_id=subscription_id),
            "offer_copies": OfferCopy.objects.filter(subscription_id=subscription_id),
        }
        counts = {name: rows.count() for name, rows in querysets.items()}
        counts["data_keys_destroyed"] = DataKey.objects.filter(subject=subscription_id).count()
        if dry_run or not any(counts.values()):
            return counts
        _cipher.shred(subject=subscription_id)
        for rows in querysets.values():
            rows.delete()
        record_action(
            database=DATABASE,
            action=Action.ERASE,
            record_type="dossier",
            record_id=subscription_id,
            details={**counts, "reason": reason},
        )
    return counts


def erase_customer_reports(*, customer_id: uuid.UUID, dry_run: bool, reason: str) -> int:
    """Reports filed about the customer outside any dossier (the enquêteur's own investigations)."""
    with transaction.atomic(using=DATABASE):
        rows = InvestigationReport.objects.filter(customer_id=customer_id, subscription_id="")
        count = rows.count()
        if not dry_run and count:
            rows.delete()
            record_action(
                database=DATABASE,
                action=Action.ERASE,
                record_type="customer",
                record_id=customer_id,
                details={"investigation_reports": count, "reason": reason},
            )
    return count
