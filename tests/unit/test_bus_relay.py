"""The outbox relay publishes recorded events in order, marks them once confirmed, and is safe to run again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from souscription.integrations.bus.consumed import InMemoryConsumedMessages
from souscription.integrations.bus.envelope import Envelope, of_recorded
from souscription.integrations.bus.inprocess import InProcessBus
from souscription.integrations.bus.port import PublishNotConfirmed
from souscription.integrations.bus.relay import relay
from souscription.subscriptions.events import DossierCreated, DossierSigned, DossierValidated

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class Crash(Exception):
    pass


@dataclass
class Outbox:
    """A dossier's recorded events, like `DossierEvent` rows with a published mark."""

    rows: list[Envelope] = field(default_factory=list)
    published: set[str] = field(default_factory=set)
    crash_on_marking: str | None = None

    def unpublished(self) -> list[Envelope]:
        return [row for row in self.rows if row.message_id not in self.published]

    def mark_published(self, envelope: Envelope) -> None:
        if envelope.message_id == self.crash_on_marking:
            self.crash_on_marking = None
            raise Crash("the worker died between the confirmation and the mark")
        self.published.add(envelope.message_id)


def outbox(count: int = 3) -> Outbox:
    kinds = [DossierCreated, DossierValidated, DossierSigned]
    rows = []
    for number in range(count):
        cls = kinds[number % 3]
        extra = {"product": "auto", "product_version": "1"} if cls is DossierCreated else {}
        moment = NOW + timedelta(minutes=number)
        event = cls(occurred_at=moment, subscription_id="SOU-1", stage="draft", **extra)
        recorded = {"name": event.name, "version": event.version, "payload": event.payload(), "occurred_at": moment}
        rows.append(of_recorded(source="subscriptions.dossier_event", row_id=number + 1, **recorded))
    return Outbox(rows)


class FlakyBus(InProcessBus):
    """The embedded bus, refusing to confirm the messages named in `unconfirmed`."""

    def __init__(self, unconfirmed: set[str]) -> None:
        super().__init__()
        self.unconfirmed = unconfirmed

    def publish(self, envelope: Envelope) -> None:
        if envelope.message_id in self.unconfirmed:
            raise PublishNotConfirmed(envelope.message_id, "RabbitMQ injoignable")
        super().publish(envelope)


def consumer(bus: InProcessBus) -> list[str]:
    seen: list[str] = []
    bus.subscribe(
        "billing", ["subscriptions.#"], lambda e: seen.append(e.event_type), consumed=InMemoryConsumedMessages()
    )
    return seen


def test_the_relay_publishes_every_pending_event_in_order_and_marks_it() -> None:
    bus, box = InProcessBus(), outbox()
    seen = consumer(bus)
    run = relay(bus=bus, unpublished=box.unpublished, mark_published=box.mark_published)
    assert run.published == 3
    assert seen == ["subscriptions.dossier_created", "subscriptions.dossier_validated", "subscriptions.dossier_signed"]
    assert box.unpublished() == []


def test_running_the_relay_again_publishes_nothing_more() -> None:
    bus, box = InProcessBus(), outbox()
    seen = consumer(bus)
    relay(bus=bus, unpublished=box.unpublished, mark_published=box.mark_published)
    assert relay(bus=bus, unpublished=box.unpublished, mark_published=box.mark_published).published == 0
    assert len(seen) == 3


def test_a_crash_between_confirmation_and_mark_republishes_under_the_same_id_and_is_applied_once() -> None:
    bus, box = InProcessBus(), outbox()
    seen = consumer(bus)
    box.crash_on_marking = box.rows[1].message_id
    with pytest.raises(Crash):
        relay(bus=bus, unpublished=box.unpublished, mark_published=box.mark_published)
    run = relay(bus=bus, unpublished=box.unpublished, mark_published=box.mark_published)
    assert run.published == 2, "the event confirmed but not marked is published again, then the rest"
    assert seen == ["subscriptions.dossier_created", "subscriptions.dossier_validated", "subscriptions.dossier_signed"]
    assert bus.duplicates == 1
    assert box.unpublished() == []


def test_an_unconfirmed_event_stops_the_run_and_the_later_ones_wait_for_it() -> None:
    box = outbox()
    bus = FlakyBus({box.rows[1].message_id})
    seen = consumer(bus)
    run = relay(bus=bus, unpublished=box.unpublished, mark_published=box.mark_published)
    assert (run.published, run.stopped_at) == (1, box.rows[1].message_id)
    assert "injoignable" in run.reason
    assert [row.message_id for row in box.unpublished()] == [row.message_id for row in box.rows[1:]]
    bus.unconfirmed.clear()
    assert relay(bus=bus, unpublished=box.unpublished, mark_published=box.mark_published).published == 2
    assert seen == ["subscriptions.dossier_created", "subscriptions.dossier_validated", "subscriptions.dossier_signed"]
