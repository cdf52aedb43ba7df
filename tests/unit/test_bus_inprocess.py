"""The embedded bus: synchronous delivery by topic, each message once per consumer, failures dead-lettered."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from souscription.integrations.bus.catalogue import event_of
from souscription.integrations.bus.consumed import InMemoryConsumedMessages
from souscription.integrations.bus.envelope import Envelope, MalformedMessage, decode, encode, envelope_of
from souscription.integrations.bus.factory import event_bus
from souscription.integrations.bus.inprocess import InProcessBus
from souscription.subscriptions.events import DossierSigned, DossierUnderwritten

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def signed(number: int) -> Envelope:
    event = DossierSigned(occurred_at=NOW, subscription_id=f"SOU-{number}", stage="signed")
    return envelope_of(event, message_id=f"signed-{number}", producer="subscriptions")


def underwritten(number: int) -> Envelope:
    event = DossierUnderwritten(occurred_at=NOW, subscription_id=f"SOU-{number}", stage="offer", premium_cents=900)
    return envelope_of(event, message_id=f"underwritten-{number}", producer="subscriptions")


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus(delivery_limit=3)


def test_a_consumer_receives_only_what_its_binding_keys_match(bus: InProcessBus) -> None:
    billing: list[str] = []
    every: list[str] = []
    store = InMemoryConsumedMessages()
    bus.subscribe(
        "billing", ["subscriptions.dossier_signed.v1"], lambda e: billing.append(e.message_id), consumed=store
    )
    bus.subscribe("audit", ["#"], lambda e: every.append(e.message_id), consumed=store)
    bus.publish(signed(1))
    bus.publish(underwritten(1))
    assert billing == ["signed-1"]
    assert every == ["signed-1", "underwritten-1"]


def test_a_message_published_twice_is_applied_once(bus: InProcessBus) -> None:
    applied: list[str] = []
    bus.subscribe(
        "billing", ["subscriptions.#"], lambda e: applied.append(e.message_id), consumed=InMemoryConsumedMessages()
    )
    for _ in range(3):
        bus.publish(signed(1))
    assert applied == ["signed-1"]
    assert (bus.applied, bus.duplicates) == (1, 2)


def test_a_consumer_that_fails_is_delivered_again_and_applies_once(bus: InProcessBus) -> None:
    attempts: list[int] = []

    def flaky(envelope: Envelope) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("base de données indisponible")

    bus.subscribe("billing", ["#"], flaky, consumed=InMemoryConsumedMessages())
    bus.publish(signed(1))
    assert len(attempts) == 3
    assert bus.dead_letters == []


def test_a_poison_message_is_dead_lettered_after_the_delivery_limit_and_can_be_replayed(bus: InProcessBus) -> None:
    broken = True
    applied: list[str] = []

    def handler(envelope: Envelope) -> None:
        if broken:
            raise ValueError("défaut du consommateur")
        applied.append(envelope.message_id)

    bus.subscribe("billing", ["#"], handler, consumed=InMemoryConsumedMessages())
    bus.publish(signed(1))
    [letter] = bus.dead_letters
    assert (letter.consumer, letter.envelope.message_id, letter.deliveries) == ("billing", "signed-1", 3)
    assert "défaut du consommateur" in letter.reason
    broken = False
    assert bus.replay_dead_letters("billing") == 1
    assert applied == ["signed-1"]
    assert bus.dead_letters == []


def test_one_consumer_s_failure_does_not_keep_the_message_from_the_others(bus: InProcessBus) -> None:
    received: list[str] = []

    def fail(envelope: Envelope) -> None:
        raise ValueError("toujours")

    bus.subscribe("broken", ["#"], fail, consumed=InMemoryConsumedMessages())
    bus.subscribe("billing", ["#"], lambda e: received.append(e.message_id), consumed=InMemoryConsumedMessages())
    bus.publish(signed(1))
    assert received == ["signed-1"]
    assert [letter.consumer for letter in bus.dead_letters] == ["broken"]


def test_a_message_published_by_a_consumer_is_delivered_after_the_current_one(bus: InProcessBus) -> None:
    order: list[str] = []

    def billing(envelope: Envelope) -> None:
        order.append(f"billing:{envelope.message_id}")
        if envelope.event_type == "subscriptions.dossier_signed":
            bus.publish(underwritten(1))
            order.append("billing:published")

    bus.subscribe("billing", ["#"], billing, consumed=InMemoryConsumedMessages())
    bus.subscribe("audit", ["#"], lambda e: order.append(f"audit:{e.message_id}"), consumed=InMemoryConsumedMessages())
    bus.publish(signed(1))
    assert order == [
        "billing:signed-1",
        "billing:published",
        "audit:signed-1",
        "billing:underwritten-1",
        "audit:underwritten-1",
    ]


def test_a_consumer_tolerates_fields_it_does_not_know(bus: InProcessBus) -> None:
    """A producer one release ahead adds fields, at the top and in the payload: the consumer reads what it knows."""
    received: list[object] = []
    bus.subscribe("billing", ["#"], lambda e: received.append(event_of(e)), consumed=InMemoryConsumedMessages())
    document = json.loads(encode(underwritten(1)))
    document["trace_id"] = "4bf92f3577b34da6"
    document["payload"] |= {"discount_cents": 100, "channel": {"partner": "courtier-7"}}
    bus.publish(decode(json.dumps(document).encode()))
    assert received == [
        DossierUnderwritten(occurred_at=NOW, subscription_id="SOU-1", stage="offer", premium_cents=900, exclusions=())
    ]


def test_a_message_missing_a_required_field_is_refused_by_the_consumer_and_dead_lettered(bus: InProcessBus) -> None:
    bus.subscribe("billing", ["#"], event_of, consumed=InMemoryConsumedMessages())
    envelope = underwritten(1)
    bus.publish(Envelope(envelope.message_id, envelope.event_type, 1, NOW, "subscriptions", {"stage": "offer"}))
    [letter] = bus.dead_letters
    assert "MalformedMessage" in letter.reason
    assert letter.deliveries == 1, "a malformed message is not delivered again"


def test_reading_an_event_checks_the_types_it_knows() -> None:
    envelope = underwritten(1)
    wrong = Envelope(envelope.message_id, envelope.event_type, 1, NOW, "x", {**envelope.payload, "premium_cents": "9"})
    with pytest.raises(MalformedMessage) as refused:
        event_of(wrong)
    assert refused.value.field == "premium_cents"
    unknown = Envelope("m", "subscriptions.dossier_signed", 9, NOW, "x", dict(envelope.payload))
    with pytest.raises(MalformedMessage, match="v9"):
        event_of(unknown)


def test_a_consumer_name_is_unique_and_needs_a_binding_key(bus: InProcessBus) -> None:
    bus.subscribe("billing", ["#"], print, consumed=InMemoryConsumedMessages())
    with pytest.raises(ValueError, match="déjà abonné"):
        bus.subscribe("billing", ["#"], print, consumed=InMemoryConsumedMessages())
    with pytest.raises(ValueError, match="au moins une clé"):
        bus.subscribe("other", [], print, consumed=InMemoryConsumedMessages())
    with pytest.raises(ValueError, match="invalide"):
        bus.subscribe("Billing Dept", ["#"], print, consumed=InMemoryConsumedMessages())


def test_the_embedded_bus_is_the_default_and_amqp_urls_choose_rabbitmq() -> None:
    from souscription.integrations.bus.rabbitmq import RabbitMqBus

    assert isinstance(event_bus(""), InProcessBus)
    assert isinstance(event_bus("amqp://guest:guest@127.0.0.1:5672/"), RabbitMqBus)
    with pytest.raises(ValueError, match="kafka"):
        event_bus("kafka://127.0.0.1:9092")
