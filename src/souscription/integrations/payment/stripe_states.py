"""Stripe's words mapped onto the payment port's, and the webhook signature check. Pure: no HTTP, no Django.

Every status Stripe documents is in an explicit table (the enums of its OpenAPI document, checked by the contract
test); a status that is not is refused (`UnknownStripeState`), never guessed. Webhooks are signed as Stripe signs
them (docs.stripe.com/webhooks#verify-manually): `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, each
`v1` the HMAC-SHA256, keyed with the endpoint's `whsec_...` secret, of `<t>.<raw body>`; several `v1` during a
secret's rotation, any one matching is enough; 300 s of tolerance, Stripe's libraries' default.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from souscription.integrations.errors import WebhookRejected
from souscription.integrations.payment.port import (
    Mandate,
    MandateSetup,
    MandateStatus,
    Payment,
    PaymentEvent,
    PaymentEventKind,
    PaymentStatus,
    Refund,
    RefundStatus,
    SetupStatus,
)

PAYMENT_INTENT_STATUSES: dict[str, PaymentStatus] = {
    # After a failed debit Stripe puts the intent back here, with `last_payment_error` saying why. An intent never
    # given a method would also sit here, but this adapter always creates its intents confirmed with one.
    "requires_payment_method": PaymentStatus.FAILED,
    "requires_confirmation": PaymentStatus.SCHEDULED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PROCESSING,
    # Authorised, waiting for a manual capture this adapter never asks for: someone must capture or cancel.
    "requires_capture": PaymentStatus.REQUIRES_ACTION,
    "canceled": PaymentStatus.CANCELED,
    "succeeded": PaymentStatus.SUCCEEDED,
}

SETUP_INTENT_STATUSES: dict[str, SetupStatus] = {
    # Confirmed with the IBAN in the same call, so this means the IBAN was refused (`last_setup_error`).
    "requires_payment_method": SetupStatus.FAILED,
    "requires_confirmation": SetupStatus.PENDING,
    "requires_action": SetupStatus.REQUIRES_ACTION,
    "processing": SetupStatus.PENDING,
    "canceled": SetupStatus.CANCELED,
    "succeeded": SetupStatus.SUCCEEDED,
}

MANDATE_STATUSES: dict[str, MandateStatus] = {
    "pending": MandateStatus.PENDING,
    "active": MandateStatus.ACTIVE,
    "inactive": MandateStatus.INACTIVE,
}

REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.REQUIRES_ACTION,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}

EVENT_KINDS: dict[str, PaymentEventKind] = {
    "payment_intent.created": PaymentEventKind.NOT_HANDLED,
    "payment_intent.processing": PaymentEventKind.PAYMENT_PROCESSING,
    "payment_intent.succeeded": PaymentEventKind.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": PaymentEventKind.PAYMENT_FAILED,
    "payment_intent.canceled": PaymentEventKind.PAYMENT_CANCELED,
    "payment_intent.requires_action": PaymentEventKind.PAYMENT_REQUIRES_ACTION,
    "setup_intent.created": PaymentEventKind.NOT_HANDLED,
    "setup_intent.succeeded": PaymentEventKind.MANDATE_SET_UP,
    "setup_intent.setup_failed": PaymentEventKind.MANDATE_SETUP_FAILED,
    "setup_intent.canceled": PaymentEventKind.MANDATE_SETUP_FAILED,
    "setup_intent.requires_action": PaymentEventKind.MANDATE_SETUP_FAILED,
    "mandate.updated": PaymentEventKind.MANDATE_UPDATED,
    "charge.refunded": PaymentEventKind.PAYMENT_REFUNDED,
    "charge.refund.updated": PaymentEventKind.REFUND_UPDATED,
    "charge.dispute.created": PaymentEventKind.PAYMENT_DISPUTED,
    # The intent's own events say the same, with the intent's id: the charge's are not needed twice.
    "charge.succeeded": PaymentEventKind.NOT_HANDLED,
    "charge.failed": PaymentEventKind.NOT_HANDLED,
    "charge.pending": PaymentEventKind.NOT_HANDLED,
}
"""The event types the webhook endpoint subscribes to; any other type is NOT_HANDLED, said so, not dropped."""

SIGNATURE_HEADER = "Stripe-Signature"
WEBHOOK_TOLERANCE_SECONDS = 300

State = TypeVar("State")


class UnknownStripeState(ValueError):
    """Stripe answered a state no table knows: the mapping must be completed before anything is decided on it."""

    code = "unknown_vendor_state"

    def __init__(self, table: str, value: object) -> None:
        self.table, self.value = table, value
        super().__init__(f"État Stripe inconnu « {value} » ({table}) : table de correspondance à compléter.")


def lookup(table: Mapping[str, State], name: str, value: object) -> State:
    if not isinstance(value, str) or value not in table:
        raise UnknownStripeState(name, value)
    return table[value]


def _id_of(value: Any) -> str:
    """An expandable field is an id, or the object itself when expanded."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _error_code(error: Any) -> str:
    if not isinstance(error, dict):
        return ""
    return str(error.get("decline_code") or error.get("code") or "")


