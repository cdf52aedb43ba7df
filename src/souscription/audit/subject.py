"""The audit entries about one person, for the right of access: what was done with their records, by whom, when.

Entries name records by type and id, never by a foreign key, so the person's entries are those naming one of their
records, acting as the applicant of one of their dossiers, or citing one of their dossiers in their details."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Q

from souscription.audit.domain import applicant_actor
from souscription.audit.models import AuditEntry
from souscription.audit.services import entry_fields


def entries_about(
    *, database: str, record_ids: Collection[str], subscription_ids: Collection[str]
) -> list[dict[str, Any]]:
    """The entries of `database`'s log about these records and dossiers, oldest first, as the verifier reads them."""
    if not record_ids and not subscription_ids:
        return []
    about = Q(record_id__in=[*record_ids, *subscription_ids])
    about |= Q(actor__in=[applicant_actor(sid) for sid in subscription_ids])
    about |= Q(details__subscription_id__in=list(subscription_ids))
    rows = AuditEntry.objects.using(database).filter(about).order_by("sequence")
    return [entry_fields(database, row) for row in rows]
