"""Zendesk webhooks: base64(HMAC-SHA256(secret, timestamp + body)), a 5-minute replay window, the trigger's body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from souscription.integrations.errors import WebhookRejected
from souscription.integrations.ticketing.port import TicketStatus
from souscription.integrations.ticketing.zendesk_states import sign, verify_webhook

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
STAMP = "2026-11-03T09:29:40Z"


def body(**overrides: object) -> bytes:
    payload: dict[str, object] = {
        "ticket_id": "1042",
        "external_id": "TCK-7",
        "status": "pending",
        "updated_at": "2026-11-03T09:29:38Z",
    }
    payload.update(overrides)
    return json.dumps(payload).encode()


def signed(payload: bytes, *, secret: str = SECRET, stamp: str = STAMP) -> dict[str, str]:
    """Signed as Zendesk documents it, computed here independently of the code under test."""
    digest = hmac.new(secret.encode(), stamp.encode() + payload, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


def rejected_code(headers: dict[str, str], payload: bytes, *, secret: str = SECRET, now: datetime = NOW) -> str:
    with pytest.raises(WebhookRejected) as rejected:
        verify_webhook(headers, payload, secret, now)
    return rejected.value.code


def test_a_signed_webhook_reads_as_a_status_change() -> None:
    event = verify_webhook(signed(body()), body(), SECRET, NOW)
    assert event.ticket_id == "1042"
    assert event.reference == "TCK-7"
    assert event.status is TicketStatus.OPEN
    assert event.vendor_status == "pending"
    assert event.updated_at == datetime(2026, 11, 3, 9, 29, 38, tzinfo=UTC)


def test_the_signature_is_the_one_zendesk_computes() -> None:
    assert sign(SECRET, STAMP, body()) == signed(body())["X-Zendesk-Webhook-Signature"]


def test_header_names_are_read_without_case() -> None:
    headers = {name.lower(): value for name, value in signed(body()).items()}
    assert verify_webhook(headers, body(), SECRET, NOW).ticket_id == "1042"


def test_a_tampered_body_is_refused() -> None:
    assert rejected_code(signed(body()), body(status="solved")) == "signature_invalid"


def test_a_changed_timestamp_is_refused() -> None:
    headers = {**signed(body()), "X-Zendesk-Webhook-Signature-Timestamp": "2026-11-03T09:29:59Z"}
    assert rejected_code(headers, body()) == "signature_invalid"


def test_another_secret_is_refused() -> None:
    assert rejected_code(signed(body(), secret="another secret"), body()) == "signature_invalid"


def test_without_a_configured_secret_nothing_is_accepted() -> None:
    assert rejected_code(signed(body(), secret=""), body(), secret="") == "signature_invalid"


def test_a_signature_that_is_not_base64_is_refused() -> None:
    headers = {**signed(body()), "X-Zendesk-Webhook-Signature": "not base64 !"}
    assert rejected_code(headers, body()) == "signature_invalid"


@pytest.mark.parametrize("missing", ["X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"])
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = signed(body())
    del headers[missing]
    assert rejected_code(headers, body()) == "signature_missing"


@pytest.mark.parametrize("offset", [timedelta(minutes=5, seconds=1), timedelta(minutes=-5, seconds=-1)])
def test_a_webhook_signed_outside_the_five_minute_window_is_refused(offset: timedelta) -> None:
    stamp = (NOW - offset).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rejected_code(signed(body(), stamp=stamp), body()) == "replay_window"


def test_a_webhook_signed_five_minutes_ago_is_still_accepted() -> None:
    stamp = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert verify_webhook(signed(body(), stamp=stamp), body(), SECRET, NOW).ticket_id == "1042"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        body(ticket_id=""),
        body(ticket_id="abc"),
        body(status="deleted"),
        body(updated_at="yesterday"),
        body(updated_at="2026-11-03T09:29:38"),
    ],
)
def test_a_signed_but_unreadable_body_is_malformed(payload: bytes) -> None:
    assert rejected_code(signed(payload), payload) == "malformed"


def test_an_unreadable_signed_timestamp_is_malformed() -> None:
    assert rejected_code(signed(body(), stamp="tuesday"), body()) == "malformed"


@pytest.mark.parametrize(("rendered", "status"), [("On-hold", TicketStatus.ROUTED), ("Solved", TicketStatus.SOLVED)])
def test_the_status_placeholders_display_name_reads_as_the_api_word(rendered: str, status: TicketStatus) -> None:
    payload = body(status=rendered)
    assert verify_webhook(signed(payload), payload, SECRET, NOW).status is status


def test_a_ticket_without_external_id_has_no_reference() -> None:
    payload = body(external_id="")
    assert verify_webhook(signed(payload), payload, SECRET, NOW).reference is None


def test_the_same_change_delivered_twice_has_the_same_event_id_and_another_change_another() -> None:
    first = verify_webhook(signed(body()), body(), SECRET, NOW)
    again = verify_webhook(signed(body(), stamp="2026-11-03T09:29:55Z"), body(), SECRET, NOW)
    later = verify_webhook(signed(body(status="solved")), body(status="solved"), SECRET, NOW)
    assert first.event_id == again.event_id
    assert later.event_id != first.event_id
