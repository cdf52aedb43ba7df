"""The production bus on RabbitMQ (AMQP 0-9-1, `pika`'s blocking connection).

Topology, declared idempotently on every (re)connection, every name under the settings' `prefix`:
- `<prefix>events`: the durable topic exchange every event is published to, routing key `<context>.<event>.v<n>`;
- `<prefix><consumer>`: one quorum queue per consumer (replicated, durable), bound with the consumer's keys,
  dead-lettering to `<prefix>dead-letter` (a direct exchange) under the consumer's name once a message was
  returned more than `delivery_limit` times (quorum queues count deliveries: `x-delivery-limit`);
- `<prefix><consumer>.dead-letter`: the consumer's dead-letter queue (quorum), listed and replayed from here.

Publishing waits for the broker's confirmation (publisher confirms) of a persistent message carrying its
`message_id`; a connection lost on the way is re-opened and the message sent again, under the same id, until
`reconnect_seconds` have passed, then `PublishNotConfirmed`. Consuming acknowledges by hand, after the consumer's
transaction committed: a consumer that raises has the message returned (and, past the limit, dead-lettered); a
body that is not a message of ours is dead-lettered at once. Consumers de-duplicate by message id, so what the
broker redelivers after a lost acknowledgement or a restart is applied once.

A bus object is used from one thread (pika's connections are not thread-safe), except `publish`, which holds a
lock so a consumer's handler on the same object may publish."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import pika  # type: ignore[import-untyped]
import pika.exceptions  # type: ignore[import-untyped]
import structlog

from souscription.integrations.bus.consumed import apply_once
from souscription.integrations.bus.envelope import Envelope, MalformedMessage, decode, encode
from souscription.integrations.bus.port import ConsumedMessages, Handler, PublishNotConfirmed, Subscription
from souscription.integrations.resilience import RetryPolicy

log = structlog.get_logger(__name__)

T = TypeVar("T")

_TRANSIENT = (pika.exceptions.AMQPError, OSError)
# The broker refusing what we declare or who we are: reconnecting changes nothing, a person must look.
_REFUSED_CODES = frozenset({403, 406})


class BrokerRefused(Exception):
    """The broker refused the credentials or the topology (a queue declared with other arguments): not transient."""

    code = "broker_refused"


class BrokerUnavailable(Exception):
    """RabbitMQ did not answer within the reconnection window while declaring a consumer's queues."""

    code = "broker_unavailable"


@dataclass(frozen=True)
class RabbitMqSettings:
    url: str
    prefix: str = "souscription."
    delivery_limit: int = 5
    prefetch: int = 20
    reconnect_seconds: float = 30.0
    """How long a publication keeps reconnecting and re-sending before `PublishNotConfirmed`."""
    backoff: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_seconds=0.1, cap_seconds=2.0))
    heartbeat_seconds: int = 30
    blocked_seconds: float = 10.0
    """A connection the broker blocks (memory or disk alarm) longer than this is dropped and re-opened."""

    @property
    def exchange(self) -> str:
        return f"{self.prefix}events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}dead-letter"

    def queue(self, consumer: str) -> str:
        return f"{self.prefix}{consumer}"

    def dead_letter_queue(self, consumer: str) -> str:
        return f"{self.prefix}{consumer}.dead-letter"


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    routing_key: str
    reason: str
    """RabbitMQ's: `delivery_limit` (the consumer kept failing) or `rejected` (not a message of ours)."""
    body: bytes


