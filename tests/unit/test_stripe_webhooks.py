"""Stripe's webhook signature, checked as Stripe documents it (docs.stripe.com/webhooks#verify-manually):
`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.body" keyed with the whsec secret>`, 300 s of tolerance. The
events are signed here by the fake's own signer, not by the code under test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from souscription.integrations.errors import WebhookRejected
from souscription.integrations.payment.port import MandateStatus, PaymentEventKind, PaymentStatus
from souscription.integrations.payment.stripe_states import UnknownStripeState, verify_webhook
from tests.fakes.stripe import WEBHOOK_SECRET, sign

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def event(event_type: str, snapshot: dict[str, Any]) -> bytes:
    payload = {
        "id": "evt_1",
        "object": "event",
        "created": int(NOW.timestamp()) - 2,
        "type": event_type,
        "data": {"object": snapshot},
    }
    return json.dumps(payload).encode()


FAILED = event(
    "payment_intent.payment_failed",
    {
        "id": "pi_1",
        "object": "payment_intent",
        "status": "requires_payment_method",
        "amount": 4200,
        "currency": "eur",
        "last_payment_error": {"type": "card_error", "code": "insufficient_funds"},
    },
)


def signed(body: bytes, *, at: datetime = NOW, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"Stripe-Signature": sign(body, secret, int(at.timestamp()))}


def test_a_genuine_event_is_read_in_the_ports_words() -> None:
    read = verify_webhook(signed(FAILED), FAILED, WEBHOOK_SECRET, NOW)
    assert (read.event_id, read.kind) == ("evt_1", PaymentEventKind.PAYMENT_FAILED)
    assert (read.payment_id, read.payment_status, read.failure_code) == (
        "pi_1",
        PaymentStatus.FAILED,
        "insufficient_funds",
    )
    assert read.occurred_at == NOW - timedelta(seconds=2)


def test_header_names_are_matched_whatever_their_case() -> None:
    headers = {"stripe-signature": signed(FAILED)["Stripe-Signature"]}
    assert verify_webhook(headers, FAILED, WEBHOOK_SECRET, NOW).event_id == "evt_1"


def test_a_tampered_body_is_refused() -> None:
    tampered = FAILED.replace(b"insufficient_funds", b"none_at_all_here__")
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(FAILED), tampered, WEBHOOK_SECRET, NOW)
    assert refused.value.code == "signature_invalid"


def test_an_event_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(FAILED, secret="whsec_another"), FAILED, WEBHOOK_SECRET, NOW)
    assert refused.value.code == "signature_invalid"


@pytest.mark.parametrize("headers", [{}, {"Stripe-Signature": ""}, {"Stripe-Signature": "t=1762162200"}])
def test_an_event_without_a_v1_signature_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(headers, FAILED, WEBHOOK_SECRET, NOW)
    assert refused.value.code == "signature_missing"


@pytest.mark.parametrize("age", [timedelta(seconds=301), timedelta(hours=3), -timedelta(seconds=301)])
def test_an_event_signed_outside_the_300_second_tolerance_is_refused(age: timedelta) -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(FAILED, at=NOW - age), FAILED, WEBHOOK_SECRET, NOW)
    assert refused.value.code == "replay_window"


def test_an_event_signed_within_the_tolerance_is_accepted() -> None:
    read = verify_webhook(signed(FAILED, at=NOW - timedelta(seconds=299)), FAILED, WEBHOOK_SECRET, NOW)
    assert read.event_id == "evt_1"


def test_during_a_secret_rotation_any_one_matching_v1_is_enough() -> None:
    genuine = signed(FAILED)["Stripe-Signature"]
    old = sign(FAILED, "whsec_old", int(NOW.timestamp())).split(",")[1]
    header = f"{genuine.split(',')[0]},{old},{genuine.split(',')[1]},v0=ignored"
    assert verify_webhook({"Stripe-Signature": header}, FAILED, WEBHOOK_SECRET, NOW).event_id == "evt_1"


def test_an_unreadable_timestamp_is_malformed() -> None:
    header = signed(FAILED)["Stripe-Signature"].replace("t=", "t=x")
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook({"Stripe-Signature": header}, FAILED, WEBHOOK_SECRET, NOW)
    assert refused.value.code == "malformed"


@pytest.mark.parametrize("body", [b"not json", b'{"id": "evt_1", "type": "mandate.updated"}', b"[]"])
def test_a_genuinely_signed_body_that_is_no_stripe_event_is_malformed(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(signed(body), body, WEBHOOK_SECRET, NOW)
    assert refused.value.code == "malformed"


def test_an_event_type_the_platform_does_not_act_on_is_said_so() -> None:
    body = event("customer.updated", {"id": "cus_1", "object": "customer"})
    read = verify_webhook(signed(body), body, WEBHOOK_SECRET, NOW)
    assert (read.kind, read.object_id) == (PaymentEventKind.NOT_HANDLED, "cus_1")


def test_a_genuine_event_carrying_an_unknown_status_is_not_taken_for_a_malformed_one() -> None:
    body = event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent", "status": "teleported"})
    with pytest.raises(UnknownStripeState):
        verify_webhook(signed(body), body, WEBHOOK_SECRET, NOW)


def test_a_revoked_mandate_arrives_as_an_inactive_mandate() -> None:
    body = event("mandate.updated", {"id": "mandate_1", "object": "mandate", "status": "inactive"})
    read = verify_webhook(signed(body), body, WEBHOOK_SECRET, NOW)
    assert (read.kind, read.mandate_id, read.mandate_status) == (
        PaymentEventKind.MANDATE_UPDATED,
        "mandate_1",
        MandateStatus.INACTIVE,
    )


def test_a_refunded_charge_names_its_payment() -> None:
    charge = {"id": "py_1", "object": "charge", "payment_intent": "pi_1", "refunded": True}
    body = event("charge.refunded", charge)
    read = verify_webhook(signed(body), body, WEBHOOK_SECRET, NOW)
    assert (read.kind, read.payment_id, read.payment_status) == (
        PaymentEventKind.PAYMENT_REFUNDED,
        "pi_1",
        PaymentStatus.REFUNDED,
    )


def test_without_a_configured_secret_nothing_can_be_verified() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        verify_webhook(signed(FAILED), FAILED, "", NOW)
