"""The open-banking rules of PRODUCT.md: at least 90 days of history, the expiry the provider's agreement gives
(never a constant), at most 4 unattended refreshes per account in any 24 hours, and revocation purging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from souscription.integrations.open_banking.consent import (
    ConsentRuleBroken,
    RefreshBudget,
    check_link_request,
    check_terms,
    consent_expiry,
    fit_terms,
    is_expired,
    revocation_of,
)
from souscription.integrations.open_banking.port import AccessTerms, Consent, ConsentStatus, Institution

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BANK = Institution("B", "Banque Exemple", "EXMPFRPP", ("FR",), history_days=730, max_access_days=180)


def test_ninety_days_of_history_is_enough_and_eighty_nine_is_not() -> None:
    check_terms(AccessTerms(history_days=90, access_days=180))
    with pytest.raises(ConsentRuleBroken) as broken:
        check_terms(AccessTerms(history_days=89, access_days=180))
    assert [problem.code for problem in broken.value.problems] == ["history_too_short"]
    assert broken.value.problems[0].field == "terms.history_days"


def test_every_broken_term_is_reported_at_once() -> None:
    with pytest.raises(ConsentRuleBroken) as broken:
        check_terms(AccessTerms(history_days=30, access_days=0, scopes=frozenset()))
    assert {problem.code for problem in broken.value.problems} == {
        "history_too_short",
        "access_too_short",
        "scope_empty",
    }


def test_terms_are_fitted_to_what_the_bank_grants() -> None:
    fitted = fit_terms(AccessTerms(history_days=800, access_days=365), BANK)
    assert (fitted.history_days, fitted.access_days) == (730, 180)
    unknown_ceiling = Institution("C", "C", "", ("FR",), history_days=400, max_access_days=None)
    assert fit_terms(AccessTerms(history_days=90, access_days=365), unknown_ceiling).access_days == 365


def test_a_bank_giving_less_than_ninety_days_of_history_cannot_serve() -> None:
    short = Institution("S", "Néobanque", "", ("FR",), history_days=60, max_access_days=90)
    with pytest.raises(ConsentRuleBroken) as broken:
        fit_terms(AccessTerms(history_days=180, access_days=90), short)
    assert broken.value.problems[0].code == "bank_history_too_short"
    assert "60 jours" in broken.value.problems[0].message


def test_the_expiry_is_acceptance_plus_the_access_days_the_agreement_granted() -> None:
    assert consent_expiry(accepted_at=NOW, access_days=180) == NOW + timedelta(days=180)
    assert consent_expiry(accepted_at=NOW, access_days=90) == NOW + timedelta(days=90)
    assert consent_expiry(accepted_at=NOW, access_days=17) == NOW + timedelta(days=17)


def test_an_expiry_the_provider_states_wins_over_any_computation() -> None:
    stated = datetime(2027, 3, 1, tzinfo=UTC)
    assert consent_expiry(accepted_at=NOW, access_days=180, provider_expires_at=stated) == stated
    assert consent_expiry(accepted_at=None, access_days=None, provider_expires_at=stated) == stated


def test_no_expiry_before_the_customer_accepts() -> None:
    assert consent_expiry(accepted_at=None, access_days=180) is None
    assert not is_expired(None, NOW)


def test_a_consent_is_expired_from_its_expiry_on() -> None:
    expires = NOW + timedelta(days=90)
    assert not is_expired(expires, expires - timedelta(seconds=1))
    assert is_expired(expires, expires)


def test_four_unattended_refreshes_fit_in_24_hours_and_a_fifth_does_not() -> None:
    budget = RefreshBudget()
    past = [NOW - timedelta(hours=hours) for hours in (20, 15, 10)]
    fourth = budget.decide(past, now=NOW)
    assert (fourth.allowed, fourth.remaining, fourth.next_allowed_at) == (True, 0, None)
    fifth = budget.decide([*past, NOW - timedelta(minutes=1)], now=NOW)
    assert not fifth.allowed
    assert fifth.next_allowed_at == NOW - timedelta(hours=20) + timedelta(hours=24)


def test_the_window_slides_rather_than_resetting_at_midnight() -> None:
    budget = RefreshBudget()
    late_evening = [datetime(2026, 11, 1, 23, minute, tzinfo=UTC) for minute in (0, 10, 20, 30)]
    just_after_midnight = datetime(2026, 11, 2, 0, 5, tzinfo=UTC)
    assert not budget.decide(late_evening, now=just_after_midnight).allowed
    assert budget.decide(late_evening, now=datetime(2026, 11, 2, 23, 0, 1, tzinfo=UTC)).allowed


def test_refreshes_older_than_24_hours_do_not_count() -> None:
    old = [NOW - timedelta(hours=24), NOW - timedelta(hours=30), NOW - timedelta(days=3), NOW - timedelta(hours=25)]
    decision = RefreshBudget().decide(old, now=NOW)
    assert (decision.allowed, decision.remaining) == (True, 3)


def test_refreshes_dated_after_now_count_against_the_budget() -> None:
    ahead = [NOW + timedelta(minutes=minutes) for minutes in (1, 2, 3, 4)]
    assert not RefreshBudget().decide(ahead, now=NOW).allowed


def test_the_budget_takes_the_past_in_any_order() -> None:
    past = [NOW - timedelta(hours=hours) for hours in (1, 23, 5, 12)]
    assert RefreshBudget().decide(past, now=NOW).next_allowed_at == NOW + timedelta(hours=1)


def test_a_revocation_purges_every_account_of_the_consent() -> None:
    consent = Consent("c1", "k", "B", ConsentStatus.ACTIVE, "LN", account_ids=("a1", "a2"))
    revocation = revocation_of(consent, now=NOW)
    assert (revocation.consent_id, revocation.account_ids, revocation.revoked_at) == ("c1", ("a1", "a2"), NOW)


def test_the_customer_is_sent_back_to_a_full_https_address_in_a_two_letter_language() -> None:
    check_link_request(redirect_url="https://assureur.test/espace-client/banque/retour", language="fr")
    with pytest.raises(ConsentRuleBroken) as broken:
        check_link_request(redirect_url="/espace-client/retour", language="fra")
    assert [(problem.code, problem.field) for problem in broken.value.problems] == [
        ("invalid_redirect", "redirect_url"),
        ("invalid_language", "language"),
    ]
