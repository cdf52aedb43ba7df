"""HubSpot's webhooks, signature v3: verify a delivery, read its events, pure (the caller gives `now`).

HubSpot signs `method + uri + body + timestamp` (UTF-8) with HMAC-SHA256 under the app's client secret and sends
the base64 of it in `X-HubSpot-Signature-v3`, the timestamp (milliseconds) in `X-HubSpot-Request-Timestamp`.
The receiver rejects a timestamp older than 5 minutes and, in the URI, decodes the characters HubSpot lists
(%3A, %2F, %3F, %40, %21, %24, %27, %28, %29, %2A, %2C, %3B) before computing the hash. The URI is the full one
HubSpot called (scheme, host, path and query), which is why the verifier takes it from the caller: behind a proxy
the platform must rebuild it from the public address, not from its own socket.

The body is a JSON array of events (`eventId`, `subscriptionType` such as `deal.propertyChange`, `objectId`,
`propertyName`, `propertyValue`, `occurredAt` in milliseconds...). HubSpot retries a delivery that did not get a
2xx, so the same `eventId` can come twice, and events of a batch or of two batches come in any order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from souscription.integrations.crm.hubspot_states import DealPipeline, UnknownDealStage
from souscription.integrations.crm.port import CrmDealMoved
from souscription.integrations.errors import WebhookRejected

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
REPLAY_WINDOW = timedelta(minutes=5)

_URI_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


@dataclass(frozen=True)
class HubSpotEvent:
    event_id: str
    subscription_type: str
    """`deal.propertyChange`, `deal.creation`, `contact.deletion`..."""
    object_id: str
    occurred_at: datetime
    property_name: str = ""
    property_value: str = ""
    change_source: str = ""
    attempt_number: int = 0


def decoded_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed percent-encodings decoded, either case of hex digits."""
    result, index = [], 0
    while index < len(uri):
        chunk = uri[index : index + 3].upper()
        if uri[index] == "%" and chunk in _URI_DECODED:
            result.append(_URI_DECODED[chunk])
            index += 3
        else:
            result.append(uri[index])
            index += 1
    return "".join(result)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.upper().encode() + decoded_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def verify_webhook(
    headers: Mapping[str, str], body: bytes, secret: str, now: datetime, *, method: str, uri: str
) -> tuple[HubSpotEvent, ...]:
    """The delivery's events once its signature and age are checked; `WebhookRejected` otherwise."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower(), "").strip()
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "").strip()
    if not signature or not timestamp:
        raise WebhookRejected("signature_missing", "Signature HubSpot absente (X-HubSpot-Signature-v3 et horodatage).")
    if not secret:
        raise WebhookRejected("signature_invalid", "Aucun secret configuré pour vérifier les webhooks HubSpot.")
    sent_at = _timestamp(timestamp)
    if abs(now - sent_at) > REPLAY_WINDOW:
        raise WebhookRejected("replay_window", "Webhook HubSpot horodaté hors de la fenêtre de 5 minutes.")
    expected = signature_v3(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookRejected("signature_invalid", "Signature HubSpot invalide.")
    return parse_events(body)


def _timestamp(value: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookRejected("malformed", "Horodatage HubSpot illisible.") from None


def parse_events(body: bytes) -> tuple[HubSpotEvent, ...]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("malformed", "Le corps du webhook HubSpot n'est pas du JSON.") from None
    if not isinstance(payload, list):
        raise WebhookRejected("malformed", "Le webhook HubSpot doit contenir une liste d'événements.")
    return tuple(_event(item) for item in payload)


def _event(item: Any) -> HubSpotEvent:
    if not isinstance(item, dict):
        raise WebhookRejected("malformed", "Événement HubSpot illisible.")
    try:
        return HubSpotEvent(
            event_id=_identifier(item["eventId"]),
            subscription_type=_text(item["subscriptionType"]),
            object_id=_identifier(item["objectId"]),
            occurred_at=datetime.fromtimestamp(int(item["occurredAt"]) / 1000, tz=UTC),
            property_name=_text(item.get("propertyName", "")),
            property_value=_text(item.get("propertyValue", "")),
            change_source=_text(item.get("changeSource", "")),
            attempt_number=int(item.get("attemptNumber", 0)),
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise WebhookRejected("malformed", "Événement HubSpot incomplet (eventId, objectId, occurredAt...).") from None


def _identifier(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value) == "":
        raise ValueError("identifier")
    return str(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("text")
    return str(value)


def deal_moves(events: Iterable[HubSpotEvent], pipeline: DealPipeline) -> tuple[CrmDealMoved, ...]:
    """The deal stage changes among `events`, once per event id, oldest first; other events are not moves."""
    moves: dict[str, CrmDealMoved] = {}
    for event in events:
        if event.subscription_type != "deal.propertyChange" or event.property_name != "dealstage":
            continue
        try:
            status = pipeline.status_of(event.property_value)
        except UnknownDealStage:
            status = None
        moves.setdefault(
            event.event_id,
            CrmDealMoved(
                event_id=event.event_id,
                crm_deal_id=event.object_id,
                crm_stage=event.property_value,
                crm_status=status,
                occurred_at=event.occurred_at,
            ),
        )
    return tuple(sorted(moves.values(), key=lambda move: (move.occurred_at, move.event_id)))
