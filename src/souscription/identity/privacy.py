"""A customer's portal account under the GDPR: what the right of access shows, what erasure removes.

Staff accounts are not concerned (the employer's records, not a customer's); a customer account is found by its
email, the link the portal shares with customer service's contact data."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.identity.models import AccountType, User

DATABASE = "default"


def account_data(email: str) -> dict[str, Any] | None:
    user = User.objects.filter(email=email.strip().lower(), account_type=AccountType.CUSTOMER).first()
    if user is None:
        return None
    fields = ("email", "first_name", "last_name", "date_joined", "email_verified_at", "last_login", "is_active")
    return {name: getattr(user, name) for name in fields}


def erase_account(*, email: str, dry_run: bool, reason: str) -> int:
    """Delete the customer's portal account (its codes and links go with it; its sessions no longer resolve)."""
    with transaction.atomic(using=DATABASE):
        rows = User.objects.filter(email=email.strip().lower(), account_type=AccountType.CUSTOMER)
        ids = list(rows.values_list("pk", flat=True))
        if dry_run or not ids:
            return len(ids)
        rows.delete()
        for user_id in ids:
            record_action(
                database=DATABASE,
                action=Action.ERASE,
                record_type="customer_account",
                record_id=user_id,
                details={"reason": reason},
            )
    return len(ids)
