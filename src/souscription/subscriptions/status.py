"""The one status of a dossier that every team and the customer read (seed 000's data contract, version 1)."""

from __future__ import annotations

from typing import Any

from souscription.access.policy import Viewer, visible_status
from souscription.customers import services as customers
from souscription.products.domain import missing_steps
from souscription.sales import services as sales
from souscription.subscriptions import domain, services
from souscription.subscriptions.domain import Stage
from souscription.underwriting import health_products
from souscription.underwriting import services as underwriting


def dossier_status(subscription_id: str, *, viewer: Viewer, answered: services.Revised | None = None) -> dict[str, Any]:
    """The status as `viewer` may read it (access policy): fields of a category it may not read are withheld.

    `answered` is what a step's submission just left: while the dossier is still at that revision, the steps it
    found missing are the status's, and the answers are not gathered (and decrypted) a second time."""
    row, _dossier = services.load(subscription_id)
    stage = Stage(row.stage)
    contact = customers.contact_of(row.customer_id) if row.customer_id else None
    definition = services.product_version(row).definition
    missing: tuple[str, ...] = ()
    if stage is Stage.DRAFT and answered is not None and answered.revision == row.revision:
        missing = answered.missing_steps
    elif stage is Stage.DRAFT:
        missing = missing_steps(definition, services.answers_of(row))
    tasks = underwriting.tasks_of(subscription_id) if row.referred else []
    open_kinds = tuple(task.kind for task in tasks if task.status == "open")
    action = domain.next_action(
        stage=stage,
        referred=row.referred,
        missing_steps=missing,
        open_tasks=open_kinds,
        information_requested=bool(row.information_requested),
        invoice_status=row.invoice_status,
    )
    terms = sales.offer_terms(row.offer_id) if row.offer_id else None
    health_product = services.has_health_fields(definition)
    breakdown = terms.breakdown if terms else None
    exclusions = list(row.exclusions)
    requested: str | None = row.information_requested
    closing: str | None = row.closing_reason
    if health_product:
        # Legal keeps what reveals the health answers; the dossier row holds neutral wording in its place.
        if row.offer_id and terms:
            breakdown = health_products.offer_breakdown(row.offer_id) or breakdown
        texts = health_products.underwriting_texts(subscription_id, revision=row.revision)
        exclusions = list(texts.exclusions)
        requested = texts.information_requested if requested == health_products.WITHHELD_REQUEST else requested
        if closing in {health_products.WITHHELD_DECISION, health_products.WITHHELD_REFUSAL}:
            closing = texts.closing_reason or closing
    status = {
        "subscription_id": row.subscription_id,
        "customer": {"email": contact.email if contact else None, "country": contact.country if contact else None},
        "product": row.product,
        "product_version": row.product_version,
        "stage": stage.value,
        "crm_status": row.crm_status,
        "signature_status": row.signature_status,
        "mandate_status": row.mandate_status,
        "invoice_status": row.invoice_status,
        "payment_status": row.payment_status,
        "erp_sync": row.erp_sync,
        "next_action": ({"code": action.code, "label": action.label, "owner": action.owner} if action else None),
        "missing_steps": list(missing),
        "offer": (
            {
                "premium_cents": terms.premium_cents,
                "instalment_cents": terms.instalment_cents,
                "frequency": terms.frequency,
                "currency": terms.currency,
                "valid_until": terms.valid_until,
                "breakdown": breakdown,
            }
            if terms and row.premium_cents is not None
            else None
        ),
        "exclusions": exclusions,
        "information_requested": requested or None,
        "closing_reason": closing or None,
        "tasks": [{"id": t.id, "kind": t.kind, "role": t.role, "status": t.status, "due_on": t.due_on} for t in tasks],
        "invoice_id": row.invoice_id,
        "revision": row.revision,
        "updated_at": row.updated_at,
    }
    return visible_status(status, viewer, health_product=health_product)
