"""What every event bus and every de-duplication store promises, pure (no broker, no database).

Delivery is at least once: a message can reach a consumer twice (a redelivery after a lost ack, a relay that
publishes again after a crash). A consumer therefore applies a message under its `ConsumedMessages` store, in
its own transaction: the store's row and the consumer's writes commit together, or neither does, and a second
delivery of the same message id finds the row and is acknowledged without being applied again."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from souscription.integrations.bus.envelope import Envelope, topic_matches

Handler = Callable[[Envelope], None]
"""A consumer's reaction to one message. Raising means "not applied": the bus delivers it again, up to its
delivery limit, then dead-letters it."""


class PublishNotConfirmed(Exception):
    """The bus did not confirm the message (broker unreachable past the reconnection window, or it refused it):
    the event may not have been published. The caller keeps it unpublished and tries again later; consumers
    de-duplicate, so trying again is always safe."""

    code = "publish_not_confirmed"

    def __init__(self, message_id: str, reason: str) -> None:
        self.message_id, self.reason = message_id, reason
        super().__init__(f"Publication non confirmée du message {message_id} : {reason}")


class ConsumedMessages(Protocol):
    """Message ids a consumer has applied, written in the consumer's own transaction."""

    def atomic(self) -> AbstractContextManager[None]:
        """The consumer's transaction: its writes and the store's row commit together or not at all."""
        ...

    def first_time(self, consumer: str, message_id: str) -> bool:
        """Record that `consumer` applies `message_id` (inside `atomic()`); False when it already had."""
        ...


class EventBus(Protocol):
    def publish(self, envelope: Envelope) -> None:
        """Return only once the bus has the message safely (the broker confirmed it); else raise
        `PublishNotConfirmed`."""
        ...

    def subscribe(
        self, consumer: str, binding_keys: Sequence[str], handler: Handler, *, consumed: ConsumedMessages
    ) -> None:
        """Deliver to `handler` every message whose routing key matches one of `binding_keys` (AMQP topic
        patterns: `subscriptions.dossier_signed.v1`, `subscriptions.*.v1`, `#`), each message id once per
        `consumer` name. From this call on, matching messages are kept for the consumer even while it is not
        running."""
        ...


_CONSUMER = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")


@dataclass(frozen=True)
class Subscription:
    """A consumer's name (its queue's, and the key of its de-duplication rows), what it binds to, its handler."""

    consumer: str
    binding_keys: tuple[str, ...]
    handler: Handler
    consumed: ConsumedMessages

    def __post_init__(self) -> None:
        if not _CONSUMER.match(self.consumer):
            raise ValueError(f"Nom de consommateur invalide : « {self.consumer} » (minuscules, chiffres, . _ -).")
        if not self.binding_keys:
            raise ValueError(f"Le consommateur « {self.consumer} » doit s'abonner à au moins une clé de routage.")

    def wants(self, envelope: Envelope) -> bool:
        return any(topic_matches(key, envelope.routing_key) for key in self.binding_keys)
