"""Legal's use cases (database `legal`, physically apart from the others)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction

from souscription.audit import context as audit_context
from souscription.audit.context import Actor, record_action
from souscription.audit.domain import Action
from souscription.kernel.errors import Conflict, NotFound, PermissionDenied
from souscription.platform import prepared
from souscription.platform.databases import without_flush
from souscription.platform.encryption.store import FieldCipher
from souscription.underwriting.models import (
    ContractCopy,
    DataKey,
    HealthDeclaration,
    InvestigationReport,
    RiskEstimate,
    UnderwritingTask,
)

DATABASE = "legal"
_cipher = FieldCipher(DataKey, database=DATABASE)


def file_investigation_report(
    *, report_id: uuid.UUID, customer_id: uuid.UUID, author_id: int, findings: str, at: datetime
) -> InvestigationReport:
    with transaction.atomic(using=DATABASE):
        report, _created = InvestigationReport.objects.get_or_create(
            id=report_id,
            defaults={
                "customer_id": customer_id,
                "author_id": author_id,
                "findings": findings,
                "written_at": at,
            },
        )
        if _created:
            record_action(
                database=DATABASE,
                action=Action.CREATE,
                record_type="investigation_report",
                record_id=report_id,
                actor=_staff(author_id, "investigator"),
            )
    return report


def report_count() -> int:
    return InvestigationReport.objects.count()


# -- health answers ------------------------------------------------------------------------------------------


def declare_health(*, declaration_id: uuid.UUID, subscription_id: str, answers: dict[str, Any], at: datetime) -> None:
    """Keep a health questionnaire as submitted, sealed with the dossier's data key; never overwritten, so a
    decision can cite the row it saw."""
    with transaction.atomic(using=DATABASE):
        if HealthDeclaration.objects.filter(id=declaration_id).exists():
            return
        sealed = _cipher.seal(
            json.dumps(answers, ensure_ascii=False, sort_keys=True),
            subject=subscription_id,
            table=HealthDeclaration._meta.db_table,
            record_id=declaration_id,
            field="answers",
        )
        HealthDeclaration.objects.create(
            id=declaration_id, subscription_id=subscription_id, answers_sealed=sealed, declared_at=at
        )
        record_action(
            database=DATABASE,
            action=Action.CREATE,
            record_type="health_declaration",
            record_id=declaration_id,
            details={"subscription_id": subscription_id, "questions": len(answers)},
        )


def latest_health_declaration(subscription_id: str) -> tuple[uuid.UUID, dict[str, Any]] | None:
    row = prepared.one(HealthDeclaration, by="subscription_id", value=subscription_id, order_by=("-declared_at",))
    if row is None:
        return None
    answers = _cipher.open(
        row.answers_sealed, table=HealthDeclaration._meta.db_table, record_id=row.id, field="answers"
    )
    return row.id, dict(json.loads(answers))


def shred_health_answers(*, subscription_id: str) -> int:
    """Crypto-shredding for erasure: the dossier's data key is destroyed, its health answers (in this database,
    its replicas and its backups) can no longer be read. Returns the number of data keys destroyed."""
    return _cipher.shred(subject=subscription_id)


# -- tasks and queues ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    id: uuid.UUID
    subscription_id: str
    kind: str
    role: str
    status: str
    reasons: tuple[str, ...]
    due_on: date
    opened_at: datetime
    closed_at: datetime | None


class TaskNotOpen(Conflict):
    code = "task_not_open"
    message = "Cette tâche est déjà close : rechargez la file de travail."


class TaskNotFound(NotFound):
    code = "task_not_found"
    message = "Tâche introuvable."


class WrongQueue(PermissionDenied):
    code = "wrong_queue"
    message = "Cette tâche est assignée à un autre rôle."


def open_task(
    *,
    task_id: uuid.UUID,
    subscription_id: str,
    kind: str,
    role: str,
    reasons: tuple[str, ...],
    due_on: date,
    at: datetime,
) -> None:
    """Put a task in a role's queue (idempotent on the task id)."""
    with transaction.atomic(using=DATABASE):
        UnderwritingTask.objects.get_or_create(
            id=task_id,
            defaults={
                "subscription_id": subscription_id,
                "kind": kind,
                "role": role,
                "reasons": list(reasons),
                "due_on": due_on,
                "opened_at": at,
            },
        )


