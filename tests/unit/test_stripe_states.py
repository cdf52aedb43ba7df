"""Stripe's statuses mapped onto the payment port's: one case per status Stripe documents, and a status no table
knows is refused, never guessed."""

from __future__ import annotations

from typing import Any

import pytest

from souscription.integrations.payment.port import MandateStatus, PaymentStatus, RefundStatus, SetupStatus
from souscription.integrations.payment.stripe_states import (
    EVENT_KINDS,
    MANDATE_STATUSES,
    PAYMENT_INTENT_STATUSES,
    REFUND_STATUSES,
    SETUP_INTENT_STATUSES,
    UnknownStripeState,
    error_code_of,
    mandate_of,
    payment_of,
    refund_of,
    setup_of,
)


def intent(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "pi_1", "object": "payment_intent", "status": status, "amount": 4200, "currency": "eur", **fields}


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("requires_payment_method", PaymentStatus.FAILED),
        ("requires_confirmation", PaymentStatus.SCHEDULED),
        ("requires_action", PaymentStatus.REQUIRES_ACTION),
        ("processing", PaymentStatus.PROCESSING),
        ("requires_capture", PaymentStatus.REQUIRES_ACTION),
        ("canceled", PaymentStatus.CANCELED),
        ("succeeded", PaymentStatus.SUCCEEDED),
    ],
)
def test_each_payment_intent_status_has_its_payment_status(stripe_status: str, ours: PaymentStatus) -> None:
    payment = payment_of(intent(stripe_status))
    assert payment.status is ours
    assert payment.vendor_status == stripe_status


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("requires_payment_method", SetupStatus.FAILED),
        ("requires_confirmation", SetupStatus.PENDING),
        ("requires_action", SetupStatus.REQUIRES_ACTION),
        ("processing", SetupStatus.PENDING),
        ("canceled", SetupStatus.CANCELED),
        ("succeeded", SetupStatus.SUCCEEDED),
    ],
)
def test_each_setup_intent_status_has_its_setup_status(stripe_status: str, ours: SetupStatus) -> None:
    setup = setup_of({"id": "seti_1", "status": stripe_status, "mandate": "mandate_1", "payment_method": "pm_1"})
    assert (setup.status, setup.mandate_id, setup.payment_method_id) == (ours, "mandate_1", "pm_1")


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [("pending", MandateStatus.PENDING), ("active", MandateStatus.ACTIVE), ("inactive", MandateStatus.INACTIVE)],
)
def test_each_mandate_status_has_its_mandate_status(stripe_status: str, ours: MandateStatus) -> None:
    details = {"type": "sepa_debit", "sepa_debit": {"reference": "RUM-42", "url": "https://example.test"}}
    mandate = mandate_of({"id": "mandate_1", "status": stripe_status, "payment_method_details": details})
    assert (mandate.status, mandate.reference) == (ours, "RUM-42")


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("pending", RefundStatus.PENDING),
        ("requires_action", RefundStatus.REQUIRES_ACTION),
        ("succeeded", RefundStatus.SUCCEEDED),
        ("failed", RefundStatus.FAILED),
        ("canceled", RefundStatus.CANCELED),
    ],
)
def test_each_refund_status_has_its_refund_status(stripe_status: str, ours: RefundStatus) -> None:
    refund = refund_of({"id": "pyr_1", "status": stripe_status, "amount": 100, "payment_intent": "pi_1"})
    assert (refund.status, refund.payment_id) == (ours, "pi_1")


def test_the_tables_hold_every_status_stripe_documents_and_no_other() -> None:
    # The enums of Stripe's OpenAPI document (the contract test reads them from the document itself).
    assert set(PAYMENT_INTENT_STATUSES) == {
        "requires_payment_method", "requires_confirmation", "requires_action", "processing", "requires_capture",
        "canceled", "succeeded",
    }  # fmt: skip
    assert set(SETUP_INTENT_STATUSES) == set(PAYMENT_INTENT_STATUSES) - {"requires_capture"}
    assert set(MANDATE_STATUSES) == {"pending", "active", "inactive"}
    assert set(REFUND_STATUSES) == {"pending", "requires_action", "succeeded", "failed", "canceled"}


@pytest.mark.parametrize(
    "read",
    [
        lambda: payment_of(intent("requires_magic")),
        lambda: setup_of({"id": "seti_1", "status": "requires_magic"}),
        lambda: mandate_of({"id": "mandate_1", "status": "suspended"}),
        lambda: refund_of({"id": "pyr_1", "status": "reversed", "amount": 1}),
        lambda: payment_of(intent(None)),  # type: ignore[arg-type]
    ],
)
def test_a_status_no_table_knows_is_refused_never_guessed(read: Any) -> None:
    with pytest.raises(UnknownStripeState) as unknown:
        read()
    assert unknown.value.code == "unknown_vendor_state"
    assert "table de correspondance" in str(unknown.value)


def test_a_sepa_debit_refused_by_the_bank_is_failed_with_the_banks_reason() -> None:
    error = {"type": "card_error", "code": "insufficient_funds", "message": "..."}
    payment = payment_of(intent("requires_payment_method", last_payment_error=error))
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "insufficient_funds")


def test_a_succeeded_payment_whose_charge_is_wholly_refunded_reads_refunded() -> None:
    charge = {"id": "py_1", "amount_refunded": 4200, "refunded": True}
    payment = payment_of(intent("succeeded", latest_charge=charge))
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.REFUNDED, 4200)


def test_a_partial_refund_leaves_the_payment_succeeded_with_the_amount_refunded() -> None:
    charge = {"id": "py_1", "amount_refunded": 1000, "refunded": False}
    payment = payment_of(intent("succeeded", latest_charge=charge))
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.SUCCEEDED, 1000)


def test_every_event_type_the_endpoint_subscribes_to_is_mapped_explicitly() -> None:
    for event_type in (
        "payment_intent.processing",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "setup_intent.succeeded",
        "mandate.updated",
        "charge.refunded",
    ):
        assert event_type in EVENT_KINDS


def test_the_error_code_kept_is_the_most_precise_and_never_the_message() -> None:
    assert error_code_of(
        {"error": {"type": "card_error", "code": "card_declined", "decline_code": "do_not_honor"}}
    ) == ("do_not_honor")
    assert error_code_of({"error": {"type": "invalid_request_error", "code": "resource_missing"}}) == "resource_missing"
    assert error_code_of({"error": {"type": "idempotency_error", "message": "Keys for idempotent..."}}) == (
        "idempotency_error"
    )
    assert error_code_of({"error": "injected"}) == ""
    assert error_code_of(None) == ""
