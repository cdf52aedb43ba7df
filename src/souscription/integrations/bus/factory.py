"""Which bus a process uses, from one setting: empty (the embedded default) or an `amqp://` / `amqps://` URL.

The setting is meant to be `SOUSCRIPTION_BUS_URL`, read by `configuration.py` with the other connectors (its
owner wires it); this module takes the value, not the environment, so it is tested without one."""

from __future__ import annotations

from urllib.parse import urlsplit

from souscription.integrations.bus.inprocess import InProcessBus
from souscription.integrations.bus.port import EventBus


def event_bus(url: str, *, prefix: str = "souscription.") -> EventBus:
    scheme = urlsplit(url).scheme if url else ""
    if not scheme:
        return InProcessBus()
    if scheme in {"amqp", "amqps"}:
        from souscription.integrations.bus.rabbitmq import RabbitMqBus, RabbitMqSettings

        return RabbitMqBus(RabbitMqSettings(url=url, prefix=prefix))
    raise ValueError(f"Bus d'événements inconnu : « {scheme}:// » (attendu : vide, amqp:// ou amqps://).")
