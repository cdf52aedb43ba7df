"""The production bus against the real RabbitMQ named by `SOUSCRIPTION_TEST_RABBITMQ_URL`.

Without it, or when the broker does not answer, these tests skip saying why; `SOUSCRIPTION_REQUIRE_RABBITMQ=1`
turns that into a failure. Each test declares its exchanges and queues under a prefix of its own and deletes
them. The restart test stops and starts the broker's application with `rabbitmqctl` (root, broker on this
machine); where that is not possible it skips, saying why."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pika
import pytest

from souscription.integrations.bus.catalogue import event_of
from souscription.integrations.bus.consumed import InMemoryConsumedMessages
from souscription.integrations.bus.envelope import Envelope, encode, of_recorded
from souscription.integrations.bus.port import PublishNotConfirmed
from souscription.integrations.bus.rabbitmq import RabbitMqBus, RabbitMqSettings
from souscription.integrations.resilience import RetryPolicy
from souscription.subscriptions.events import DossierSigned, DossierUnderwritten

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FAST = RetryPolicy(base_seconds=0.05, cap_seconds=0.5)


def _unavailable(reason: str) -> None:
    if os.environ.get("SOUSCRIPTION_REQUIRE_RABBITMQ") == "1":
        pytest.fail(f"SOUSCRIPTION_REQUIRE_RABBITMQ=1 mais {reason}")
    pytest.skip(f"{reason} : les tests du bus sur RabbitMQ sont ignorés (SOUSCRIPTION_REQUIRE_RABBITMQ=1 pour échouer)")


@pytest.fixture(scope="module")
def rabbitmq_url() -> str:
    url = os.environ.get("SOUSCRIPTION_TEST_RABBITMQ_URL", "")
    if not url:
        _unavailable("SOUSCRIPTION_TEST_RABBITMQ_URL n'est pas défini (ex. amqp://guest:guest@127.0.0.1:5672/)")
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = parameters.connection_attempts = 2
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.AMQPError as error:
        _unavailable(f"RabbitMQ ne répond pas à {urlsplit(url).hostname}:{urlsplit(url).port} ({error!r})")
    return url


@pytest.fixture
def make_bus(rabbitmq_url: str) -> Iterator[Callable[..., RabbitMqBus]]:
    """Buses sharing one prefix unique to the test; everything they declared is deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    made: list[RabbitMqBus] = []

    def make(url: str = rabbitmq_url, **settings: Any) -> RabbitMqBus:
        options = {"delivery_limit": 3, "reconnect_seconds": 5.0, "backoff": FAST} | settings
        bus = RabbitMqBus(RabbitMqSettings(url=url, prefix=prefix, **options))
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close()
    janitor = RabbitMqBus(RabbitMqSettings(url=rabbitmq_url, prefix=prefix))
    janitor.delete_declared([consumer for bus in made for consumer in bus.consumers])


def signed(number: int) -> Envelope:
    event = DossierSigned(occurred_at=NOW + timedelta(seconds=number), subscription_id=f"SOU-{number}", stage="signed")
    return of_recorded(
        source="subscriptions.dossier_event",
        row_id=number,
        name=event.name,
        version=event.version,
        payload=event.payload(),
        occurred_at=event.occurred_at,
    )


