"""The embedded bus: messages delivered in the process, synchronously, with RabbitMQ's semantics where they matter.

`publish` returns once every matching consumer has had the message (that is its confirmation). Each message goes
through its JSON form first, so consumers read exactly what they would read from the broker. A consumer that
raises is delivered the message again, up to `delivery_limit` deliveries (a `MalformedMessage` is not retried),
then the message is dead-lettered: kept in `dead_letters` with the reason, logged, and replayable, never silently
dropped; the publisher is not failed by a consumer's bug, as with the broker. A message published by a consumer
while it handles another is delivered after that one, in order, rather than nested inside it."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from souscription.integrations.bus.consumed import apply_once
from souscription.integrations.bus.envelope import Envelope, MalformedMessage, decode, encode
from souscription.integrations.bus.port import ConsumedMessages, Handler, Subscription

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    envelope: Envelope
    reason: str
    deliveries: int


class InProcessBus:
    def __init__(self, *, delivery_limit: int = 3) -> None:
        self.delivery_limit = delivery_limit
        self.subscriptions: list[Subscription] = []
        self.dead_letters: list[DeadLetter] = []
        self.applied = 0
        self.duplicates = 0
        self._lock = threading.RLock()
        self._waiting: deque[Envelope] = deque()
        self._delivering = False

    def subscribe(
        self, consumer: str, binding_keys: Sequence[str], handler: Handler, *, consumed: ConsumedMessages
    ) -> None:
        subscription = Subscription(consumer, tuple(binding_keys), handler, consumed)
        with self._lock:
            if any(existing.consumer == consumer for existing in self.subscriptions):
                raise ValueError(f"Un consommateur « {consumer} » est déjà abonné.")
            self.subscriptions.append(subscription)

    def publish(self, envelope: Envelope) -> None:
        received = decode(encode(envelope))
        with self._lock:
            self._waiting.append(received)
            if self._delivering:
                return
            self._delivering = True
            try:
                while self._waiting:
                    self._deliver(self._waiting.popleft())
            finally:
                self._delivering = False

    def _deliver(self, envelope: Envelope) -> None:
        for subscription in self.subscriptions:
            if subscription.wants(envelope):
                self._deliver_to(subscription, envelope)

    def _deliver_to(self, subscription: Subscription, envelope: Envelope) -> None:
        reason, delivery = "", 0
        while delivery < self.delivery_limit:
            delivery += 1
            try:
                applied = apply_once(subscription.consumer, subscription.handler, subscription.consumed, envelope)
            except MalformedMessage as error:
                reason = f"{type(error).__name__}: {error}"
                break  # as the broker's reject: delivering it again changes nothing
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
                log.warning("bus.delivery_failed", consumer=subscription.consumer, delivery=delivery, reason=reason)
                continue
            if applied:
                self.applied += 1
            else:
                self.duplicates += 1
            return
        self.dead_letters.append(DeadLetter(subscription.consumer, envelope, reason, delivery))
        log.error(
            "bus.dead_lettered",
            consumer=subscription.consumer,
            message_id=envelope.message_id,
            routing_key=envelope.routing_key,
            reason=reason,
        )

    def replay_dead_letters(self, consumer: str) -> int:
        """Deliver `consumer`'s dead letters again (once its defect is fixed); returns how many were replayed."""
        with self._lock:
            mine = [letter for letter in self.dead_letters if letter.consumer == consumer]
            self.dead_letters = [letter for letter in self.dead_letters if letter.consumer != consumer]
            subscription = next(s for s in self.subscriptions if s.consumer == consumer)
            for letter in mine:
                self._deliver_to(subscription, letter.envelope)
        return len(mine)
