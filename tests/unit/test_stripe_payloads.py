"""What the Stripe adapter sends, built without the network: Stripe's bracket notation, the SEPA SetupIntent and the
off-session PaymentIntent, and the checks that refuse a request before it costs a round trip."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from souscription.integrations.payment.port import (
    AcceptanceChannel,
    BankAccount,
    Instalment,
    MandateAcceptance,
    Payer,
    RefundReason,
    check_instalment,
    check_mandate_request,
    check_payer,
    iban_is_valid,
)
from souscription.integrations.payment.stripe import (
    customer_form,
    encode_form,
    form_pairs,
    payment_intent_form,
    refund_form,
    setup_intent_form,
)
from souscription.kernel.errors import InvalidInput

ACCEPTED = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
ONLINE = MandateAcceptance(AcceptanceChannel.ONLINE, ACCEPTED, ip_address="203.0.113.7", user_agent="Firefox/140")
ACCOUNT = BankAccount("Camille Martin", "camille@example.fr", "fr14 2004 1010 0505 0001 3m02 606")
INSTALMENT = Instalment("sub-1", "cus_1", "pm_1", "mandate_1", 4200, number=3, description="Échéance 3/12")


def test_nested_objects_lists_and_booleans_use_stripes_bracket_notation() -> None:
    form = {"a": {"b": {"c": "v"}}, "l": ["x", "y"], "yes": True, "no": False, "n": 3, "gone": None}
    assert form_pairs(form) == [
        ("a[b][c]", "v"),
        ("l[]", "x"),
        ("l[]", "y"),
        ("yes", "true"),
        ("no", "false"),
        ("n", "3"),
    ]
    assert encode_form({"metadata": {"k": "é &"}}) == b"metadata%5Bk%5D=%C3%A9+%26"


def test_a_value_stripe_cannot_read_is_refused_rather_than_sent_as_python_text() -> None:
    with pytest.raises(TypeError):
        form_pairs({"amount": 42.0})


def test_the_customer_carries_its_subscription_in_its_metadata() -> None:
    fields = form_pairs(customer_form(Payer("sub-1", " Camille Martin ", "camille@example.fr")))
    assert ("metadata[subscription_id]", "sub-1") in fields
    assert ("name", "Camille Martin") in fields
    assert ("preferred_locales[]", "fr") in fields


def test_the_mandate_is_set_up_and_confirmed_in_one_call_for_off_session_sepa_debits() -> None:
    fields = dict(form_pairs(setup_intent_form("cus_1", ACCOUNT, ONLINE)))
    assert fields == {
        "customer": "cus_1",
        "payment_method_types[]": "sepa_debit",
        "usage": "off_session",
        "confirm": "true",
        "payment_method_data[type]": "sepa_debit",
        "payment_method_data[sepa_debit][iban]": "FR1420041010050500013M02606",
        "payment_method_data[billing_details][name]": "Camille Martin",
        "payment_method_data[billing_details][email]": "camille@example.fr",
        "mandate_data[customer_acceptance][type]": "online",
        "mandate_data[customer_acceptance][accepted_at]": str(int(ACCEPTED.timestamp())),
        "mandate_data[customer_acceptance][online][ip_address]": "203.0.113.7",
        "mandate_data[customer_acceptance][online][user_agent]": "Firefox/140",
    }


def test_a_mandate_accepted_on_paper_carries_no_online_evidence() -> None:
    offline = MandateAcceptance(AcceptanceChannel.OFFLINE, ACCEPTED)
    fields = dict(form_pairs(setup_intent_form("cus_1", ACCOUNT, offline)))
    assert fields["mandate_data[customer_acceptance][type]"] == "offline"
    assert not [name for name in fields if "[online]" in name]


def test_an_instalment_is_debited_off_session_and_confirmed_under_its_mandate() -> None:
    fields = dict(parse_qsl(encode_form(payment_intent_form(INSTALMENT)).decode()))
    assert fields == {
        "amount": "4200",
        "currency": "eur",
        "customer": "cus_1",
        "payment_method": "pm_1",
        "mandate": "mandate_1",
        "payment_method_types[]": "sepa_debit",
        "off_session": "true",
        "confirm": "true",
        "description": "Échéance 3/12",
        "metadata[subscription_id]": "sub-1",
        "metadata[instalment]": "3",
    }


def test_a_whole_refund_sends_no_amount() -> None:
    assert form_pairs(refund_form("pi_1", None, RefundReason.REQUESTED_BY_CUSTOMER)) == [
        ("payment_intent", "pi_1"),
        ("reason", "requested_by_customer"),
    ]


@pytest.mark.parametrize(
    "iban", ["DE89370400440532013000", "FR14 2004 1010 0505 0001 3M02 606", "fr7630006000011234567890189"]
)
def test_well_formed_ibans_pass_the_check_digits(iban: str) -> None:
    assert iban_is_valid(iban)


@pytest.mark.parametrize(
    "iban", ["DE89370400440532013001", "FR14", "", "1234567890123456", "DE89 3704 0044 0532 01$0 00"]
)
def test_ibans_with_wrong_check_digits_or_characters_are_refused(iban: str) -> None:
    assert not iban_is_valid(iban)


def test_every_problem_of_a_mandate_request_is_told_at_once() -> None:
    account = BankAccount(" ", "not-an-email", "DE89370400440532013001")
    acceptance = MandateAcceptance(AcceptanceChannel.ONLINE, datetime(2026, 11, 3, 9, 30))
    with pytest.raises(InvalidInput) as refused:
        check_mandate_request(account, acceptance)
    assert {problem.field for problem in refused.value} == {"holder_name", "email", "iban", "accepted_at", "acceptance"}


def test_an_instalment_outside_what_sepa_allows_is_refused_before_sending() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_instalment(Instalment("sub-1", "cus_1", "", "mandate_1", 0, currency="usd"))
    assert {problem.field for problem in refused.value} == {"currency", "amount_cents", "payment_method_id"}
    check_instalment(INSTALMENT)


def test_a_payer_needs_a_name_an_email_and_a_subscription() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_payer(Payer("", "", "x"))
    assert len(refused.value.problems) == 3


def test_the_iban_never_shows_in_a_log_line() -> None:
    assert "FR14" not in repr(ACCOUNT)
    assert "2004" not in repr(ACCOUNT)
