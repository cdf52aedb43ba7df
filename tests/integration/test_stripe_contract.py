"""The Stripe adapter against the fake Stripe, over HTTP: SEPA's whole path (customer, mandate, a debit processing
then succeeded or failed days later, refund), its refusals, idempotency as Stripe keeps it, thirty percent of faults,
and, when npm can install it, every request and answer checked against Stripe's own OpenAPI document."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from souscription.configuration import VendorAccess
from souscription.integrations.errors import VendorRejected, VendorUnavailable, WebhookRejected
from souscription.integrations.metrics import Metrics
from souscription.integrations.payment.port import (
    AcceptanceChannel,
    BankAccount,
    Instalment,
    MandateAcceptance,
    MandateStatus,
    Payer,
    PaymentEvent,
    PaymentEventKind,
    PaymentStatus,
    RefundStatus,
    SetupStatus,
)
from souscription.integrations.payment.stripe import StripePayments
from souscription.integrations.payment.stripe_states import (
    EVENT_KINDS,
    MANDATE_STATUSES,
    PAYMENT_INTENT_STATUSES,
    SETUP_INTENT_STATUSES,
)
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy
from tests.fakes.base import FakeVendor, FaultPlan, Reply, Request, route
from tests.fakes.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe
from tests.fakes.stripe_openapi import StripeSpec, stripe_spec

pytestmark = pytest.mark.integration

SUCCEEDS, FAILS = "DE89370400440532013000", "DE62370400440532013001"
INSUFFICIENT_FUNDS, DISPUTED, WEEKLY_LIMIT = (
    "DE65370400440002222227",
    "DE35370400440532013002",
    "DE65370400440000343434",
)
ACCEPTANCE = MandateAcceptance(
    AcceptanceChannel.ONLINE, datetime(2026, 11, 3, 9, 30, tzinfo=UTC), ip_address="203.0.113.7", user_agent="Firefox"
)


def adapter(fake: FakeStripe, *, token: str = SECRET_KEY, attempts: int = 3) -> StripePayments:
    access = VendorAccess("stripe", fake.url, token=token, webhook_secret=WEBHOOK_SECRET)
    return StripePayments(
        access,
        timeout=0.5,
        policy=RetryPolicy(attempts=attempts, base_seconds=0.001, cap_seconds=0.01),
        breaker=CircuitBreaker(failure_threshold=1000),
        metrics=Metrics(),
    )


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as running:
        yield running


@pytest.fixture
def stripe(fake: FakeStripe) -> Iterator[StripePayments]:
    payments = adapter(fake)
    yield payments
    payments.close()


def subscribe(stripe: StripePayments, iban: str, name: str = "d1") -> Instalment:
    """A customer with a mandate on `iban`, and its first instalment of 42 €."""
    customer = stripe.create_customer(Payer(f"sub-{name}", "Camille Martin", "camille@example.fr"), key=f"{name}:cus")
    account = BankAccount("Camille Martin", "camille@example.fr", iban)
    setup = stripe.set_up_mandate(customer.customer_id, account, ACCEPTANCE, key=f"{name}:mandate")
    assert setup.status is SetupStatus.SUCCEEDED
    return Instalment(f"sub-{name}", customer.customer_id, setup.payment_method_id, setup.mandate_id, 4200)


def read(stripe: StripePayments, fake: FakeStripe, event: dict[str, Any]) -> Any:
    headers, body = fake.signed(event)
    return stripe.read_webhook(headers, body, datetime.now(UTC))


def test_a_sepa_debit_is_processing_then_succeeds_days_later_and_is_refunded(
    fake: FakeStripe, stripe: StripePayments
) -> None:
    instalment = subscribe(stripe, SUCCEEDS)
    assert stripe.mandate(instalment.mandate_id).status is MandateStatus.ACTIVE
    payment = stripe.collect_instalment(instalment, key="d1:instalment-1")
    assert (payment.status, payment.amount_cents, payment.currency) == (PaymentStatus.PROCESSING, 4200, "eur")
    assert stripe.payment(payment.payment_id).status is PaymentStatus.PROCESSING

    [succeeded] = fake.advance(payment.payment_id)
    event = read(stripe, fake, succeeded)
    assert (event.kind, event.payment_id, event.payment_status) == (
        PaymentEventKind.PAYMENT_SUCCEEDED,
        payment.payment_id,
        PaymentStatus.SUCCEEDED,
    )
    assert stripe.payment(payment.payment_id).status is PaymentStatus.SUCCEEDED

    refund = stripe.refund(payment.payment_id, key="d1:withdrawn")
    assert (refund.status, refund.amount_cents, refund.payment_id) == (RefundStatus.PENDING, 4200, payment.payment_id)
    assert stripe.payment(payment.payment_id).status is PaymentStatus.REFUNDED
    settled = read(stripe, fake, fake.settle_refund(refund.refund_id))
    assert (settled.kind, settled.refund_status) == (PaymentEventKind.REFUND_UPDATED, RefundStatus.SUCCEEDED)
    assert [e["type"] for e in fake.events] == [
        "setup_intent.succeeded",
        "payment_intent.processing",
        "payment_intent.succeeded",
        "charge.refunded",
        "charge.refund.updated",
    ]


@pytest.mark.parametrize(
    ("iban", "code"),
    [(FAILS, "payment_intent_payment_attempt_failed"), (INSUFFICIENT_FUNDS, "insufficient_funds")],
)
def test_a_sepa_debit_refused_by_the_bank_fails_days_after_it_was_processing(
    fake: FakeStripe, stripe: StripePayments, iban: str, code: str
) -> None:
    payment = stripe.collect_instalment(subscribe(stripe, iban), key="d1:instalment-1")
    assert payment.status is PaymentStatus.PROCESSING
    [failed] = fake.advance(payment.payment_id)
    event = read(stripe, fake, failed)
    assert (event.kind, event.payment_status, event.failure_code) == (PaymentEventKind.PAYMENT_FAILED,
                                                                      PaymentStatus.FAILED, code)  # fmt: skip
    again = stripe.payment(payment.payment_id)
    assert (again.status, again.vendor_status, again.failure_code) == (PaymentStatus.FAILED,
                                                                       "requires_payment_method", code)  # fmt: skip


def test_a_debit_over_the_accounts_limit_fails_at_once_and_its_replay_too(
    fake: FakeStripe, stripe: StripePayments
) -> None:
    instalment = subscribe(stripe, WEEKLY_LIMIT)
    first = stripe.collect_instalment(instalment, key="d1:instalment-1")
    replayed = stripe.collect_instalment(instalment, key="d1:instalment-1")
    assert (first.status, first.failure_code) == (PaymentStatus.FAILED, "charge_exceeds_source_limit")
    assert replayed == first
    assert fake.effects[("payment_intent.create", "d1:instalment-1")] == 1


def test_a_debit_contested_at_the_bank_succeeds_then_is_disputed(fake: FakeStripe, stripe: StripePayments) -> None:
    payment = stripe.collect_instalment(subscribe(stripe, DISPUTED), key="d1:instalment-1")
    kinds = [read(stripe, fake, event).kind for event in fake.advance(payment.payment_id)]
    assert kinds == [PaymentEventKind.PAYMENT_SUCCEEDED, PaymentEventKind.PAYMENT_DISPUTED]


def test_a_mandate_revoked_by_the_payers_bank_stops_the_next_debit(fake: FakeStripe, stripe: StripePayments) -> None:
    instalment = subscribe(stripe, SUCCEEDS)
    event = read(stripe, fake, fake.update_mandate(instalment.mandate_id, "inactive"))
    assert (event.kind, event.mandate_status) == (PaymentEventKind.MANDATE_UPDATED, MandateStatus.INACTIVE)
    assert stripe.mandate(instalment.mandate_id).status is MandateStatus.INACTIVE
    with pytest.raises(VendorRejected) as refused:
        stripe.collect_instalment(instalment, key="d1:instalment-2")
    assert (refused.value.status, refused.value.vendor_code) == (400, "payment_intent_mandate_invalid")


def test_stripes_refusals_become_vendor_rejected_with_stripes_code(fake: FakeStripe, stripe: StripePayments) -> None:
    instalment = subscribe(stripe, SUCCEEDS)
    refusals: dict[str, Callable[[], object]] = {
        "resource_missing": lambda: stripe.payment("pi_unknown"),
        "amount_too_small": lambda: stripe.collect_instalment(
            dataclasses.replace(instalment, amount_cents=30), key="d1:tiny"
        ),
        "charge_not_refundable": lambda: stripe.refund(
            stripe.collect_instalment(instalment, key="d1:instalment-1").payment_id, key="d1:early-refund"
        ),
        "invalid_request_error": lambda: adapter(fake, token="sk_test_wrong").payment("pi_unknown"),
    }
    for code, refusal in refusals.items():
        with pytest.raises(VendorRejected) as refused:
            refusal()
        assert refused.value.vendor_code == code, code
    assert len([call for call in fake.calls if call[1] == "/v1/payment_intents/pi_unknown"]) == 2, "never retried"


def test_a_payment_is_refunded_once_whatever_the_keys(fake: FakeStripe, stripe: StripePayments) -> None:
    payment = stripe.collect_instalment(subscribe(stripe, SUCCEEDS), key="d1:instalment-1")
    fake.advance(payment.payment_id)
    part = stripe.refund(payment.payment_id, key="d1:refund-a", amount_cents=1200)
    assert (part.amount_cents, stripe.payment(payment.payment_id).refunded_cents) == (1200, 1200)
    stripe.refund(payment.payment_id, key="d1:refund-b")
    with pytest.raises(VendorRejected) as refused:
        stripe.refund(payment.payment_id, key="d1:refund-c")
    assert refused.value.vendor_code == "charge_already_refunded"


def test_a_call_replayed_with_its_key_creates_nothing_new(fake: FakeStripe, stripe: StripePayments) -> None:
    payer = Payer("sub-d1", "Camille Martin", "camille@example.fr")
    first = stripe.create_customer(payer, key="d1:cus")
    assert stripe.create_customer(payer, key="d1:cus") == first
    instalment = subscribe(stripe, SUCCEEDS, name="d2")
    payments = {stripe.collect_instalment(instalment, key="d2:instalment-1") for _ in range(3)}
    assert len(payments) == 1
    assert fake.effects[("customer.create", "d1:cus")] == 1
    assert fake.effects[("payment_intent.create", "d2:instalment-1")] == 1
    assert fake.duplicates() == {}


def test_a_key_still_in_flight_at_stripe_parks_the_call_which_lands_once_later(
    fake: FakeStripe, stripe: StripePayments
) -> None:
    instalment = subscribe(stripe, SUCCEEDS)
    fake.in_flight.add("d1:instalment-1")
    with pytest.raises(VendorUnavailable) as parked:
        stripe.collect_instalment(instalment, key="d1:instalment-1")
    assert (parked.value.status, parked.value.vendor_code) == (409, "idempotency_key_in_use")
    fake.in_flight.clear()
    assert stripe.collect_instalment(instalment, key="d1:instalment-1").status is PaymentStatus.PROCESSING
    assert fake.effects[("payment_intent.create", "d1:instalment-1")] == 1


def test_stripe_marks_a_replay_and_refuses_a_key_reused_for_another_request(fake: FakeStripe) -> None:
    headers = {"Authorization": f"Bearer {SECRET_KEY}", "Idempotency-Key": "k-1"}
    first = httpx.post(f"{fake.url}/v1/customers", data={"name": "A"}, headers=headers)
    again = httpx.post(f"{fake.url}/v1/customers", data={"name": "A"}, headers=headers)
    other = httpx.post(f"{fake.url}/v1/customers", data={"name": "B"}, headers=headers)
    assert (first.status_code, "idempotent-replayed" in first.headers) == (200, False)
    assert (again.json(), again.headers["Idempotent-Replayed"]) == (first.json(), "true")
    assert (other.status_code, other.json()["error"]["type"]) == (400, "idempotency_error")
    unknown = httpx.post(f"{fake.url}/v1/customers", data={"nom": "A"}, headers={**headers, "Idempotency-Key": "k-2"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "parameter_unknown")
    as_json = httpx.post(f"{fake.url}/v1/customers", json={"name": "A"}, headers={**headers, "Idempotency-Key": "k-3"})
    assert as_json.status_code == 400
    anonymous = httpx.get(f"{fake.url}/v1/customers/{first.json()['id']}")
    assert (anonymous.status_code, anonymous.json()["error"]["type"]) == (401, "invalid_request_error")


def test_every_operation_lands_once_through_thirty_percent_of_faults() -> None:
    faults = FaultPlan(rate=0.3, seed=11, timeout_seconds=0.6)
    with FakeStripe(faults) as fake:
        stripe = adapter(fake, attempts=10)
        payments = []
        for number in range(10):  # three calls that change something per dossier: thirty in all
            payments.append(
                stripe.collect_instalment(subscribe(stripe, SUCCEEDS, name=f"d{number}"), key=f"d{number}:1")
            )
        for payment in payments:
            fake.advance(payment.payment_id)
            assert stripe.payment(payment.payment_id).status is PaymentStatus.SUCCEEDED
        stripe.close()
    assert sum(fake.faults_injected.values()) >= 10
    assert fake.duplicates() == {}
    assert sorted({kind for kind, _key in fake.effects}) == ["customer.create", "payment_intent.create",
                                                              "setup_intent.create"]  # fmt: skip
    assert len(fake.effects) == 30


class Platform(FakeVendor):
    """The platform's webhook endpoint, as far as this test needs it: verify, de-duplicate by event id."""

    name = "platform"

    def __init__(self, stripe: StripePayments) -> None:
        super().__init__()
        self.stripe = stripe
        self.seen: dict[str, PaymentEvent] = {}
        self.rejected: list[str] = []

    @route("POST", r"/webhooks/stripe")
    def receive(self, request: Request) -> Reply:
        try:
            event = self.stripe.read_webhook(request.headers, request.body, datetime.now(UTC))
        except WebhookRejected as refused:
            self.rejected.append(refused.code)
            return Reply(400)
        self.seen.setdefault(event.event_id, event)
        return Reply(200)


