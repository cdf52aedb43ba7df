"""The outbox's relay loop lives as long as its process: a pass that fails, or a connection whose health check fails
because the database is away, is logged and the loop goes on (before, a failed check ended the relay thread, and
no event was published again until the process restarted)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from souscription.integrations.bus.inprocess import InProcessBus
from souscription.subscriptions import outbox


class AwayDatabase:
    """A connection whose health check fails, as when the database server is unreachable."""

    alias = "default"

    def __init__(self) -> None:
        self.checks = 0
        self.closed = 0

    def close_if_unusable_or_obsolete(self) -> None:
        if threading.current_thread().name != "relay-under-test":
            return
        self.checks += 1
        raise ConnectionError("server closed the connection unexpectedly")

    def close(self) -> None:
        self.closed += 1
        raise ConnectionError("already gone")


class Connections:
    def __init__(self, connection: AwayDatabase) -> None:
        self.connection = connection

    def all(self, initialized_only: bool = False) -> list[AwayDatabase]:
        return [self.connection]


def test_the_relay_goes_on_after_failed_passes_and_failed_connection_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    database, passes, stop = AwayDatabase(), [], threading.Event()

    def relay_once(event_bus: Any) -> int:
        if threading.current_thread().name != "relay-under-test":  # the test session's own relay, if one runs
            return 0
        passes.append(1)
        if len(passes) >= 3:
            stop.set()
        raise ConnectionError("the database is away")

    monkeypatch.setattr(outbox, "relay_once", relay_once)
    monkeypatch.setattr(outbox, "connections", Connections(database))
    monkeypatch.setattr(outbox, "INTERVAL_SECONDS", 0.0)
    loop = threading.Thread(
        target=outbox._relay_loop, args=(InProcessBus(), stop), name="relay-under-test", daemon=True
    )
    loop.start()
    loop.join(timeout=10)
    assert not loop.is_alive()
    assert len(passes) == 3  # it kept trying until told to stop
    assert database.checks == 3
    assert database.closed == 3


def test_the_brokers_consumers_are_started_again_after_an_error_they_do_not_absorb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs, stop = [], threading.Event()

    def run(_stop: threading.Event) -> None:
        runs.append(1)
        if len(runs) >= 3:
            stop.set()
            return
        raise RuntimeError("RabbitMQ refuse la topologie")

    monkeypatch.setattr(outbox, "CONSUMERS_RESTART_SECONDS", 0.0)
    loop = threading.Thread(target=outbox._consumers_loop, args=(run, stop), daemon=True)
    loop.start()
    loop.join(timeout=10)
    assert not loop.is_alive()
    assert len(runs) == 3
