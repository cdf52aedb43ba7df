"""The shared vendor client against a fake that injects faults: transient failures are retried with the same
idempotency key, so the vendor applies the call once; permanent refusals are not retried; the breaker opens."""

from __future__ import annotations

import itertools

import pytest

from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.http import VendorClient
from souscription.integrations.metrics import Metrics
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy
from tests.fakes.base import FakeVendor, FaultPlan, Refuse, Reply, Request, route

pytestmark = pytest.mark.integration


class Ledger(FakeVendor):
    name = "ledger"
    accept_any_amount = False

    @route("POST", r"/entries")
    def create(self, request: Request) -> Reply:
        body = request.json()
        if not isinstance(body, dict) or ("amount" not in body and not self.accept_any_amount):
            raise Refuse(Reply(400, json={"code": "missing_amount"}))

        def apply() -> Reply:
            self.effect("entry", request.header("idempotency-key") or "")
            return Reply(201, json={"id": "e1", "amount": body.get("amount")})

        return self.idempotent(request, "idempotency-key", apply, conflict=Reply(409, json={"code": "key_reused"}))


def client(fake: FakeVendor, **overrides: object) -> VendorClient:
    options: dict[str, object] = {
        "vendor": fake.name,
        "base_url": fake.url,
        "timeout": 0.5,
        "policy": RetryPolicy(attempts=8, base_seconds=0.001, cap_seconds=0.01),
        "metrics": Metrics(),
        "breaker": CircuitBreaker(failure_threshold=1000),
        "error_code": lambda response: str(response.json().get("code", "")),
    }
    options.update(overrides)
    return VendorClient(**options)  # type: ignore[arg-type]


def test_every_call_lands_once_through_thirty_percent_faults() -> None:
    with Ledger(FaultPlan(rate=0.3, seed=7, timeout_seconds=0.7)) as fake:
        vendor = client(fake)
        for number in range(40):
            response = vendor.request(
                "POST", "/entries", operation="create_entry", json={"amount": number}, idempotency_key=f"k{number}"
            )
            assert response.json()["amount"] == number
    assert sum(fake.faults_injected.values()) > 5
    assert fake.duplicates() == {}
    assert len(fake.effects) == 40


def test_a_refusal_is_not_retried_and_names_the_vendor_code() -> None:
    with Ledger() as fake:
        vendor = client(fake)
        with pytest.raises(VendorRejected) as refused:
            vendor.request("POST", "/entries", operation="create_entry", json={}, idempotency_key="k")
    assert refused.value.status == 400
    assert refused.value.vendor_code == "missing_amount"
    assert len(fake.calls) == 1


def test_the_breaker_opens_after_consecutive_failures_and_lets_one_trial_through_later() -> None:
    now = itertools.count()
    with Ledger(FaultPlan(rate=1.0, kinds=("server_error",))) as fake:
        vendor = client(
            fake,
            policy=RetryPolicy(attempts=1),
            breaker=CircuitBreaker(failure_threshold=3, reset_after=100),
            clock=lambda: float(next(now)),
        )
        for _ in range(3):
            with pytest.raises(VendorUnavailable):
                vendor.request("POST", "/entries", operation="create_entry", json={"amount": 1})
        with pytest.raises(VendorUnavailable) as parked:
            vendor.request("POST", "/entries", operation="create_entry", json={"amount": 1})
    assert parked.value.kind == "circuit_open"
    assert len(fake.calls) == 3
