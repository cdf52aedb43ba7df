"""Yousign v3, the pure part: its states and events mapped onto ours, the JSON the adapter sends, and the check of
its webhooks. No I/O, so every table and rule is tested alone.

Sources (checked 2026-11, developers.yousign.com): "Signature Request" (the nine statuses), "Webhook subscription"
and the webhook reference pages (event names), "Security" and "Handling Webhooks" (the signature: `sha256=` and the
hex HMAC-SHA256 of the raw body, keyed with the subscription's secret), "Failure and Retry Policy" (8 retries over
about four days, `event_time` unchanged), the API reference (request, signer and cancel bodies).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from souscription.integrations.errors import WebhookRejected
from souscription.integrations.signature.port import (
    CancelReason,
    ContractForSignature,
    SignatureEvent,
    SignatureEventKind,
    SignatureStatus,
    normalized_phone,
)

STATUSES: dict[str, SignatureStatus] = {
    "draft": SignatureStatus.DRAFT,
    # Activated, waiting for the insurer's own approvers: the process is under way, the customer waits.
    "approval": SignatureStatus.ONGOING,
    "ongoing": SignatureStatus.ONGOING,
    "done": SignatureStatus.DONE,
    "declined": SignatureStatus.DECLINED,
    "expired": SignatureStatus.EXPIRED,
    "canceled": SignatureStatus.CANCELED,
    # An approver (our side, never the customer) refused it: stopped by the insurer, as a cancellation.
    "rejected": SignatureStatus.CANCELED,
    # Deleted by one of our users (the adapter deletes only drafts, its compensation before anything was sent).
    "deleted": SignatureStatus.CANCELED,
}

EVENTS: dict[str, tuple[SignatureEventKind, SignatureStatus | None]] = {
    "signature_request.activated": (SignatureEventKind.ACTIVATED, SignatureStatus.ONGOING),
    "signature_request.approved": (SignatureEventKind.APPROVED, SignatureStatus.ONGOING),
    "signature_request.reactivated": (SignatureEventKind.REACTIVATED, SignatureStatus.ONGOING),
    "signature_request.done": (SignatureEventKind.DONE, SignatureStatus.DONE),
    "signature_request.declined": (SignatureEventKind.DECLINED, SignatureStatus.DECLINED),
    "signature_request.expired": (SignatureEventKind.EXPIRED, SignatureStatus.EXPIRED),
    "signature_request.canceled": (SignatureEventKind.CANCELED, SignatureStatus.CANCELED),
    "signature_request.rejected": (SignatureEventKind.REJECTED, SignatureStatus.CANCELED),
    "signature_request.deleted": (SignatureEventKind.DELETED, SignatureStatus.CANCELED),
    "signature_request.reminder_executed": (SignatureEventKind.REMINDER_SENT, None),
    "signer.notified": (SignatureEventKind.SIGNER_NOTIFIED, None),
    "signer.link_opened": (SignatureEventKind.SIGNER_OPENED, None),
    # One signer signed; the request itself is done only with `signature_request.done` (all signers).
    "signer.done": (SignatureEventKind.SIGNER_SIGNED, None),
    "approver.approved": (SignatureEventKind.APPROVER_APPROVED, None),
    "approver.rejected": (SignatureEventKind.APPROVER_REJECTED, None),
}
"""The events the webhook subscription is set to send (docs/integrations/yousign.md); any other is refused."""

CANCEL_REASONS: dict[CancelReason, str] = {
    CancelReason.CONTRACT_VOIDED: "contractualization_aborted",
    CancelReason.DOCUMENT_ERROR: "errors_in_document",
    CancelReason.OTHER: "other",
}

SIGNATURE_HEADER = "X-Yousign-Signature-256"
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
"""Yousign's limit per uploaded document ("Limits")."""
WEBHOOK_MAX_AGE = timedelta(days=5)
"""Yousign retries a failed delivery 8 times over about four days (2 min ... 2 days) and `event_time` stays the
first one: a shorter window would refuse its own retries. Replays inside the window are caught by `event_id`."""
WEBHOOK_FUTURE_SKEW = timedelta(minutes=5)


class UnmappedState(ValueError):
    """Yousign answered a status this table does not know: refused, never guessed."""

    def __init__(self, vendor_status: object) -> None:
        self.vendor_status = vendor_status
        super().__init__(f"statut Yousign inconnu : {vendor_status!r}")


def signature_status(vendor_status: object) -> SignatureStatus:
    if not isinstance(vendor_status, str) or vendor_status not in STATUSES:
        raise UnmappedState(vendor_status)
    return STATUSES[vendor_status]


# -- what the adapter sends ------------------------------------------------------------------------------------------