def payment_of(intent: Mapping[str, Any]) -> Payment:
    """A PaymentIntent; with `latest_charge` expanded, a fully refunded one reads REFUNDED."""
    status = lookup(PAYMENT_INTENT_STATUSES, "payment_intent.status", intent.get("status"))
    charge = intent.get("latest_charge")
    refunded = int(charge.get("amount_refunded") or 0) if isinstance(charge, dict) else 0
    if status is PaymentStatus.SUCCEEDED and isinstance(charge, dict) and charge.get("refunded") is True:
        status = PaymentStatus.REFUNDED
    return Payment(
        payment_id=str(intent["id"]),
        status=status,
        vendor_status=str(intent["status"]),
        amount_cents=int(intent["amount"]),
        currency=str(intent["currency"]),
        refunded_cents=refunded,
        failure_code=_error_code(intent.get("last_payment_error")),
    )


def setup_of(intent: Mapping[str, Any]) -> MandateSetup:
    return MandateSetup(
        setup_id=str(intent["id"]),
        status=lookup(SETUP_INTENT_STATUSES, "setup_intent.status", intent.get("status")),
        vendor_status=str(intent["status"]),
        payment_method_id=_id_of(intent.get("payment_method")),
        mandate_id=_id_of(intent.get("mandate")),
        failure_code=_error_code(intent.get("last_setup_error")),
    )


def mandate_of(mandate: Mapping[str, Any]) -> Mandate:
    details = mandate.get("payment_method_details")
    sepa = details.get("sepa_debit") if isinstance(details, dict) else None
    return Mandate(
        mandate_id=str(mandate["id"]),
        status=lookup(MANDATE_STATUSES, "mandate.status", mandate.get("status")),
        vendor_status=str(mandate["status"]),
        payment_method_id=_id_of(mandate.get("payment_method")),
        reference=str(sepa.get("reference") or "") if isinstance(sepa, dict) else "",
    )


def refund_of(refund: Mapping[str, Any]) -> Refund:
    return Refund(
        refund_id=str(refund["id"]),
        payment_id=_id_of(refund.get("payment_intent")),
        status=lookup(REFUND_STATUSES, "refund.status", refund.get("status")),
        vendor_status=str(refund["status"]),
        amount_cents=int(refund["amount"]),
        failure_code=str(refund.get("failure_reason") or ""),
    )