class Recorder:
    """A consumer that keeps the message ids it applied, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, envelope: Envelope) -> None:
        self.ids.append(envelope.message_id)


def raw_channel(url: str) -> Any:
    return pika.BlockingConnection(pika.URLParameters(url)).channel()


def test_a_confirmed_message_is_persistent_carries_its_id_and_reaches_the_consumer(
    make_bus: Callable[..., RabbitMqBus], rabbitmq_url: str
) -> None:
    bus, inspector = make_bus(), make_bus()
    received = Recorder()
    bus.subscribe("billing", ["subscriptions.dossier_signed.v1"], received, consumed=InMemoryConsumedMessages())
    inspector.subscribe("inspector", ["subscriptions.#"], print, consumed=InMemoryConsumedMessages())
    messages = [signed(number) for number in range(1, 6)]
    for envelope in messages:
        bus.publish(envelope)
    bus.consume(seconds=5, until=lambda: len(received.ids) == 5)
    assert received.ids == [envelope.message_id for envelope in messages]

    channel = raw_channel(rabbitmq_url)
    method, properties, body = channel.basic_get(inspector.settings.queue("inspector"), auto_ack=True)
    channel.connection.close()
    assert method.routing_key == "subscriptions.dossier_signed.v1"
    assert properties.delivery_mode == 2, "persistent"
    assert properties.message_id == messages[0].message_id
    assert (properties.content_type, properties.type) == ("application/json", "subscriptions.dossier_signed")
    assert json.loads(body)["payload"]["subscription_id"] == "SOU-1"


def test_a_message_published_again_under_the_same_id_is_applied_once(make_bus: Callable[..., RabbitMqBus]) -> None:
    bus = make_bus()
    received = Recorder()
    bus.subscribe("billing", ["#"], received, consumed=InMemoryConsumedMessages())
    for _ in range(3):
        bus.publish(signed(1))
    bus.publish(signed(2))
    bus.consume(seconds=5, until=lambda: bus.applied + bus.duplicates == 4)
    assert received.ids == [signed(1).message_id, signed(2).message_id]
    assert bus.duplicates == 2


class CuttableProxy:
    """A TCP relay to the broker that the test can cut, as a network failure would, between the consumer's
    commit and its acknowledgement."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for end in self.sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self.sockets.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_a_message_redelivered_after_a_lost_acknowledgement_is_applied_once(
    make_bus: Callable[..., RabbitMqBus], rabbitmq_url: str
) -> None:
    address = urlsplit(rabbitmq_url)
    proxy = CuttableProxy(address.hostname or "127.0.0.1", address.port or 5672)
    try:
        credentials = f"{address.username}:{address.password}@" if address.username else ""
        consumer_bus = make_bus(f"amqp://{credentials}127.0.0.1:{proxy.port}{address.path or '/'}")
        applied: list[str] = []

        def apply_then_lose_the_ack(envelope: Envelope) -> None:
            applied.append(envelope.message_id)
            if len(applied) == 1:
                proxy.cut()  # the consumer's transaction commits; its acknowledgement never reaches the broker

        consumer_bus.subscribe("billing", ["#"], apply_then_lose_the_ack, consumed=InMemoryConsumedMessages())
        make_bus().publish(signed(1))
        consumer_bus.consume(seconds=8, until=lambda: consumer_bus.duplicates == 1)
    finally:
        proxy.close()
    assert applied == [signed(1).message_id]
    assert consumer_bus.reconnections >= 1
    assert (consumer_bus.applied, consumer_bus.duplicates) == (1, 1), "the broker redelivered; the consumer skipped it"


def test_a_poison_message_reaches_the_dead_letter_queue_after_the_delivery_limit_and_can_be_replayed(
    make_bus: Callable[..., RabbitMqBus],
) -> None:
    bus = make_bus(delivery_limit=2)
    deliveries: list[str] = []
    fixed = False

    def handler(envelope: Envelope) -> None:
        deliveries.append(envelope.message_id)
        if not fixed:
            raise ValueError("défaut du consommateur")

    bus.subscribe("billing", ["#"], handler, consumed=InMemoryConsumedMessages())
    bus.publish(signed(1))
    bus.consume(seconds=5, until=lambda: bus.returned == 3)
    bus.consume(seconds=0.3)
    [letter] = bus.dead_letters("billing")
    assert (letter.message_id, letter.reason, letter.routing_key) == (
        signed(1).message_id,
        "delivery_limit",
        "subscriptions.dossier_signed.v1",
    )
    assert len(deliveries) == 3, "delivered once, then returned up to the limit of 2, then dead-lettered"

    fixed = True
    assert bus.replay_dead_letters("billing") == 1
    bus.consume(seconds=5, until=lambda: bus.applied == 1)
    assert bus.dead_letters("billing") == []


def test_a_body_that_is_not_a_message_is_dead_lettered_at_once(
    make_bus: Callable[..., RabbitMqBus], rabbitmq_url: str
) -> None:
    bus = make_bus()
    bus.subscribe("billing", ["#"], Recorder(), consumed=InMemoryConsumedMessages())
    channel = raw_channel(rabbitmq_url)
    channel.basic_publish(bus.settings.exchange, "subscriptions.dossier_signed.v1", b"{not json")
    channel.connection.close()
    bus.consume(seconds=5, until=lambda: bus.rejected == 1)
    bus.consume(seconds=0.3)
    [letter] = bus.dead_letters("billing")
    assert (letter.reason, letter.body) == ("rejected", b"{not json")


