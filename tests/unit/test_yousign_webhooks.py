"""Yousign webhooks are trusted only when `X-Yousign-Signature-256` is `sha256=` and the hex HMAC-SHA256 of the raw
body with the subscription's secret, and the event is recent enough. The signatures here are computed with
`hmac` directly, independently of the code under test."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from souscription.integrations.errors import WebhookRejected
from souscription.integrations.signature.port import SignatureEventKind, SignatureStatus
from souscription.integrations.signature.yousign_states import verify_webhook

SECRET = "whsec-yousign-test"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "b6c63685-c556-4a30-8fe9-b6f2b187d936",
        "event_name": "signature_request.done",
        "event_time": str(int(NOW.timestamp()) - 30),
        "subscription_id": "sub-1",
        "subscription_description": "Souscription",
        "sandbox": False,
        "data": {"signature_request": {"id": "sr-1", "status": "done", "external_id": "sign:dossier-1"}},
    }
    body.update(changes)
    return body


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Yousign-Signature-256": f"sha256={digest}"}


def encoded(**changes: Any) -> bytes:
    return json.dumps(payload(**changes)).encode()


def test_a_genuine_webhook_gives_its_event() -> None:
    body = encoded()
    event = verify_webhook(signed(body), body, SECRET, NOW)
    assert event.event_id == "b6c63685-c556-4a30-8fe9-b6f2b187d936"
    assert event.kind is SignatureEventKind.DONE
    assert event.status is SignatureStatus.DONE
    assert event.request_id == "sr-1"
    assert event.external_id == "sign:dossier-1"
    assert event.occurred_at == NOW - timedelta(seconds=30)


def test_the_header_name_is_matched_whatever_its_case() -> None:
    body = encoded()
    headers = {name.lower(): value for name, value in signed(body).items()}
    assert verify_webhook(headers, body, SECRET, NOW).request_id == "sr-1"


def test_a_signer_event_names_its_signer_and_changes_no_status() -> None:
    body = encoded(event_name="signer.done", data={"signature_request": {"id": "sr-1"}, "signer": {"id": "si-9"}})
    event = verify_webhook(signed(body), body, SECRET, NOW)
    assert event.kind is SignatureEventKind.SIGNER_SIGNED
    assert event.status is None
    assert event.signer_id == "si-9"


def test_a_tampered_body_is_refused() -> None:
    body = encoded()
    headers = signed(body)
    tampered = body.replace(b'"done"', b'"canceled"', 1)
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(headers, tampered, SECRET, NOW)
    assert refused.value.code == "signature_invalid"


def test_a_body_signed_with_another_secret_is_refused() -> None:
    body = encoded()
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(body, "someone-else"), body, SECRET, NOW)
    assert refused.value.code == "signature_invalid"


def test_a_bare_hex_digest_without_the_sha256_prefix_is_refused() -> None:
    body = encoded()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook({"X-Yousign-Signature-256": digest}, body, SECRET, NOW)
    assert refused.value.code == "signature_invalid"


def test_a_webhook_without_the_signature_header_is_refused() -> None:
    body = encoded()
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook({"Content-Type": "application/json"}, body, SECRET, NOW)
    assert refused.value.code == "signature_missing"


def test_yousigns_last_retry_four_days_later_is_still_accepted() -> None:
    """Retries keep the first `event_time`: 2 min, 6 min, 30 min, 1 h, 5 h, 18 h, 1 day, 2 days after it."""
    body = encoded(event_time=str(int((NOW - timedelta(days=4, hours=1)).timestamp())))
    assert verify_webhook(signed(body), body, SECRET, NOW).request_id == "sr-1"


@pytest.mark.parametrize("offset", [timedelta(days=-6), timedelta(minutes=10)])
def test_an_event_outside_the_replay_window_is_refused(offset: timedelta) -> None:
    body = encoded(event_time=str(int((NOW + offset).timestamp())))
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(body), body, SECRET, NOW)
    assert refused.value.code == "replay_window"


def test_an_integer_event_time_is_read_as_unix_seconds() -> None:
    body = encoded(event_time=int(NOW.timestamp()))
    assert verify_webhook(signed(body), body, SECRET, NOW).occurred_at == NOW


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps(payload(data={})).encode(),
        json.dumps(payload(data=[1])).encode(),
        json.dumps(payload(event_id="")).encode(),
        json.dumps(payload(event_time="yesterday")).encode(),
        json.dumps(payload(event_time=True)).encode(),
    ],
)
def test_a_genuine_but_malformed_webhook_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(body), body, SECRET, NOW)
    assert refused.value.code == "malformed"


def test_an_event_outside_the_table_is_refused_explicitly() -> None:
    body = encoded(event_name="signature_request.teleported")
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(body), body, SECRET, NOW)
    assert refused.value.code == "unknown_event"


def test_without_a_secret_nothing_can_be_verified_and_it_is_a_configuration_error() -> None:
    body = encoded()
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        verify_webhook(signed(body, ""), body, "", NOW)
