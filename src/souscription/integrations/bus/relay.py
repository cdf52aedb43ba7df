"""The outbox relay: events recorded in the transaction of their transition, published afterwards, in order.

Each event is marked published only after the bus confirmed it, so a crash anywhere loses nothing: at worst an
event confirmed but not yet marked is published again on the next run, under the same stable message id, and
consumers apply it once (at least once, de-duplicated). The first event the bus does not confirm stops the run:
the ones after it stay unpublished, so the order in which consumers see a dossier's events is the order of its
transitions. Running the relay twice in a row, or again after a crash, is therefore safe; two relays running at
the same time are safe too but may interleave, so the caller runs one at a time (a queue of concurrency 1) to
keep the order strict."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from souscription.integrations.bus.envelope import Envelope
from souscription.integrations.bus.port import EventBus, PublishNotConfirmed

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RelayRun:
    published: int
    stopped_at: str | None = None
    """The message id that was not confirmed, if the run stopped early (it and the later ones stay pending)."""
    reason: str = ""


def relay(
    *,
    bus: EventBus,
    unpublished: Callable[[], Iterable[Envelope]],
    mark_published: Callable[[Envelope], None],
) -> RelayRun:
    """Publish every envelope `unpublished()` returns (oldest first), marking each once confirmed."""
    published = 0
    for envelope in unpublished():
        try:
            bus.publish(envelope)
        except PublishNotConfirmed as error:
            log.warning("bus.relay_stopped", message_id=envelope.message_id, published=published, reason=error.reason)
            return RelayRun(published, envelope.message_id, error.reason)
        mark_published(envelope)
        published += 1
    return RelayRun(published)
