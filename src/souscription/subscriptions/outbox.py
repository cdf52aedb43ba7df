"""The dossier's events go to the event bus: `DossierEvent` rows, written in the transaction of each transition,
are the outbox; a relay loop in the workflow process publishes the unpublished ones in order, each confirmed by
the bus before its row is marked (`integrations.bus.relay`). A crash loses nothing: an event confirmed but not yet
marked is published again under the same message id, and consumers apply each id once.

The loop starts with DBOS (`platform.workflows.after_launch`) in every process that runs workflows; in production,
with several workers, each relays, which keeps every event delivered (consumers de-duplicate) but may interleave
two dossiers' events: a dossier's own events stay in order within a run."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import structlog
from django.db import connections, transaction
from django.utils import timezone

from souscription.connectors import bus as connectors_bus
from souscription.integrations.bus.envelope import Envelope, of_recorded
from souscription.integrations.bus.port import EventBus
from souscription.integrations.bus.relay import relay
from souscription.platform import workflows
from souscription.platform.databases import without_flush
from souscription.subscriptions.models import DossierEvent

log = structlog.get_logger(__name__)
DATABASE = "default"
SOURCE = "subscriptions.dossierevent"
BATCH = 500
INTERVAL_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 5.0
_subscribers: list[Callable[[EventBus], None]] = []


def subscriber(subscribe: Callable[[EventBus], None]) -> Callable[[EventBus], None]:
    """A consumer of the dossier's events registers itself; it is subscribed when the relay starts."""
    _subscribers.append(subscribe)
    return subscribe


def relay_once(event_bus: EventBus) -> int:
    """Publish what is pending, oldest first; mark what the bus confirmed in one update. Returns how many."""
    rows = list(DossierEvent.objects.filter(published_at__isnull=True).order_by("id")[:BATCH])
    pending = [(row.id, _envelope(row)) for row in rows]
    row_of = {envelope.message_id: row_id for row_id, envelope in pending}
    confirmed: list[int] = []
    run = relay(
        bus=event_bus,
        unpublished=lambda: [envelope for _row_id, envelope in pending],
        mark_published=lambda envelope: confirmed.append(row_of[envelope.message_id]),
    )
    if confirmed:
        # Not flushed to disk: a mark a power cut loses only publishes its events again, under the same ids.
        with without_flush(DATABASE), transaction.atomic(using=DATABASE):
            DossierEvent.objects.filter(id__in=confirmed).update(published_at=timezone.now())
    return run.published


def _envelope(row: DossierEvent) -> Envelope:
    return of_recorded(
        source=SOURCE,
        row_id=row.id,
        name=row.name,
        version=row.version,
        payload=row.payload,
        occurred_at=row.occurred_at,
    )


CONSUMERS_RESTART_SECONDS = 5.0


def start() -> Callable[[], None]:
    event_bus = connectors_bus.bus()
    for subscribe in _subscribers:
        subscribe(event_bus)
    stop = threading.Event()
    loops = [threading.Thread(target=_relay_loop, args=(event_bus, stop), name="events-relay", daemon=True)]
    run = getattr(event_bus, "run", None)  # RabbitMQ: its consumers' loop; in-process delivery needs none
    if run is not None:
        loops.append(threading.Thread(target=_consumers_loop, args=(run, stop), name="events-consumers", daemon=True))
    for loop in loops:
        loop.start()

    def stopped() -> None:
        stop.set()
        for loop in loops:
            loop.join(timeout=10)

    return stopped


def _relay_loop(event_bus: EventBus, stop: threading.Event) -> None:
    """Runs as long as the process: a failed pass (the database or the broker away) is tried again, waiting twice
    as long after each failure in a row (up to `MAX_BACKOFF_SECONDS`); the first failure is logged with its
    traceback, the next ones in one line, so an outage neither floods the log nor burns a core."""
    failures = 0
    while not stop.is_set():
        try:
            relay_once(event_bus)
            failures = 0
        except Exception as error:
            failures += 1
            if failures == 1:
                log.warning("events.relay_failed", exc_info=True)
            else:
                log.warning("events.relay_still_failing", failures=failures, error=type(error).__name__)
        _recycle_connections()
        stop.wait(
            min(MAX_BACKOFF_SECONDS, INTERVAL_SECONDS * 2 ** max(0, failures - 1)) if failures else INTERVAL_SECONDS
        )


def _consumers_loop(run: Callable[[threading.Event], None], stop: threading.Event) -> None:
    """The broker's consumers, started again after anything their own reconnection does not absorb (a refused
    topology, a bug in a handler's bookkeeping): logged as an error, never a silently dead thread."""
    while not stop.is_set():
        try:
            run(stop)
        except Exception:
            log.error("events.consumers_failed", exc_info=True)
            stop.wait(CONSUMERS_RESTART_SECONDS)


def _recycle_connections() -> None:
    """Checking a connection's health touches the database, which may be the reason the pass failed: a failed check
    drops the connection (the next pass opens another) instead of ending the relay."""
    for connection in connections.all(initialized_only=True):
        try:
            connection.close_if_unusable_or_obsolete()
        except Exception as error:
            log.warning("events.relay_connection_dropped", database=connection.alias, error=type(error).__name__)
            with contextlib.suppress(Exception):  # Django forgets the connection even when closing it fails
                connection.close()


workflows.after_launch("dossier-events", start)