class RabbitMqBus:
    def __init__(
        self,
        settings: RabbitMqSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._clock, self._sleep, self._draw = clock, sleep, draw
        self._subscriptions: dict[str, Subscription] = {}
        self._publish_lock = threading.Lock()
        self._publisher: Any = None
        self._publishing: Any = None
        self._consumer: Any = None
        self._consuming: Any = None
        self.applied = self.duplicates = self.returned = self.rejected = self.reconnections = 0

    # -- connections -------------------------------------------------------------------------------------------

    def _connect(self, role: str) -> Any:
        parameters = pika.URLParameters(self.settings.url)
        parameters.heartbeat = self.settings.heartbeat_seconds
        parameters.blocked_connection_timeout = self.settings.blocked_seconds
        parameters.connection_attempts = 1
        parameters.socket_timeout = 5
        parameters.client_properties = {"connection_name": f"{self.settings.prefix}{role}"}
        try:
            return pika.BlockingConnection(parameters)
        except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.ProbableAccessDeniedError) as error:
            raise BrokerRefused(f"RabbitMQ refuse la connexion (identifiants ou vhost) : {error!r}") from None

    def _declare_exchanges(self, channel: Any) -> None:
        channel.exchange_declare(self.settings.exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(self.settings.dead_letter_exchange, exchange_type="direct", durable=True)

    def _declare_queue(self, channel: Any, subscription: Subscription) -> None:
        consumer, settings = subscription.consumer, self.settings
        dead_letters = settings.dead_letter_queue(consumer)
        channel.queue_declare(dead_letters, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(dead_letters, settings.dead_letter_exchange, routing_key=consumer)
        arguments = {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-dead-letter-routing-key": consumer,
            "x-delivery-limit": settings.delivery_limit,
        }
        channel.queue_declare(settings.queue(consumer), durable=True, arguments=arguments)
        for key in subscription.binding_keys:
            channel.queue_bind(settings.queue(consumer), settings.exchange, routing_key=key)

    def _publishing_channel(self) -> Any:
        if self._publishing is None or not self._publishing.is_open:
            self._drop("publisher")
            self._publisher = self._connect("publisher")
            channel = self._publisher.channel()
            channel.confirm_delivery()
            self._declare_exchanges(channel)
            self._publishing = channel
        return self._publishing

    def _consuming_channel(self) -> Any:
        if self._consuming is None or not self._consuming.is_open:
            self._drop("consumer")
            self._consumer = self._connect("consumer")
            channel = self._consumer.channel()
            channel.basic_qos(prefetch_count=self.settings.prefetch)
            self._declare_exchanges(channel)
            for subscription in self._subscriptions.values():
                self._start_consuming(channel, subscription)
            self._consuming = channel
        return self._consuming

    def _start_consuming(self, channel: Any, subscription: Subscription) -> None:
        self._declare_queue(channel, subscription)
        callback = partial(self._on_message, subscription)
        channel.basic_consume(self.settings.queue(subscription.consumer), on_message_callback=callback)

    def _drop(self, role: str) -> None:
        """Forget a connection that failed (closing it if it still can be), so the next use opens a new one."""
        connection = self._publisher if role == "publisher" else self._consumer
        if connection is not None:
            with contextlib.suppress(*_TRANSIENT):
                if connection.is_open:
                    connection.close()
        if role == "publisher":
            self._publisher = self._publishing = None
        else:
            self._consumer = self._consuming = None

    def close(self) -> None:
        with self._publish_lock:
            self._drop("publisher")
        self._drop("consumer")

    def __enter__(self) -> RabbitMqBus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- publishing --------------------------------------------------------------------------------------------

    def publish(self, envelope: Envelope) -> None:
        body, properties = encode(envelope), _properties(envelope)
        with self._publish_lock:
            self._retrying(
                lambda: self._publish_once(envelope.routing_key, body, properties),
                partial(PublishNotConfirmed, envelope.message_id),
            )

    def _publish_once(self, routing_key: str, body: bytes, properties: Any) -> None:
        # With confirms on, pika returns only on the broker's ack and raises on its nack or a lost connection.
        self._publishing_channel().basic_publish(self.settings.exchange, routing_key, body, properties)

    def _retrying(self, attempt: Callable[[], T], failure: Callable[[str], Exception]) -> T:
        """`attempt()` on the publishing connection, re-opened after each transient failure until the window
        closes; then, or at once when the broker refuses, `failure(reason)` is raised."""
        deadline = self._clock() + self.settings.reconnect_seconds
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except _TRANSIENT as error:
                self._drop("publisher")
                if _refused(error):
                    raise failure(f"refusé par RabbitMQ : {error!r}") from None
                delay = self.settings.backoff.delay(tries, self._draw())
                if self._clock() + delay > deadline:
                    raise failure(f"RabbitMQ injoignable : {error!r}") from None
                self.reconnections += 1
                log.warning("bus.reconnecting", role="publisher", attempt=tries, error=repr(error))
                self._sleep(delay)
            except BrokerRefused as error:
                raise failure(str(error)) from None

    # -- consuming ---------------------------------------------------------------------------------------------

    def subscribe(
        self, consumer: str, binding_keys: Sequence[str], handler: Handler, *, consumed: ConsumedMessages
    ) -> None:
        """Declare the consumer's queues and bindings now (so messages are kept from now on), then deliver to it
        whenever `consume` runs."""
        subscription = Subscription(consumer, tuple(binding_keys), handler, consumed)
        if consumer in self._subscriptions:
            raise ValueError(f"Un consommateur « {consumer} » est déjà abonné.")
        with self._publish_lock:
            self._retrying(lambda: self._declare_queue(self._publishing_channel(), subscription), BrokerUnavailable)
        self._subscriptions[consumer] = subscription
        if self._consuming is not None and self._consuming.is_open:
            self._start_consuming(self._consuming, subscription)

    def consume(self, *, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Deliver messages to the subscribed consumers for up to `seconds` (or until `until()` is true),
        re-opening the connection whenever it is lost. Call it in a loop in the worker."""
        end = self._clock() + seconds
        failures = 0
        while not (until is not None and until()) and (remaining := end - self._clock()) > 0:
            try:
                self._consuming_channel().connection.process_data_events(time_limit=min(0.1, remaining))
                failures = 0
            except _TRANSIENT as error:
                if _refused(error):
                    raise BrokerRefused(f"RabbitMQ refuse la topologie : {error!r}") from None
                self._drop("consumer")
                failures += 1
                self.reconnections += 1
                log.warning("bus.reconnecting", role="consumer", attempt=failures, error=repr(error))
                self._sleep(min(self.settings.backoff.delay(failures, self._draw()), max(0.0, end - self._clock())))

    def run(self, stop: threading.Event) -> None:
        """The worker's loop: consume until `stop` is set."""
        while not stop.is_set():
            self.consume(seconds=1.0, until=stop.is_set)

    def _on_message(self, subscription: Subscription, channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        try:
            envelope = decode(body)
            applied = apply_once(subscription.consumer, subscription.handler, subscription.consumed, envelope)
        except MalformedMessage as error:
            self.rejected += 1
            log.error("bus.message_rejected", consumer=subscription.consumer, field=error.field, reason=str(error))
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        except Exception as error:
            self.returned += 1
            log.warning("bus.delivery_failed", consumer=subscription.consumer, error=repr(error))
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        if applied:
            self.applied += 1
        else:
            self.duplicates += 1
        channel.basic_ack(method.delivery_tag)

    # -- dead letters and housekeeping -------------------------------------------------------------------------

    def dead_letters(self, consumer: str, *, limit: int = 100) -> list[DeadLetter]:
        """The consumer's dead letters, left in their queue (read without acknowledgement)."""
        connection = self._connect("inspector")
        try:
            channel = connection.channel()
            letters = []
            for _ in range(limit):
                method, properties, body = channel.basic_get(self.settings.dead_letter_queue(consumer))
                if method is None:
                    break
                letters.append(_dead_letter(properties, body))
            return letters
        finally:
            connection.close()

    def replay_dead_letters(self, consumer: str) -> int:
        """Send the consumer's dead letters back to its queue (once its defect is fixed), each confirmed before it
        leaves the dead-letter queue; returns how many. Only this consumer receives them again."""
        connection = self._connect("replayer")
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            source = self.settings.dead_letter_queue(consumer)
            waiting = int(channel.queue_declare(source, passive=True).method.message_count)
            replayed_count = 0
            for _ in range(waiting):
                method, properties, body = channel.basic_get(source)
                if method is None:
                    break
                replayed = pika.BasicProperties(
                    content_type=properties.content_type,
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=properties.message_id,
                    type=properties.type,
                    app_id=properties.app_id,
                    timestamp=properties.timestamp,
                )
                channel.basic_publish("", self.settings.queue(consumer), body, replayed)
                channel.basic_ack(method.delivery_tag)
                replayed_count += 1
            return replayed_count
        finally:
            connection.close()

    @property
    def consumers(self) -> tuple[str, ...]:
        return tuple(self._subscriptions)

    def delete_declared(self, consumers: Iterable[str] | None = None) -> None:
        """Delete the exchanges and the queues of `consumers` (by default this bus's): for tests, and to
        decommission a prefix. Deleting what does not exist is no error."""
        self._drop("consumer")
        connection = self._connect("janitor")
        try:
            channel = connection.channel()
            for consumer in self.consumers if consumers is None else consumers:
                channel.queue_delete(self.settings.queue(consumer))
                channel.queue_delete(self.settings.dead_letter_queue(consumer))
            channel.exchange_delete(self.settings.exchange)
            channel.exchange_delete(self.settings.dead_letter_exchange)
        finally:
            connection.close()


def _properties(envelope: Envelope) -> Any:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=envelope.message_id,
        type=envelope.event_type,
        app_id=envelope.producer,
        timestamp=int(envelope.occurred_at.timestamp()),
        headers={"version": envelope.version},
    )


def _refused(error: BaseException) -> bool:
    return isinstance(error, pika.exceptions.ChannelClosedByBroker) and error.reply_code in _REFUSED_CODES


def _dead_letter(properties: Any, body: bytes) -> DeadLetter:
    deaths = (properties.headers or {}).get("x-death") or [{}]
    first = deaths[0]
    keys = first.get("routing-keys") or [""]
    return DeadLetter(properties.message_id or "", str(keys[0]), str(first.get("reason", "")), body)
