"""Vendors' webhooks (issue 5): each delivery is verified with the vendor's own signature scheme and replay window,
taken in once per event id, and applied only if it is newer than what the dossier shows.

The signature is the caller's credential: no session, no API key. A delivery that fails it gets 401 and changes
nothing; a vendor that is not the configured adapter of its port gets 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from souscription.connectors import registry
from souscription.connectors import services as connectors
from souscription.integrations.errors import WebhookRejected
from souscription.kernel.errors import InvalidInput, NotAuthenticated, NotFound, Problem
from souscription.platform.schemas import ErrorsOut
from souscription.subscriptions import connected, e_signature, payments, services, workflows
from souscription.tickets import follow_ups

router = Router(tags=["webhooks"])
ERRORS: dict[int, Any] = {400: ErrorsOut, 401: ErrorsOut, 404: ErrorsOut}
_SIGNATURE_CODES = {"signature_missing", "signature_invalid", "replay_window"}


class WebhookNotConfigured(NotFound):
    code = "webhook_not_configured"
    message = "Ce fournisseur n'est pas celui que la configuration donne à son port."


class WebhookUnsigned(NotAuthenticated):
    code = "webhook_signature_refused"
    message = "Signature du webhook absente, fausse ou hors de la fenêtre de rejeu."


T = TypeVar("T")


def verified(port: str, vendor: str, header: str, read: Callable[[Any], T]) -> T:
    """What a delivery says, once its vendor is the port's configured one and its signature holds: 404 for another
    vendor, 401 for a signature missing, false or out of the replay window, 400 for an unreadable body."""
    if registry.vendor_of(port) != vendor:
        raise WebhookNotConfigured(field="vendor")
    try:
        return read(registry.adapter(port))
    except WebhookRejected as refused:
        if refused.code in _SIGNATURE_CODES:
            raise WebhookUnsigned(field=header) from None
        raise InvalidInput([Problem(f"webhook_{refused.code}", "Corps du webhook illisible.", "body")]) from None


@router.post("/webhooks/hubspot", response={204: None, **ERRORS}, auth=None, summary="Webhook HubSpot (v3)")
def hubspot(request: HttpRequest) -> Status[None]:
    """Les déplacements de transactions (deal.propertyChange sur dealstage) faits dans HubSpot."""
    now = timezone.now()
    moves = verified(
        "crm",
        "hubspot",
        "X-HubSpot-Signature-v3",
        lambda crm: crm.webhook_moves(
            request.headers, request.body, now=now, method=request.method or "POST", uri=request.build_absolute_uri()
        ),
    )
    for move in moves:
        with transaction.atomic(using=connectors.DATABASE):
            if connectors.first_delivery(vendor="hubspot", event_id=move.event_id, event_type="deal.stage", at=now):
                connected.apply_crm_move(
                    crm_deal_id=move.crm_deal_id,
                    crm_status=move.crm_status.value if move.crm_status else None,
                    occurred_at=move.occurred_at,
                )
    return Status(204, None)


@router.post("/webhooks/yousign", response={204: None, **ERRORS}, auth=None, summary="Webhook Yousign (v3)")
def yousign(request: HttpRequest) -> Status[None]:
    """Les états d'une demande de signature (activée, signée, refusée, expirée, annulée) envoyés par Yousign."""
    now = timezone.now()
    event = verified(
        "signature",
        "yousign",
        "X-Yousign-Signature-256",
        lambda port: port.read_webhook(request.headers, request.body, now),
    )
    signed = e_signature.dossier_signed_by(event)
    if signed is not None:
        # Started before the delivery is recorded: a crash in between leaves Yousign's redelivery to start it (the
        # workflow id makes the second start join the first).
        row, _dossier = services.load(signed)
        workflows.start(f"sign:{row.id}", workflows.signed_at_vendor, signed, event.request_id)
    e_signature.apply_event(event, vendor="yousign", now=now)
    return Status(204, None)


@router.post("/webhooks/stripe", response={204: None, **ERRORS}, auth=None, summary="Webhook Stripe")
def stripe(request: HttpRequest) -> Status[None]:
    """L'issue des prélèvements SEPA (quelques jours après) et les changements de mandat, envoyés par Stripe."""
    now = timezone.now()
    event = verified(
        "payment", "stripe", "Stripe-Signature", lambda port: port.read_webhook(request.headers, request.body, now)
    )
    payments.apply_event(event, vendor="stripe", now=now)
    return Status(204, None)


@router.post("/webhooks/zendesk", response={204: None, **ERRORS}, auth=None, summary="Webhook Zendesk")
def zendesk(request: HttpRequest) -> Status[None]:
    """Les changements de statut des tickets faits dans Zendesk (par un agent ou une automatisation)."""
    now = timezone.now()
    change = verified(
        "ticketing",
        "zendesk",
        "X-Zendesk-Webhook-Signature",
        lambda port: port.read_webhook(request.headers, request.body, now),
    )
    with transaction.atomic(using=connectors.DATABASE):
        if connectors.first_delivery(vendor="zendesk", event_id=change.event_id, event_type="ticket.status", at=now):
            follow_ups.apply_vendor_status(
                vendor_ticket_id=change.ticket_id, status=change.status.value, updated_at=change.updated_at
            )
    return Status(204, None)
