"""HubSpot's webhook signature v3, checked as HubSpot documents it: HMAC-SHA256 of method + URI + body +
timestamp under the app's client secret, base64, within 5 minutes; then its events read, and the deal moves
among them, de-duplicated and in order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from souscription.integrations.crm.hubspot_states import DEFAULT_PIPELINE
from souscription.integrations.crm.hubspot_webhooks import (
    HubSpotEvent,
    deal_moves,
    decoded_uri,
    parse_events,
    verify_webhook,
)
from souscription.integrations.crm.port import CrmStatus
from souscription.integrations.errors import WebhookRejected

SECRET = "app-client-secret"
URI = "https://souscription.assureur.fr/api/v1/webhooks/hubspot"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def event(
    event_id: int, stage: str, *, at: datetime = NOW, deal: int = 51001, name: str = "dealstage"
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 2400001,
        "portalId": 146000001,
        "appId": 3100001,
        "occurredAt": int(at.timestamp() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": deal,
        "propertyName": name,
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    }


def signed(body: bytes, *, at: datetime = NOW, secret: str = SECRET, uri: str = URI) -> dict[str, str]:
    """Signed here independently of the code under test, by the documented recipe."""
    timestamp = str(int(at.timestamp() * 1000))
    digest = hmac.new(secret.encode(), f"POST{uri}".encode() + body + timestamp.encode(), hashlib.sha256).digest()
    return {"X-HubSpot-Signature-v3": base64.b64encode(digest).decode(), "X-HubSpot-Request-Timestamp": timestamp}


BODY = json.dumps([event(1, "closedlost")]).encode()


def verify(
    headers: dict[str, str], body: bytes = BODY, *, secret: str = SECRET, now: datetime = NOW, uri: str = URI
) -> tuple[HubSpotEvent, ...]:
    return verify_webhook(headers, body, secret, now, method="POST", uri=uri)


def test_a_signed_delivery_gives_its_events() -> None:
    (only,) = verify(signed(BODY))
    assert only.event_id == "1"
    assert only.subscription_type == "deal.propertyChange"
    assert only.object_id == "51001"
    assert (only.property_name, only.property_value) == ("dealstage", "closedlost")
    assert only.occurred_at == NOW


def test_header_names_are_matched_without_case() -> None:
    headers = {name.lower(): value for name, value in signed(BODY).items()}
    assert len(verify(headers)) == 1


def test_a_tampered_body_is_refused() -> None:
    tampered = BODY.replace(b"closedlost", b"closedwon")
    with pytest.raises(WebhookRejected) as refused:
        verify(signed(BODY), tampered)
    assert refused.value.code == "signature_invalid"


def test_another_secret_is_refused() -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify(signed(BODY, secret="someone-else"))
    assert refused.value.code == "signature_invalid"


def test_another_uri_is_refused() -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify(signed(BODY), uri="https://souscription.assureur.fr/api/v1/webhooks/other")
    assert refused.value.code == "signature_invalid"


def test_the_uri_is_hashed_with_hubspots_listed_characters_decoded() -> None:
    received = URI + "?portal=146000001&next=%2Fdossiers%3A42"
    headers = signed(BODY, uri=URI + "?portal=146000001&next=/dossiers:42")
    assert len(verify(headers, uri=received)) == 1
    assert decoded_uri("a%3ab%2Fc%20d") == "a:b/c%20d"  # %20 is not in HubSpot's list


@pytest.mark.parametrize("missing", ["X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"])
def test_a_missing_signature_header_is_refused(missing: str) -> None:
    headers = signed(BODY)
    del headers[missing]
    with pytest.raises(WebhookRejected) as refused:
        verify(headers)
    assert refused.value.code == "signature_missing"


def test_a_delivery_older_than_five_minutes_is_refused() -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify(signed(BODY, at=NOW - timedelta(minutes=5, seconds=1)))
    assert refused.value.code == "replay_window"


def test_a_delivery_just_inside_five_minutes_is_accepted() -> None:
    assert len(verify(signed(BODY, at=NOW - timedelta(minutes=4, seconds=59)))) == 1


def test_a_timestamp_far_in_the_future_is_refused() -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify(signed(BODY, at=NOW + timedelta(minutes=6)))
    assert refused.value.code == "replay_window"


def test_an_unreadable_timestamp_is_malformed() -> None:
    headers = {**signed(BODY), "X-HubSpot-Request-Timestamp": "hier"}
    with pytest.raises(WebhookRejected) as refused:
        verify(headers)
    assert refused.value.code == "malformed"


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"eventId": 1}', b'[{"eventId": 1}]', b"[42]", b'[{"eventId": true, "subscriptionType": "x"}]'],
)
def test_a_signed_but_malformed_body_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify(signed(body), body)
    assert refused.value.code == "malformed"


def test_deal_moves_are_read_once_per_event_oldest_first() -> None:
    later = NOW + timedelta(seconds=30)
    body = json.dumps(
        [
            event(2, "closedwon", at=later),
            event(1, "contractsent"),
            event(2, "closedwon", at=later),  # HubSpot retried the delivery
            event(3, "Jean", name="dealname"),
            {**event(4, ""), "subscriptionType": "deal.creation", "propertyName": None, "propertyValue": None},
        ]
    ).encode()
    moves = deal_moves(parse_events(body), DEFAULT_PIPELINE)
    assert [(move.event_id, move.crm_status) for move in moves] == [
        ("1", CrmStatus.OFFER_ACCEPTED),
        ("2", CrmStatus.WON),
    ]


def test_a_move_to_a_stage_the_table_does_not_know_says_so_explicitly() -> None:
    (move,) = deal_moves(parse_events(json.dumps([event(9, "1234567")]).encode()), DEFAULT_PIPELINE)
    assert move.crm_stage == "1234567"
    assert move.crm_status is None