def test_a_consumer_tolerates_fields_it_does_not_know(make_bus: Callable[..., RabbitMqBus], rabbitmq_url: str) -> None:
    bus = make_bus()
    events: list[object] = []
    bus.subscribe(
        "billing", ["subscriptions.*.v1"], lambda e: events.append(event_of(e)), consumed=InMemoryConsumedMessages()
    )
    event = DossierUnderwritten(occurred_at=NOW, subscription_id="SOU-7", stage="offer", premium_cents=4_200)
    document = json.loads(
        encode(
            of_recorded(
                source="subscriptions.dossier_event",
                row_id=7,
                name=event.name,
                version=1,
                payload=event.payload(),
                occurred_at=NOW,
            )
        )
    )
    document["trace_id"] = "4bf92f3577b34da6"
    document["payload"]["discount_cents"] = 300
    channel = raw_channel(rabbitmq_url)
    channel.basic_publish(bus.settings.exchange, "subscriptions.dossier_underwritten.v1", json.dumps(document).encode())
    channel.connection.close()
    bus.consume(seconds=5, until=lambda: bool(events))
    assert events == [event]


def test_publishing_to_an_unreachable_broker_raises_once_the_reconnection_window_is_over(
    make_bus: Callable[..., RabbitMqBus],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    bus = make_bus(f"amqp://guest:guest@127.0.0.1:{port}/", reconnect_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(PublishNotConfirmed, match="injoignable"):
        bus.publish(signed(1))
    assert time.monotonic() - started < 3


# -- the broker restarted mid-way ------------------------------------------------------------------------------


def _restartable(url: str) -> str:
    """Why the broker cannot be restarted from here, or "" when it can."""
    if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        return "le courtier n'est pas sur cette machine"
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl est absent"
    status = subprocess.run(["rabbitmqctl", "status"], capture_output=True, timeout=30, check=False)
    return "" if status.returncode == 0 else "rabbitmqctl ne peut pas piloter le courtier (droits ?)"


def _rabbitmqctl(*arguments: str) -> None:
    subprocess.run(["rabbitmqctl", *arguments], capture_output=True, timeout=60, check=True)


def test_no_confirmed_event_is_lost_when_the_broker_restarts_mid_way(
    make_bus: Callable[..., RabbitMqBus], rabbitmq_url: str
) -> None:
    if reason := _restartable(rabbitmq_url):
        pytest.skip(f"redémarrage de RabbitMQ impossible ici : {reason}")
    consumer_bus, publisher_bus = make_bus(reconnect_seconds=20.0), make_bus(reconnect_seconds=20.0)
    received = Recorder()
    consumer_bus.subscribe("billing", ["#"], received, consumed=InMemoryConsumedMessages())
    confirmed: list[str] = []
    unconfirmed: list[str] = []
    restarted = threading.Event()

    def publish_all() -> None:
        """Every 20 ms, before, during and after the restart, until 20 more were sent once the broker is back."""
        after_restart = 0
        for number in range(1, 2001):
            if restarted.is_set():
                after_restart += 1
                if after_restart > 20:
                    return
            envelope = signed(number)
            try:
                publisher_bus.publish(envelope)
            except PublishNotConfirmed:
                unconfirmed.append(envelope.message_id)
            else:
                confirmed.append(envelope.message_id)
            time.sleep(0.02)

    def restart_broker() -> None:
        while len(confirmed) < 20:
            time.sleep(0.01)
        _rabbitmqctl("stop_app")
        time.sleep(1.0)
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")
        restarted.set()

    threads = [threading.Thread(target=publish_all), threading.Thread(target=restart_broker)]
    for thread in threads:
        thread.start()
    try:
        consumer_bus.consume(
            seconds=25, until=lambda: not threads[0].is_alive() and set(confirmed) <= set(received.ids)
        )
    finally:
        for thread in threads:
            thread.join(timeout=60)
    assert restarted.is_set()
    assert publisher_bus.reconnections >= 1, "the publisher lost the broker and reconnected"
    assert consumer_bus.reconnections >= 1, "the consumer lost the broker and reconnected"
    lost = set(confirmed) - set(received.ids)
    print(
        f"\nredémarrage : {len(confirmed)} confirmés, {len(unconfirmed)} non confirmés, {len(lost)} perdus, "
        f"{consumer_bus.duplicates} doublons écartés"
    )
    assert lost == set()
    assert len(received.ids) == len(set(received.ids)), "each message applied once"
