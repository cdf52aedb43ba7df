"""Right of access (GDPR art. 15): everything held on a customer, gathered from every department's services.

Each department answers for its own database (`customer_data` in its services); this module only assembles, adds
the audit entries about the customer's records, and records the export itself (`Action.EXPORT`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction

from souscription.audit.context import Actor, record_action
from souscription.audit.domain import Action
from souscription.audit.subject import entries_about
from souscription.billing import privacy as billing
from souscription.consents import services as consents
from souscription.customers import services as customers
from souscription.identity import privacy as accounts
from souscription.kernel.errors import NotFound
from souscription.sales import services as sales
from souscription.subscriptions import privacy as dossiers
from souscription.tickets import services as tickets
from souscription.underwriting import privacy as underwriting

EXPORT_FORMAT = "souscription.gdpr.access/1"


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    message = "Client introuvable : donnez son identifiant (UUID) ou son adresse e-mail."


def resolve_customer(reference: str) -> uuid.UUID:
    """A customer's id from their id or e-mail; an erased customer whose dossiers remain is still found by id."""
    found = customers.find_customer_id(reference)
    if found is not None:
        return found
    try:
        customer_id = uuid.UUID(reference)
    except ValueError:
        raise CustomerNotFound(field="customer") from None
    if dossiers.customers_with_dossiers([customer_id]):
        return customer_id
    raise CustomerNotFound(field="customer")


def export_customer(
    *, customer_id: uuid.UUID, output_format: str, actor: Actor | None, now: datetime
) -> dict[str, Any]:
    """The whole export, one section per department database, then its audit entry in the platform's log."""
    platform = dossiers.customer_data(customer_id)
    subscription_ids = [row["subscription_id"] for row in platform]
    contact = customers.customer_data(customer_id)
    departments = {
        "customer_service": {
            "contact": contact,
            "tickets": tickets.customer_data(customer_id),
            "consents": consents.customer_data(customer_id=customer_id, subscription_ids=subscription_ids),
        },
        "default": {
            "dossiers": platform,
            "portal_account": accounts.account_data(str(contact["email"])) if contact else None,
        },
        "sales": sales.customer_data(customer_id=customer_id, subscription_ids=subscription_ids),
        "legal": underwriting.customer_data(customer_id=customer_id, subscription_ids=subscription_ids),
        "billing": billing.customer_data(customer_id=customer_id, subscription_ids=subscription_ids),
    }
    record_ids = {str(customer_id), *_ids(departments)}
    audit = {
        database: entries_about(database=database, record_ids=record_ids, subscription_ids=subscription_ids)
        for database in connections
    }
    _record_export(customer_id, output_format, len(subscription_ids), actor)
    return {
        "format": EXPORT_FORMAT,
        "customer_id": customer_id,
        "exported_at": now,
        "subscription_ids": subscription_ids,
        "databases": departments,
        "audit_trail": audit,
    }


def to_json(export: dict[str, Any]) -> str:
    return json.dumps(export, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


def _record_export(customer_id: uuid.UUID, output_format: str, dossier_count: int, actor: Actor | None) -> None:
    with transaction.atomic(using="default"):
        record_action(
            database="default",
            action=Action.EXPORT,
            record_type="customer",
            record_id=customer_id,
            details={"right": "access", "format": output_format, "dossiers": dossier_count},
            actor=actor,
        )


def _ids(tree: Any) -> Iterator[str]:
    """Every record id and invoice number in the export: audit entries name records by them."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in {"id", "number", "reference"} and value is not None:
                yield str(value)
            else:
                yield from _ids(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _ids(item)
