"""Zendesk's words mapped to ours, and its webhooks verified. Pure: no HTTP, no clock (the caller gives `now`).

Statuses (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/, "status"): new, open, pending,
hold, solved, closed. Ours are the built-in ticketing's three. Pending (waiting for the customer) is still an open
ticket for us; on-hold (waiting for a third party without an agent account) is what "routed to a department" means;
closed is solved and locked (Zendesk refuses any further update). Priorities are the same four words on both sides;
Zendesk's priority may be unset (null), which we read as normal.

Webhooks (https://developer.zendesk.com/documentation/webhooks/verifying/): `X-Zendesk-Webhook-Signature` is
base64(HMAC-SHA256(signing secret, timestamp + body)), `X-Zendesk-Webhook-Signature-Timestamp` the ISO 8601
timestamp signed with the body. The body is what the trigger's JSON template says (docs/integrations/zendesk.md)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from souscription.integrations.errors import WebhookRejected
from souscription.integrations.ticketing.port import TicketPriority, TicketStatus, TicketStatusChanged

STATUS_FROM_ZENDESK: dict[str, TicketStatus] = {
    "new": TicketStatus.OPEN,
    "open": TicketStatus.OPEN,
    "pending": TicketStatus.OPEN,
    "hold": TicketStatus.ROUTED,
    "solved": TicketStatus.SOLVED,
    "closed": TicketStatus.SOLVED,
}

STATUS_TO_ZENDESK: dict[TicketStatus, str] = {
    TicketStatus.OPEN: "open",
    TicketStatus.ROUTED: "hold",
    TicketStatus.SOLVED: "solved",
}
"""What the platform sets. Never `new` (Zendesk refuses to go back to it) nor `closed` (its automations close a
solved ticket after some days)."""

PRIORITY_FROM_ZENDESK: dict[str | None, TicketPriority] = {
    None: TicketPriority.NORMAL,
    "low": TicketPriority.LOW,
    "normal": TicketPriority.NORMAL,
    "high": TicketPriority.HIGH,
    "urgent": TicketPriority.URGENT,
}

PRIORITY_TO_ZENDESK: dict[TicketPriority, str] = {
    TicketPriority.LOW: "low",
    TicketPriority.NORMAL: "normal",
    TicketPriority.HIGH: "high",
    TicketPriority.URGENT: "urgent",
}

WEBHOOK_STATUS_ALIASES: dict[str, str] = {"on-hold": "hold", "on hold": "hold"}
"""A trigger's `{{ticket.status}}` placeholder renders the status's display name ("Open", "On-hold"), not the API
word: lower-cased, and these names mapped, it reads as the API word."""

REPLAY_WINDOW = timedelta(minutes=5)
SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"


class UnknownZendeskValue(ValueError):
    """Zendesk answered a word this table does not know: the contract changed, a person must look."""

    def __init__(self, field: str, value: object) -> None:
        self.field, self.value = field, value
        super().__init__(f"Zendesk a renvoyé une valeur inconnue pour {field} : « {value} ».")


def status_from_zendesk(value: object) -> TicketStatus:
    if not isinstance(value, str) or value not in STATUS_FROM_ZENDESK:
        raise UnknownZendeskValue("status", value)
    return STATUS_FROM_ZENDESK[value]


def priority_from_zendesk(value: object) -> TicketPriority:
    if not (value is None or isinstance(value, str)) or value not in PRIORITY_FROM_ZENDESK:
        raise UnknownZendeskValue("priority", value)
    return PRIORITY_FROM_ZENDESK[value]


def parse_zendesk_time(value: object) -> datetime:
    """Zendesk's times are ISO 8601 in UTC (`2021-03-25T05:09:27Z`); an aware datetime or ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"date Zendesk illisible : {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        raise ValueError(f"date Zendesk sans fuseau : {value!r}")
    return parsed


def _digest(secret: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends for `body` at `timestamp` (the fake signs with it, too)."""
    return base64.b64encode(_digest(secret, timestamp, body)).decode()


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> TicketStatusChanged:
    """Check the signature (constant-time), the replay window (5 minutes either side of `now`), then read the event.
    Raises `WebhookRejected` with `signature_missing`, `signature_invalid`, `replay_window` or `malformed`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signature, timestamp = lowered.get(SIGNATURE_HEADER, ""), lowered.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise WebhookRejected("signature_missing", "Webhook Zendesk sans signature ou sans horodatage : refusé.")
    _check_signature(signature, timestamp, body, secret)
    try:
        signed_at = parse_zendesk_time(timestamp)
    except ValueError:
        raise WebhookRejected("malformed", "Horodatage du webhook Zendesk illisible.") from None
    if abs(now - signed_at) > REPLAY_WINDOW:
        raise WebhookRejected(
            "replay_window", "Webhook Zendesk signé il y a plus de 5 minutes (ou dans le futur) : refusé."
        )
    return _event(body)


def _check_signature(signature: str, timestamp: str, body: bytes, secret: str) -> None:
    try:
        received = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        received = b""
    # Without a secret nothing can be verified: refused, never accepted unchecked.
    if not secret or not hmac.compare_digest(received, _digest(secret, timestamp, body)):
        raise WebhookRejected("signature_invalid", "Signature du webhook Zendesk invalide : refusé.")


def _event(body: bytes) -> TicketStatusChanged:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise WebhookRejected("malformed", "Le webhook Zendesk n'est pas du JSON.") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("malformed", "Le webhook Zendesk n'est pas un objet JSON.")
    ticket_id = str(payload.get("ticket_id") or "").strip()
    if not ticket_id.isdigit():
        raise WebhookRejected("malformed", "Webhook Zendesk sans numéro de ticket (ticket_id).")
    vendor_status = str(payload.get("status") or "").strip().lower()
    vendor_status = WEBHOOK_STATUS_ALIASES.get(vendor_status, vendor_status)
    try:
        status = status_from_zendesk(vendor_status)
        updated_at = parse_zendesk_time(payload.get("updated_at"))
    except ValueError as error:
        raise WebhookRejected("malformed", f"Webhook Zendesk illisible : {error}") from None
    reference = str(payload.get("external_id") or "").strip() or None
    return TicketStatusChanged(
        event_id=f"zendesk:{ticket_id}:{updated_at.isoformat()}:{vendor_status}",
        ticket_id=ticket_id,
        reference=reference,
        status=status,
        vendor_status=vendor_status,
        updated_at=updated_at,
    )
