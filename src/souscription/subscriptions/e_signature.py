"""The contract signed at the e-signature vendor, when configuration gives the signature port to one (Yousign).

The platform's own signature (a code by email, then PAdES) is the embedded default and costs nothing here. With a
vendor:
- once the contract is drafted, the dossier's workflow sends it, by a durable vendor call made once per dossier;
  the vendor invites the signer and `signature_status` is its answer;
- the vendor's webhooks move `signature_status`, once per event id and never backwards; `done` starts the same
  signing-and-billing workflow as the embedded signature (`sign:<dossier>`, so never twice), with the signed PDF
  fetched from the vendor and kept by Legal;
- a withdrawn dossier's request, still open, is cancelled (compensation): the customer can no longer sign it.

The PDF and the signer's contact are read by the call itself from the departments that own them: DBOS's workflow
database holds only ids and statuses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from souscription.connectors import calls, registry
from souscription.connectors import services as connectors
from souscription.customers import services as customers
from souscription.integrations.signature.port import (
    CancelReason,
    ContractForSignature,
    SignatureEvent,
    SignatureStatus,
    Signer,
)
from souscription.kernel.errors import Conflict
from souscription.platform import workflows
from souscription.subscriptions import services
from souscription.subscriptions.domain import Stage
from souscription.subscriptions.models import Dossier as DossierRow
from souscription.underwriting import services as underwriting

DATABASE = services.DATABASE
log = structlog.get_logger(__name__)
_RANK = {SignatureStatus.DRAFT: 0, SignatureStatus.ONGOING: 1}
"""Final statuses rank 2: a request never goes back from a final status, nor from ongoing to draft."""


class SignedAtVendor(Conflict):
    code = "signature_at_vendor"
    message = (
        "Ce contrat se signe chez le prestataire de signature électronique : suivez le lien reçu par e-mail "
        "(aucun code n'est envoyé par la plateforme)."
    )


def check_signed_here() -> None:
    """The embedded signature (code, then PAdES) is refused when the vendor collects the signature."""
    if registry.uses_vendor("signature"):
        raise SignedAtVendor(field="signature")


# -- from the dossier's workflows -------------------------------------------------------------------------------


def request_signature(subscription_id: str, dossier_key: str) -> None:
    """Send the drafted contract to the vendor (once per dossier, whatever the crashes and replays)."""
    if not registry.uses_vendor("signature"):
        return
    key = f"signature:{dossier_key}"
    sent = calls.run("signature.send_contract", key=key, subscription_id=subscription_id, args=(subscription_id,))
    record_request(subscription_id, dict(sent))


def cancel_request(subscription_id: str, dossier_key: str) -> None:
    """Compensation of a withdrawal: the request still open is cancelled at the vendor."""
    if not registry.uses_vendor("signature"):
        return
    request_id = open_request(subscription_id)
    if not request_id:
        return
    key = f"signature-cancel:{dossier_key}"
    args = (request_id,)
    cancelled = calls.run("signature.cancel", key=key, subscription_id=subscription_id, args=args)
    record_request(subscription_id, dict(cancelled))


@workflows.step()
def open_request(subscription_id: str) -> str:
    row, _dossier = services.load(subscription_id)
    if row.signature_request_id and row.signature_status in {status.value for status in SignatureStatus.open()}:
        return row.signature_request_id
    return ""


@workflows.step()
def record_request(subscription_id: str, answer: dict[str, str]) -> None:
    """The vendor's answer to a call; a webhook applied since (a later state) is not overwritten."""
    with transaction.atomic(using=DATABASE):
        row, _dossier = services.load(subscription_id, for_update=True)
        row.signature_request_id = answer["request_id"][:64]
        status = SignatureStatus(answer["status"])
        if _moves_forward(row.signature_status, status):
            row.signature_status = status.value
        row.save(update_fields=["signature_request_id", "signature_status"])


# -- the vendor's webhooks --------------------------------------------------------------------------------------


