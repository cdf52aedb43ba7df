"""Audit entries keep who, what and which record, never a personal value in clear, never a health value."""

from __future__ import annotations

import pytest

from souscription.audit.domain import UnstorableDetails, mask_email, mask_iban, masked_details


def test_an_email_keeps_its_first_letter_and_its_domain() -> None:
    assert mask_email("jeanne.dupont@exemple.fr") == "j***@exemple.fr"


def test_an_iban_keeps_its_country_check_digits_and_last_four() -> None:
    assert mask_iban("FR76 3000 6000 0112 3456 7890 189") == "FR76 **** 0189"


def test_emails_and_ibans_are_masked_wherever_they_appear_in_the_details() -> None:
    details = masked_details(
        {
            "note": "Contact jeanne.dupont@exemple.fr, compte FR7630006000011234567890189",
            "nested": {"emails": ["paul@exemple.fr"]},
            "iban": "fr76 3000 6000 0112 3456 7890 189",
            "last_name": "Dupont",
            "amount_cents": 1200,
        }
    )
    text = repr(details)
    for secret in ("jeanne.dupont", "paul@", "3456", "Dupont"):
        assert secret not in text
    assert details["note"] == "Contact j***@exemple.fr, compte FR76 **** 0189"
    assert details["nested"] == {"emails": ["p***@exemple.fr"]}
    assert details["iban"] == "FR76 **** 0189"
    assert details["last_name"] == "D***"
    assert details["amount_cents"] == 1200


def test_health_values_are_not_stored_at_all() -> None:
    details = masked_details({"health_answers": {"smoker": True}, "health.height_cm": 182, "declaration_id": "d-1"})
    assert details == {"declaration_id": "d-1"}


def test_a_login_that_is_not_an_email_is_still_masked() -> None:
    assert masked_details({"username": "jdupont"}) == {"username": "j***"}


def test_a_float_is_refused_because_it_may_not_read_back_with_the_same_digits() -> None:
    with pytest.raises(UnstorableDetails):
        masked_details({"rate": 0.2})