def queue(role: str, *, limit: int = 100) -> list[Task]:
    """The open tasks of a role, the most urgent first."""
    rows = UnderwritingTask.objects.filter(role=role, status=UnderwritingTask.Status.OPEN).order_by(
        "due_on", "opened_at"
    )[:limit]
    return [_task(row) for row in rows]


def tasks_of(subscription_id: str) -> list[Task]:
    return [_task(row) for row in UnderwritingTask.objects.filter(subscription_id=subscription_id)]


def task(task_id: uuid.UUID) -> Task:
    row = UnderwritingTask.objects.filter(id=task_id).first()
    if row is None:
        raise TaskNotFound(field="task_id")
    return _task(row)


def check_task_open_for(task_id: uuid.UUID, *, role: str, kind: str) -> Task:
    found = task(task_id)
    if found.kind != kind:
        raise TaskNotFound(field="task_id")
    if found.role != role:
        raise WrongQueue(field="task_id")
    if found.status != UnderwritingTask.Status.OPEN:
        raise TaskNotOpen(field="task_id")
    return found


def _close(task_id: uuid.UUID, *, by: int, at: datetime) -> bool:
    """Close an open task; False when it was already closed (a replayed step), so callers stay idempotent."""
    return bool(
        UnderwritingTask.objects.filter(id=task_id, status=UnderwritingTask.Status.OPEN).update(
            status=UnderwritingTask.Status.DONE, closed_at=at, closed_by=by
        )
    )


def cancel_open_tasks(subscription_id: str, *, at: datetime) -> int:
    with transaction.atomic(using=DATABASE):
        return UnderwritingTask.objects.filter(
            subscription_id=subscription_id, status=UnderwritingTask.Status.OPEN
        ).update(status=UnderwritingTask.Status.CANCELLED, closed_at=at)


def _task(row: UnderwritingTask) -> Task:
    return Task(
        id=row.id,
        subscription_id=row.subscription_id,
        kind=row.kind,
        role=row.role,
        status=row.status,
        reasons=tuple(row.reasons),
        due_on=row.due_on,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
    )


# -- the underwriting path of seed 003 -----------------------------------------------------------------------


def complete_investigation(
    *,
    task_id: uuid.UUID,
    customer_id: uuid.UUID,
    author_id: int,
    findings: str,
    next_task_id: uuid.UUID,
    estimation_due_on: date,
    at: datetime,
) -> None:
    """The enquêteur's report closes the investigation and puts the estimation in the estimateur's queue."""
    with transaction.atomic(using=DATABASE):
        current = UnderwritingTask.objects.select_for_update().get(id=task_id)
        if not _close(task_id, by=author_id, at=at):
            return
        InvestigationReport.objects.create(
            id=task_id,
            customer_id=customer_id,
            subscription_id=current.subscription_id,
            author_id=author_id,
            findings=findings,
            written_at=at,
        )
        UnderwritingTask.objects.create(
            id=next_task_id,
            subscription_id=current.subscription_id,
            kind=UnderwritingTask.Kind.ESTIMATION,
            role="estimator",
            reasons=current.reasons,
            due_on=estimation_due_on,
            opened_at=at,
        )
        record_action(
            database=DATABASE,
            action=Action.CREATE,
            record_type="investigation_report",
            record_id=task_id,
            details={"subscription_id": current.subscription_id},
            actor=_staff(author_id, "investigator"),
        )


@dataclass(frozen=True)
class Estimate:
    risk_class: str
    premium_adjustment_pct: int
    exclusions: tuple[str, ...]
    decision: str
    note: str