def error_code_of(body: Any) -> str:
    """The code of Stripe's error body `{"error": {"type", "code", "message", "param", "decline_code"}}`: the most
    precise of decline_code, code, type (the message may quote what was sent, so it is never kept)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    return str(error.get("decline_code") or error.get("code") or error.get("type") or "")


# -- webhooks ----------------------------------------------------------------------------------------------------


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: datetime,
    *,
    tolerance_seconds: int = WEBHOOK_TOLERANCE_SECONDS,
) -> PaymentEvent:
    """The event a genuine Stripe webhook carries, or `WebhookRejected`. The signature is checked on the raw body
    before anything in it is read; then the timestamp, signed with it, must be within the tolerance of `now`."""
    if not secret:
        raise ValueError("SOUSCRIPTION_STRIPE_WEBHOOK_SECRET manquant : aucun webhook ne peut être vérifié")
    lowered = {name.lower(): value for name, value in headers.items()}
    header = lowered.get(SIGNATURE_HEADER.lower(), "").strip()
    if not header:
        raise WebhookRejected("signature_missing", "Webhook Stripe sans en-tête Stripe-Signature : refusé.")
    timestamp, signatures = _parse_signature(header)
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    # Every candidate is compared, in constant time, so the time taken says nothing of which one was close.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise WebhookRejected("signature_invalid", "Signature du webhook Stripe invalide : refusé.")
    if abs(now.timestamp() - int(timestamp)) > tolerance_seconds:
        raise WebhookRejected(
            "replay_window", f"Webhook Stripe signé hors de la fenêtre de {tolerance_seconds} s : refusé."
        )
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRejected("malformed", "Corps du webhook Stripe illisible (JSON attendu).") from None
    return event_of(payload)


def _parse_signature(header: str) -> tuple[str, list[str]]:
    timestamp, signatures = "", []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1" and value:
            signatures.append(value)
    if not signatures:
        raise WebhookRejected("signature_missing", "En-tête Stripe-Signature sans signature v1 : refusé.")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise WebhookRejected("malformed", "En-tête Stripe-Signature sans horodatage t lisible : refusé.")
    return timestamp, signatures


def event_of(payload: Any) -> PaymentEvent:
    """A Stripe event (`{"id", "type", "created", "data": {"object": {...}}}`) in the port's words."""
    try:
        event_id, event_type = str(payload["id"]), str(payload["type"])
        occurred_at = datetime.fromtimestamp(int(payload["created"]), tz=UTC)
        snapshot = payload["data"]["object"]
        if not isinstance(snapshot, dict) or not event_id.startswith("evt_"):
            raise TypeError(event_id)
        kind = EVENT_KINDS.get(event_type, PaymentEventKind.NOT_HANDLED)
        base = PaymentEvent(event_id, event_type, kind, occurred_at, object_id=str(snapshot.get("id") or ""))
        return _with_snapshot(base, str(snapshot.get("object") or ""), snapshot)
    except UnknownStripeState:
        raise
    except (KeyError, TypeError, ValueError, OverflowError):
        raise WebhookRejected("malformed", "Événement Stripe incomplet (id, type, created, data.object).") from None


def _with_snapshot(event: PaymentEvent, object_type: str, snapshot: dict[str, Any]) -> PaymentEvent:
    """The statuses of the object the event carries, read with the same tables as the API's answers."""
    fields: dict[str, Any] = {}
    if event.kind is PaymentEventKind.NOT_HANDLED:
        return event
    if object_type == "payment_intent":
        payment = payment_of(snapshot)
        fields = {"payment_id": payment.payment_id, "payment_status": payment.status}
        fields["failure_code"] = payment.failure_code
    elif object_type == "setup_intent":
        setup = setup_of(snapshot)
        fields = {"setup_status": setup.status, "mandate_id": setup.mandate_id, "failure_code": setup.failure_code}
    elif object_type == "mandate":
        mandate = mandate_of(snapshot)
        fields = {"mandate_id": mandate.mandate_id, "mandate_status": mandate.status}
    elif object_type == "charge":
        fields = _charge_fields(snapshot)
    elif object_type == "refund":
        refund = refund_of(snapshot)
        fields = {"payment_id": refund.payment_id, "refund_status": refund.status}
        fields["failure_code"] = refund.failure_code
    elif object_type == "dispute":
        fields = {"payment_id": _id_of(snapshot.get("payment_intent"))}
    else:
        raise UnknownStripeState("event.data.object.object", object_type)
    return replace(event, **fields)


def _charge_fields(charge: dict[str, Any]) -> dict[str, Any]:
    """A charge event names its intent: a fully refunded charge leaves the payment REFUNDED, a partial refund
    leaves it SUCCEEDED."""
    status = PaymentStatus.REFUNDED if charge.get("refunded") is True else PaymentStatus.SUCCEEDED
    return {"payment_id": _id_of(charge.get("payment_intent")), "payment_status": status}
