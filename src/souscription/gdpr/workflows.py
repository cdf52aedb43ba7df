"""The daily retention job as a DBOS scheduled workflow: one step per retention rule.

DBOS starts it once per cron tick across every worker (the tick is part of the workflow id), and a crashed run
resumes at the first rule not done; each rule is idempotent, so a step replayed after a crash erases nothing twice."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from dbos import DBOS

from souscription.gdpr import retention
from souscription.gdpr.domain import Category
from souscription.platform import idempotency, workflows

RETENTION_CRON = "0 3 * * *"
"""Every day at 03:00 (Europe/Paris), when the back office is quiet."""


@workflows.scheduled(name="gdpr_retention", cron=RETENTION_CRON, timezone="Europe/Paris")
@DBOS.workflow()
def gdpr_retention(scheduled_time: datetime, context: Any) -> list[dict[str, Any]]:
    outcomes = [
        apply_retention_rule(category.value, scheduled_time.isoformat()) for category in retention.applied_categories()
    ]
    forget_idempotent_answers(scheduled_time.isoformat())
    return outcomes


@workflows.step()
def forget_idempotent_answers(now: str) -> int:
    """The API's remembered answers (they may hold a dossier's status) live a day; the job clears what is older."""
    return idempotency.purge_expired(now=datetime.fromisoformat(now))


@workflows.step()
def apply_retention_rule(category: str, now: str) -> dict[str, Any]:
    outcome = retention.apply_rule(Category(category), now=datetime.fromisoformat(now), dry_run=False)
    return asdict(outcome)