def test_events_posted_by_stripe_reach_the_endpoint_signed_and_a_redelivery_is_recognised(
    fake: FakeStripe, stripe: StripePayments
) -> None:
    with Platform(stripe) as platform:
        url = f"{platform.url}/webhooks/stripe"
        payment = stripe.collect_instalment(subscribe(stripe, FAILS), key="d1:instalment-1")
        fake.webhook_url = url
        fake.advance(payment.payment_id)  # delivers what Stripe would have sent by then
        assert fake.deliver_events(url) == []
        headers, body = fake.signed(fake.events[-1])
        assert fake.deliver(url, body, headers).status_code == 200
        assert fake.deliver(url, body.replace(b"requires_payment_method", b"succeeded"), headers).status_code == 400
    assert [event.kind for event in platform.seen.values()] == [
        PaymentEventKind.MANDATE_SET_UP,
        PaymentEventKind.PAYMENT_PROCESSING,
        PaymentEventKind.PAYMENT_FAILED,
    ]
    assert platform.rejected == ["signature_invalid"]


# -- against Stripe's official OpenAPI document --------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> StripeSpec:
    return stripe_spec()


def test_every_request_sent_and_every_answer_given_matches_stripes_openapi_document(spec: StripeSpec) -> None:
    with FakeStripe() as fake:
        stripe = adapter(fake)
        payment = stripe.collect_instalment(subscribe(stripe, SUCCEEDS), key="d1:1")
        fake.advance(payment.payment_id)
        stripe.payment(payment.payment_id)
        stripe.refund(payment.payment_id, key="d1:refund", amount_cents=100)
        offline = MandateAcceptance(AcceptanceChannel.OFFLINE, datetime.now(UTC))
        customer = stripe.create_customer(Payer("sub-d2", "Alex Dupont", "alex@example.fr"), key="d2:cus")
        stripe.set_up_mandate(customer.customer_id, BankAccount("Alex", "alex@example.fr", FAILS), offline, key="d2:m")
        failed = stripe.collect_instalment(subscribe(stripe, WEEKLY_LIMIT, name="d3"), key="d3:1")
        stripe.mandate(subscribe(stripe, DISPUTED, name="d4").mandate_id)
        for refusal in (lambda: stripe.payment("pi_unknown"), lambda: stripe.refund(failed.payment_id, key="d3:r")):
            with pytest.raises(VendorRejected):
                refusal()
        stripe.close()
    assert len(fake.exchanges) >= 15
    problems = []
    for exchange in fake.exchanges:
        problems += spec.request_problems(exchange.method, exchange.path, exchange.fields, exchange.query)
        problems += spec.response_problems(exchange.method, exchange.path, exchange.status, exchange.body)
    assert problems == []


