"""The process's event bus (`SOUSCRIPTION_RABBITMQ_URL`: RabbitMQ; empty: in-process) and the consumers' store of
messages already applied, in the consumer's own database (the bus's `SqlConsumedMessages`)."""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import connections, transaction

from souscription.integrations.bus.consumed_sql import SqlConsumedMessages
from souscription.integrations.bus.factory import event_bus
from souscription.integrations.bus.port import EventBus


@functools.cache
def bus() -> EventBus:
    return event_bus(settings.SOUSCRIPTION.rabbitmq_url, prefix=settings.SOUSCRIPTION.rabbitmq_prefix)


@functools.cache
def consumed(alias: str) -> SqlConsumedMessages:
    store = SqlConsumedMessages(alias, connections=connections, transaction=transaction)
    store.prepare()
    return store


def reset() -> None:
    """Tests: a new bus after the configuration changed."""
    bus.cache_clear()
    consumed.cache_clear()
