"""Legal's use cases (database `legal`, physically apart from the others)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from souscription.underwriting.models import InvestigationReport

DATABASE = "legal"


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
    return report


def report_count() -> int:
    return InvestigationReport.objects.count()