def test_the_events_the_fake_sends_are_stripe_events_carrying_stripe_objects(spec: StripeSpec) -> None:
    with FakeStripe() as fake:
        stripe = adapter(fake)
        payment = stripe.collect_instalment(subscribe(stripe, SUCCEEDS), key="d1:1")
        fake.advance(payment.payment_id)
        refund = stripe.refund(payment.payment_id, key="d1:refund")
        fake.settle_refund(refund.refund_id)
        fake.update_mandate(stripe.mandate(subscribe(stripe, FAILS, name="d2").mandate_id).mandate_id, "inactive")
        failed = stripe.collect_instalment(subscribe(stripe, FAILS, name="d3"), key="d3:1")
        fake.advance(failed.payment_id)
        stripe.close()
    problems = []
    for event in fake.events:
        problems += spec.value_problems({"$ref": "#/components/schemas/event"}, event, event["type"])
        problems += spec.object_problems(event["data"]["object"])
    assert problems == []
    assert {event["type"] for event in fake.events} <= spec.event_types()


def test_the_status_tables_hold_exactly_the_statuses_of_stripes_document(spec: StripeSpec) -> None:
    assert set(PAYMENT_INTENT_STATUSES) == spec.enum("payment_intent", "status")
    assert set(SETUP_INTENT_STATUSES) == spec.enum("setup_intent", "status")
    assert set(MANDATE_STATUSES) == spec.enum("mandate", "status")
    assert set(EVENT_KINDS) <= spec.event_types()