def dossier_signed_by(event: SignatureEvent) -> str | None:
    """The subscription whose contract this event says is signed, while its dossier awaits the signature."""
    if event.status is not SignatureStatus.DONE:
        return None
    row = DossierRow.objects.filter(signature_request_id=event.request_id).only("subscription_id", "stage").first()
    if row is None or row.stage != Stage.AWAITING_SIGNATURE.value:
        return None
    return str(row.subscription_id)


def apply_event(event: SignatureEvent, *, vendor: str, now: datetime) -> bool:
    """Take a verified event in: once per event id, and applied only if it moves the request forward in time. An
    event for a request no dossier knows (not recorded yet, or another application's) is left for a redelivery.
    True when `signature_status` changed."""
    with transaction.atomic(using=DATABASE):
        row = DossierRow.objects.select_for_update().filter(signature_request_id=event.request_id).first()
        if row is None:
            log.info("signature.webhook_unknown_request", vendor=vendor, event=event.event_name)
            return False
        if not connectors.first_delivery(vendor=vendor, event_id=event.event_id, event_type=event.event_name, at=now):
            return False
        if event.status is None or not _newer(row, event.status, event.occurred_at):
            return False
        row.signature_status, row.signature_status_at = event.status.value, event.occurred_at
        row.save(update_fields=["signature_status", "signature_status_at"])
    return True


def _newer(row: Any, status: SignatureStatus, occurred_at: datetime) -> bool:
    """Deliveries come out of order and Yousign's times are whole seconds: at the same second, the further state
    wins (a signer's `done` and the request's `done` share their second with the activation's echo)."""
    if not _moves_forward(row.signature_status, status):
        return False
    return row.signature_status_at is None or occurred_at >= row.signature_status_at


def _moves_forward(current: str, new: SignatureStatus) -> bool:
    if current in {"none", ""}:
        return True
    try:
        old = SignatureStatus(current)
    except ValueError:
        return True
    if old in SignatureStatus.final():
        return False
    return _RANK.get(new, 2) >= _RANK.get(old, 2)


# -- the operations (run by connectors.calls, one attempt per DBOS step) ----------------------------------------


@calls.operation("signature.send_contract")
def send_contract(subscription_id: str, *, key: str) -> dict[str, str]:
    row, _dossier = services.load(subscription_id)
    pdf = underwriting.contract_copy(subscription_id, "drafted")
    contact = customers.contact_of(row.customer_id) if row.customer_id else None
    if pdf is None or contact is None:
        raise ValueError("the dossier has no drafted contract or no contact")
    signer = Signer(
        first_name=contact.first_name, last_name=contact.last_name, email=contact.email, phone=contact.phone or None
    )
    contract = ContractForSignature(
        subscription_id=subscription_id, pdf=pdf, file_name=f"contrat-{subscription_id}.pdf", signer=signer
    )
    sent = registry.adapter("signature").send_for_signature(contract, key=key)
    return {"request_id": sent.request_id, "status": sent.status.value}


@calls.operation("signature.cancel")
def cancel(request_id: str, *, key: str) -> dict[str, str]:
    note = "Le dossier de souscription a été retiré : ce contrat ne doit plus être signé."
    done = registry.adapter("signature").cancel(request_id, reason=CancelReason.CONTRACT_VOIDED, note=note, key=key)
    if done.status is SignatureStatus.DONE:
        log.warning("signature.signed_before_cancel", request_id=request_id)
    return {"request_id": done.request_id, "status": done.status.value}


@calls.operation("signature.keep_signed")
def keep_signed(subscription_id: str, request_id: str, *, key: str) -> str:
    """Legal keeps the copy the vendor signed (sealed by the vendor's certificate, so checked as a PDF only)."""
    signed = registry.adapter("signature").signed_document(request_id)
    underwriting.keep_contract_copy(
        subscription_id=subscription_id, kind="signed", pdf=signed.pdf, drafted_by="", at=timezone.now()
    )
    return "kept"