def record_estimate(*, task_id: uuid.UUID, estimator_id: int, estimate: Estimate, at: datetime) -> None:
    """The estimateur's decision closes the estimation task (idempotent: a replay changes nothing)."""
    with transaction.atomic(using=DATABASE):
        current_task = UnderwritingTask.objects.select_for_update().get(id=task_id)
        if not _close(task_id, by=estimator_id, at=at):
            return
        RiskEstimate.objects.create(
            id=task_id,
            subscription_id=current_task.subscription_id,
            estimator_id=estimator_id,
            risk_class=estimate.risk_class,
            premium_adjustment_pct=estimate.premium_adjustment_pct,
            exclusions=list(estimate.exclusions),
            decision=estimate.decision,
            note=estimate.note,
            decided_at=at,
            workflow_due=True,
        )
        record_action(
            database=DATABASE,
            action=Action.DECIDE,
            record_type="risk_estimate",
            record_id=task_id,
            details={"subscription_id": current_task.subscription_id, "decision": estimate.decision},
            actor=_staff(estimator_id, "estimator"),
        )


def estimates_due(*, older_than: datetime, limit: int = 100) -> list[uuid.UUID]:
    """Estimates recorded before `older_than` whose workflow never took them (the request died after recording):
    their task ids, oldest first."""
    rows = RiskEstimate.objects.filter(workflow_due=True, decided_at__lt=older_than).order_by("decided_at")
    return list(rows.values_list("id", flat=True)[:limit])


def estimate_taken(task_id: uuid.UUID) -> None:
    """The estimate's workflow runs: the sweeper need not start it. Not flushed to disk: if a power cut loses it,
    the sweeper starts the workflow again, and its id makes that start a no-op."""
    with without_flush(DATABASE), transaction.atomic(using=DATABASE):
        RiskEstimate.objects.filter(id=task_id, workflow_due=True).update(workflow_due=False)


def latest_estimate(subscription_id: str) -> Estimate | None:
    row = RiskEstimate.objects.filter(subscription_id=subscription_id).order_by("-decided_at").first()
    if row is None:
        return None
    return Estimate(row.risk_class, row.premium_adjustment_pct, tuple(row.exclusions), row.decision, row.note)


def close_contract_task(*, task_id: uuid.UUID, jurist_id: int, at: datetime) -> None:
    with transaction.atomic(using=DATABASE):
        _close(task_id, by=jurist_id, at=at)


# -- contract copies -----------------------------------------------------------------------------------------


def keep_contract_copy(*, subscription_id: str, kind: str, pdf: bytes, drafted_by: str, at: datetime) -> None:
    """Keep a copy of the contract (drafted, then signed); idempotent per dossier and kind."""
    with transaction.atomic(using=DATABASE):
        copy, created = prepared.get_or_create(
            ContractCopy,
            where={"subscription_id": subscription_id, "kind": kind},
            using=DATABASE,
            defaults={
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"contract:{subscription_id}:{kind}"),
                "pdf": pdf,
                "sha256": hashlib.sha256(pdf).hexdigest(),
                "drafted_by": drafted_by,
                "created_at": at,
            },
        )
        if created:
            jurist = drafted_by.removeprefix("jurist:") if drafted_by.startswith("jurist:") else None
            record_action(
                database=DATABASE,
                action=Action.SIGN if kind == "signed" else Action.CREATE,
                record_type="contract_copy",
                record_id=copy.id,
                details={"subscription_id": subscription_id, "kind": kind, "sha256": copy.sha256},
                actor=_staff(int(jurist), "jurist") if jurist else None,
            )


def contract_copy(subscription_id: str, kind: str) -> bytes | None:
    row = prepared.first(
        ContractCopy, where={"subscription_id": subscription_id, "kind": kind}, only=("pdf",), using=DATABASE
    )
    return bytes(row.pdf) if row else None


def investigation_reports(subscription_id: str) -> list[uuid.UUID]:
    return list(InvestigationReport.objects.filter(subscription_id=subscription_id).values_list("id", flat=True))


def _staff(user_id: int, role: str) -> Actor:
    """The staff member a workflow step acts for (DBOS threads carry no request), from where the request came when
    the step runs in it."""
    return Actor(str(user_id), role, audit_context.current().source)