# -- against the real service, on demand ---------------------------------------------------------------------------

SANDBOX_TOKEN = os.environ.get("SOUSCRIPTION_STRIPE_SANDBOX_TOKEN", "")


@pytest.mark.skipif(
    not SANDBOX_TOKEN.startswith(("sk_test_", "rk_test_")),
    reason="SOUSCRIPTION_STRIPE_SANDBOX_TOKEN (a sk_test_ or rk_test_ key) is not set: the sandbox run is opt-in",
)
@pytest.mark.parametrize(("iban", "final"), [(SUCCEEDS, PaymentStatus.SUCCEEDED), (FAILS, PaymentStatus.FAILED)])
def test_the_same_path_against_the_stripe_sandbox(iban: str, final: PaymentStatus) -> None:
    """Stripe's test mode walks its test IBANs in seconds to minutes: the payment is read until it settles."""
    access = VendorAccess("stripe", "https://api.stripe.com", token=SANDBOX_TOKEN, webhook_secret="whsec_unused")
    stripe = StripePayments(access, metrics=Metrics(), breaker=CircuitBreaker())
    run = uuid.uuid4().hex[:12]  # Stripe keeps keys 24 h: each run its own
    payment = stripe.collect_instalment(subscribe(stripe, iban, name=run), key=f"{run}:1")
    deadline = time.monotonic() + 240
    while payment.status in PaymentStatus.pending() and time.monotonic() < deadline:
        time.sleep(5)
        payment = stripe.payment(payment.payment_id)
    assert payment.status is final
    if final is PaymentStatus.SUCCEEDED:
        assert stripe.refund(payment.payment_id, key=f"{run}:refund").amount_cents == 4200
    stripe.close()
