"""A vendor call that cannot be made parks instead of failing the dossier, with its reason, and resumes by itself
when the vendor is back; a call the vendor refuses is dead-lettered until a person replays it. Both are listed by
`souscription connectors parked`, and the vendor sees the call's effect once."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dbos import DBOS
from django.core.management import call_command

from souscription.connectors import calls, services
from souscription.integrations.http import VendorClient
from souscription.integrations.metrics import Metrics
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy
from tests.fakes.base import FaultPlan
from tests.integration.test_vendor_client import Ledger

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
LEDGER: dict[str, Ledger] = {}


@calls.operation("erp.ledger_entry")
def ledger_entry(amount: int, *, key: str) -> str:
    client = VendorClient(
        vendor="ledger",
        base_url=LEDGER["fake"].url,
        timeout=0.5,
        policy=RetryPolicy(attempts=2, base_seconds=0.001, cap_seconds=0.01),
        metrics=Metrics(),
        breaker=CircuitBreaker(failure_threshold=1000),
        error_code=lambda response: str(response.json().get("code", "")),
    )
    try:
        response = client.request(
            "POST", "/entries", operation="create_entry", json={"amount": amount} if amount else {}, idempotency_key=key
        )
    finally:
        client.close()
    return str(response.json()["id"])


@pytest.fixture
def ledger(settings: Any) -> Iterator[Ledger]:
    settings.SOUSCRIPTION = dataclasses.replace(
        settings.SOUSCRIPTION,
        connectors={**settings.SOUSCRIPTION.connectors, "erp": "odoo"},
        connector_park_seconds=1,
    )
    DBOS.register_queue(calls.queue_name("erp"), polling_interval_sec=0.1, on_conflict="always_update")
    with Ledger(FaultPlan(rate=1.0, kinds=("server_error",))) as fake:
        LEDGER["fake"] = fake
        yield fake


def run_in_background(amount: int, key: str) -> dict[str, Any]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        outcome["result"] = calls.run("erp.ledger_entry", key=key, subscription_id="SUB-2026-000001", args=(amount,))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_an_unavailable_vendor_parks_the_call_with_its_reason_and_it_resumes_when_the_vendor_is_back(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    key = f"ledger:entry:{uuid.uuid4()}"
    outcome = run_in_background(42, key)
    wait_for(lambda: any(call.key == key for call in services.waiting(status="parked")))
    parked = next(call for call in services.waiting() if call.key == key)
    assert parked.vendor == "odoo"
    assert parked.operation == "erp.ledger_entry"
    assert "server_error" in parked.reason
    assert "HTTP 503" in parked.reason
    call_command("connectors", "parked")
    assert key in capsys.readouterr().out

    ledger.faults.rate = 0.0  # the vendor is back
    outcome["thread"].join(timeout=30)
    assert outcome["result"] == "e1"
    assert not any(call.key == key for call in services.waiting())
    assert ledger.effects == {("entry", key): 1}


def test_a_refused_call_is_dead_lettered_until_replayed_then_made_once(ledger: Ledger) -> None:
    ledger.faults.rate = 0.0
    key = f"ledger:entry:{uuid.uuid4()}"
    outcome = run_in_background(0, key)  # no amount: the vendor refuses (400)
    wait_for(lambda: any(call.key == key for call in services.waiting(status="dead")))
    dead = next(call for call in services.waiting() if call.key == key)
    assert "rejected" in dead.reason
    assert "missing_amount" in dead.reason
    assert dead.next_attempt_at is None
    time.sleep(1.5)
    assert outcome["thread"].is_alive()  # a dead-lettered call does not retry on its own

    LEDGER["fake"].accept_any_amount = True  # a person fixed the cause at the vendor
    assert calls.replay(key)
    outcome["thread"].join(timeout=30)
    assert outcome["result"] == "e1"
    assert ledger.effects == {("entry", key): 1}
    assert not calls.replay(key)  # resolved: nothing left to replay
