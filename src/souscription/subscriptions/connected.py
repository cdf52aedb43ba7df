"""The dossier's calls to vendors, for the ports configuration gives to a vendor (issue 5).

Each operation runs inside `connectors.calls.vendor_call` (a child workflow on the port's rate-limited queue): it
takes ids only, reads what it sends from the department that owns it, and returns a short status, so DBOS's
workflow database never holds contact or bank data. A port left `embedded` costs nothing: `sync_crm` and `sync_erp`
return at once and the dossier follows the platform's own pipeline and ledger.

- CRM (HubSpot): Sales' consumer of the dossier's events (priced, referred, activated) upserts the contact and the
  deal, by a workflow of its own that the dossier does not wait for; `crm_status` is the one the CRM answers.
- ERP (Odoo): once the first invoice is validated and in the platform's ledger, the customer is upserted as a
  partner and the invoice created and posted; `erp_sync` is what the ERP answers. A customer without a postal
  address fails the ERP's data-quality checks: the call is dead-lettered with the reason until it is corrected."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from dbos import DBOS, SetWorkflowID
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from souscription.billing import services as billing
from souscription.connectors import bus as connectors_bus
from souscription.connectors import calls, registry
from souscription.customers import services as customers
from souscription.integrations.bus.envelope import Envelope
from souscription.integrations.bus.port import EventBus
from souscription.integrations.crm.port import CustomerContact, DossierDeal
from souscription.integrations.erp.port import Customer, InstalmentInvoice
from souscription.integrations.erp.quality import customer_reference
from souscription.platform import workflows
from souscription.sales import services as sales
from souscription.subscriptions import outbox, services
from souscription.subscriptions.models import Dossier as DossierRow

DATABASE = services.DATABASE
SIDE_STATUSES = frozenset({"erp_sync", "invoice_status"})


# -- called from the dossier's workflows ------------------------------------------------------------------------


_subscribed: set[int] = set()
CRM_STAGES = {"subscriptions.dossier_priced": "priced", "subscriptions.dossier_referred": "referred",
              "subscriptions.dossier_activated": "active"}  # fmt: skip


@outbox.subscriber
def subscribe_crm(event_bus: EventBus) -> None:
    """Sales' CRM follows the dossier from its events (it never reads the dossier's tables to learn a move)."""
    if registry.uses_vendor("crm") and id(event_bus) not in _subscribed:
        keys = [f"{name}.v1" for name in CRM_STAGES]
        event_bus.subscribe("sales.crm-sync", keys, on_dossier_moved, consumed=connectors_bus.consumed(DATABASE))
        _subscribed.add(id(event_bus))


def on_dossier_moved(envelope: Envelope) -> None:
    sync_crm(str(envelope.payload["subscription_id"]), CRM_STAGES[envelope.event_type])


def sync_crm(subscription_id: str, stage: str) -> None:
    """Start the CRM's sync of the dossier and go on: a CRM that is down never holds a dossier back. Each sync
    sends the dossier's stage as it is when the call is made, and its answer is kept only while the dossier is
    still there, so a sync that waited (parked) behind a later one never moves the deal or `crm_status` back."""
    if not registry.uses_vendor("crm"):
        return
    row, _dossier = services.load(subscription_id)
    key = f"crm:{row.id}:{stage}"
    with SetWorkflowID(f"sync:{key}"):
        DBOS.start_workflow(crm_sync, subscription_id, key)


@DBOS.workflow()
def crm_sync(subscription_id: str, key: str) -> str:
    synced = calls.run("crm.sync_deal", key=key, subscription_id=subscription_id, args=(subscription_id,))
    return record_crm_status(subscription_id, dict(synced))


@workflows.step()
def record_crm_status(subscription_id: str, synced: dict[str, str]) -> str:
    with transaction.atomic(using=DATABASE):
        row, _dossier = services.load(subscription_id, for_update=True)
        row.crm_deal_id = str(synced.get("crm_id", row.crm_deal_id))[:64]
        fields = ["crm_deal_id"]
        if row.stage == synced["stage"]:
            row.crm_status, row.crm_status_at = synced["crm_status"][:16], timezone.now()
            fields += ["crm_status", "crm_status_at"]
        row.save(update_fields=fields)
    return row.crm_status


def apply_crm_move(*, crm_deal_id: str, crm_status: str | None, occurred_at: datetime) -> bool:
    """A move a salesperson made in the CRM, from its webhook: the dossier's `crm_status` follows it, unless a later
    move was applied already (deliveries come out of order) or the stage is not one we map. True when applied."""
    if crm_status is None or not crm_deal_id:
        return False
    with transaction.atomic(using=DATABASE):
        updated = (
            DossierRow.objects.filter(crm_deal_id=crm_deal_id)
            .filter(Q(crm_status_at__isnull=True) | Q(crm_status_at__lt=occurred_at))
            .update(crm_status=crm_status[:16], crm_status_at=occurred_at)
        )
    return bool(updated)


def sync_erp(subscription_id: str, invoice_id: str) -> None:
    if not registry.uses_vendor("erp"):
        return
    # The invoice is validated: say so now, since the ERP may take a while (the next action is the platform's).
    record_side_status(subscription_id, "invoice_status", "validated")
    key = f"erp:{dossier_key(subscription_id)}:{invoice_id}"
    args = (subscription_id, invoice_id)
    sync = calls.run("erp.post_first_invoice", key=key, subscription_id=subscription_id, args=args)
    record_side_status(subscription_id, "erp_sync", str(sync))


@workflows.step()
def dossier_key(subscription_id: str) -> str:
    """Call keys derive from the dossier row's UUID, as workflow ids do: a subscription id is readable and
    sequential, and a database rebuilt from scratch would give it again to another dossier."""
    row, _dossier = services.load(subscription_id)
    return str(row.id)


@workflows.step()
def record_side_status(subscription_id: str, field: str, value: str) -> None:
    """A side status as the vendor gave it; the stage is not touched."""
    if field not in SIDE_STATUSES:
        raise ValueError(f"not a vendor side status: {field}")
    with transaction.atomic(using=DATABASE):
        row, _dossier = services.load(subscription_id, for_update=True)
        setattr(row, field, value[:16])
        row.save(update_fields=[field])


# -- the operations (run by connectors.calls, one attempt per DBOS step) ----------------------------------------


@calls.operation("crm.sync_deal")
def crm_sync_deal(subscription_id: str, *, key: str) -> dict[str, str]:
    row, _dossier = services.load(subscription_id)
    stage = row.stage
    contact = customers.contact_of(row.customer_id) if row.customer_id else None
    if contact is None:
        raise ValueError("the dossier has no contact yet")
    crm: Any = registry.adapter("crm")
    crm_contact = crm.upsert_contact(
        CustomerContact(
            email=contact.email,
            first_name=contact.first_name,
            last_name=contact.last_name,
            phone=contact.phone,
            country=contact.country,
        ),
        key=f"{key}:contact",
    )
    # Two syncs of one dossier may overlap (one parked, then resumed): each checks, after writing, that the dossier
    # did not move meanwhile, and writes again if it did, so the one that ends last leaves the CRM at the stage.
    for _attempt in range(5):
        deal = crm.upsert_deal(
            DossierDeal(
                subscription_id=subscription_id, product=row.product, amount_cents=row.premium_cents or 0, stage=stage
            ),
            contact_crm_id=crm_contact.crm_id,
            key=f"{key}:deal",
        )
        row, _dossier = services.load(subscription_id)
        if row.stage == stage:
            break
        stage = row.stage
    return {"stage": stage, "crm_status": str(deal.crm_status), "crm_id": str(deal.crm_id)}


@calls.operation("erp.post_first_invoice")
def erp_post_first_invoice(subscription_id: str, invoice_id: str, *, key: str) -> str:
    row, _dossier = services.load(subscription_id)
    invoice = billing.invoice(uuid.UUID(invoice_id))
    contact = customers.contact_of(row.customer_id) if row.customer_id else None
    terms = sales.offer_terms(row.offer_id) if row.offer_id else None
    if contact is None or row.customer_id is None or terms is None:
        raise ValueError("the dossier has no contact or no offer")
    tax_rate = Decimal(str(terms.breakdown["tax"]["rate"]))
    lines = {line["account"]: line for line in billing.ledger_lines(invoice.number)}
    if "706000" not in lines:
        raise ValueError("the invoice is not in the platform's ledger yet")
    erp: Any = registry.adapter("erp")
    reference = customer_reference(row.customer_id)
    partner = erp.upsert_customer(
        Customer(
            reference=reference,
            name=f"{contact.first_name} {contact.last_name}",
            email=contact.email,
            street=contact.street,
            postcode=contact.postcode,
            city=contact.city,
            country_code=contact.country,
        ),
        key=f"{key}:customer",
    )
    posted = erp.post_invoice(
        InstalmentInvoice(
            invoice_id=invoice.number,
            subscription_id=subscription_id,
            customer_reference=reference,
            amount_excl_tax_cents=int(lines["706000"]["credit_cents"]),
            tax_rate=tax_rate,
            currency=invoice.currency,
            issued_on=invoice.issued_on or row.updated_at.date(),
            label="Prime d'assurance — première échéance",
        ),
        customer_erp_id=partner.erp_id,
        key=f"{key}:invoice",
    )
    return str(posted.sync)
