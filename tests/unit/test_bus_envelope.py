"""The message on the wire: stable ids, routing keys, JSON that tolerates what it does not know."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from souscription.integrations.bus.envelope import (
    Envelope,
    MalformedMessage,
    decode,
    encode,
    envelope_of,
    of_recorded,
    routing_key,
    topic_matches,
)
from souscription.subscriptions.events import DossierCreated, DossierUnderwritten

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def recorded(row_id: int = 41, **changes: object) -> Envelope:
    event = DossierCreated(
        occurred_at=NOW, subscription_id="SOU-2026-000041", stage="draft", product="auto", product_version="2026.1"
    )
    values: dict[str, object] = {
        "source": "subscriptions.dossier_event",
        "row_id": row_id,
        "name": event.name,
        "version": event.version,
        "payload": event.payload(),
        "occurred_at": NOW,
    }
    return of_recorded(**(values | changes))  # type: ignore[arg-type]


def test_the_routing_key_is_context_event_and_version() -> None:
    assert recorded().routing_key == "subscriptions.dossier_created.v1"
    assert routing_key("billing.invoice_drafted", 2) == "billing.invoice_drafted.v2"
    assert recorded().context == "subscriptions"


def test_a_recorded_event_always_gets_the_same_message_id() -> None:
    assert recorded().message_id == recorded().message_id
    assert recorded().message_id == recorded(occurred_at=NOW.astimezone(timezone(timedelta(hours=1)))).message_id


def test_two_recorded_events_get_different_message_ids() -> None:
    assert recorded(41).message_id != recorded(42).message_id
    # A database rebuilt from scratch reuses row ids; the moment of the event keeps the ids apart.
    assert recorded(41).message_id != recorded(41, occurred_at=NOW + timedelta(days=1)).message_id


def test_the_payload_is_the_event_s_data_and_the_producer_its_context() -> None:
    envelope = recorded()
    assert envelope.producer == "subscriptions"
    assert envelope.payload["subscription_id"] == "SOU-2026-000041"
    assert envelope.payload["product"] == "auto"


def test_an_envelope_survives_its_json_round_trip() -> None:
    event = DossierUnderwritten(
        occurred_at=NOW, subscription_id="SOU-1", stage="offer", premium_cents=12_000, exclusions=("sport",)
    )
    envelope = envelope_of(event, message_id="m-1", producer="subscriptions")
    assert decode(encode(envelope)) == envelope
    assert envelope.payload["exclusions"] == ["sport"]


def test_unknown_fields_are_ignored_at_the_top_and_kept_in_the_payload() -> None:
    document = json.loads(encode(recorded()))
    document["trace"] = {"span": "abc"}
    document["payload"]["colour"] = "blue"
    envelope = decode(json.dumps(document).encode())
    assert envelope.message_id == recorded().message_id
    assert envelope.payload["colour"] == "blue"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b"\xff\xfe", "body"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_malformed(body: bytes, field: str) -> None:
    with pytest.raises(MalformedMessage) as refused:
        decode(body)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message_id", None),
        ("message_id", ""),
        ("type", "no-context"),
        ("version", "1"),
        ("version", True),
        ("version", 0),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-03-02T09:30:00"),
        ("producer", 7),
        ("payload", []),
    ],
)
def test_a_missing_or_ill_typed_required_field_is_malformed(field: str, value: object) -> None:
    document = json.loads(encode(recorded()))
    document[field] = value
    with pytest.raises(MalformedMessage) as refused:
        decode(json.dumps(document).encode())
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("binding", "key", "matches"),
    [
        ("subscriptions.dossier_signed.v1", "subscriptions.dossier_signed.v1", True),
        ("subscriptions.dossier_signed.v1", "subscriptions.dossier_signed.v2", False),
        ("subscriptions.*.v1", "subscriptions.dossier_signed.v1", True),
        ("subscriptions.*.v1", "billing.invoice_drafted.v1", False),
        ("subscriptions.#", "subscriptions.dossier_signed.v1", True),
        ("#", "subscriptions.dossier_signed.v1", True),
        ("#.v1", "subscriptions.dossier_signed.v1", True),
        ("*.v1", "subscriptions.dossier_signed.v1", False),
        ("subscriptions.dossier_signed.v1.#", "subscriptions.dossier_signed.v1", True),
    ],
)
def test_binding_keys_match_like_a_rabbitmq_topic_exchange(binding: str, key: str, matches: bool) -> None:
    assert topic_matches(binding, key) is matches