def request_body(contract: ContractForSignature, *, external_id: str, delivery_mode: str) -> dict[str, Any]:
    """`POST /signature_requests`. The external id carries the caller's key: it is how a replayed step finds the
    request its first attempt created (Yousign has no idempotency header)."""
    body: dict[str, Any] = {
        "name": f"{contract.title} — dossier {contract.subscription_id}",
        "delivery_mode": delivery_mode,
        "timezone": "Europe/Paris",
        "external_id": external_id,
        "audit_trail_locale": "fr",
        # Without it the customer cannot refuse and `declined` never happens: the request would only expire.
        "signers_allowed_to_decline": True,
    }
    if contract.expires_on is not None:
        body["expiration_date"] = contract.expires_on.isoformat()
    return body


def signer_body(contract: ContractForSignature, *, document_id: str) -> dict[str, Any]:
    """`POST /signature_requests/{id}/signers`: a simple electronic signature with a one-time code, by SMS when the
    customer gave a phone number (proof of a second channel), by email otherwise."""
    signer = contract.signer
    phone = normalized_phone(signer.phone) if signer.phone else None
    info: dict[str, Any] = {
        "first_name": signer.first_name.strip(),
        "last_name": signer.last_name.strip(),
        "email": signer.email.strip(),
        "locale": signer.locale,
    }
    if phone:
        info["phone_number"] = phone
    return {
        "info": info,
        "signature_level": "electronic_signature",
        "signature_authentication_mode": "otp_sms" if phone else "otp_email",
        "fields": [
            {
                "document_id": document_id,
                "type": "signature",
                "page": contract.field.page,
                "x": contract.field.x,
                "y": contract.field.y,
            }
        ],
    }


def cancel_body(reason: CancelReason, note: str) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": CANCEL_REASONS[reason]}
    if note.strip():
        body["custom_note"] = note.strip()
    return body


def external_id_of(key: str) -> str:
    """The caller's key as Yousign's `external_id`, unchanged so the ops people find a dossier's request by it."""
    if not key or len(key) > 255 or not key.isprintable():
        raise ValueError("la clé d'idempotence doit faire de 1 à 255 caractères imprimables")
    return key


# -- webhooks --------------------------------------------------------------------------------------------------------


def webhook_signature(body: bytes, secret: str) -> str:
    """The header's value for a body: `sha256=` and the hex HMAC-SHA256 of the raw bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: datetime,
    *,
    max_age: timedelta = WEBHOOK_MAX_AGE,
    future_skew: timedelta = WEBHOOK_FUTURE_SKEW,
) -> SignatureEvent:
    """The event a genuine Yousign webhook carries, or `WebhookRejected`. The signature is checked on the raw body
    before anything in it is read."""
    if not secret:
        raise ValueError("SOUSCRIPTION_YOUSIGN_WEBHOOK_SECRET manquant : aucun webhook ne peut être vérifié")
    sent = _header(headers, SIGNATURE_HEADER)
    if not sent:
        raise WebhookRejected("signature_missing", f"en-tête {SIGNATURE_HEADER} absent")
    if not hmac.compare_digest(webhook_signature(body, secret).encode(), sent.strip().lower().encode()):
        raise WebhookRejected("signature_invalid", "signature du webhook Yousign invalide")
    payload = _payload(body)
    occurred_at = _event_time(payload)
    if now - occurred_at > max_age or occurred_at - now > future_skew:
        raise WebhookRejected("replay_window", f"événement du {occurred_at.isoformat()} hors de la fenêtre acceptée")
    return _event(payload, occurred_at)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise WebhookRejected("malformed", "corps du webhook illisible (JSON attendu)") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("malformed", "corps du webhook inattendu (objet JSON attendu)")
    data = payload.get("data")
    request = data.get("signature_request") if isinstance(data, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("id"), str) or not request["id"]:
        raise WebhookRejected("malformed", "webhook sans data.signature_request.id")
    for name in ("event_id", "event_name"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            raise WebhookRejected("malformed", f"webhook sans {name}")
    return payload


def _event_time(payload: dict[str, Any]) -> datetime:
    raw = payload.get("event_time")
    # Documented as Unix seconds, sent as a string ("1670855889"); an integer is read the same.
    if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not str(raw).isdigit():
        raise WebhookRejected("malformed", "event_time absent ou illisible (secondes Unix attendues)")
    return datetime.fromtimestamp(int(raw), tz=UTC)


def _event(payload: dict[str, Any], occurred_at: datetime) -> SignatureEvent:
    name = payload["event_name"]
    if name not in EVENTS:
        raise WebhookRejected("unknown_event", f"événement Yousign non pris en charge : {name}")
    kind, status = EVENTS[name]
    request = payload["data"]["signature_request"]
    signer = payload["data"].get("signer")
    return SignatureEvent(
        event_id=payload["event_id"],
        event_name=name,
        kind=kind,
        status=status,
        occurred_at=occurred_at,
        request_id=request["id"],
        external_id=str(request.get("external_id") or ""),
        signer_id=str(signer.get("id") or "") if isinstance(signer, dict) else "",
    )
