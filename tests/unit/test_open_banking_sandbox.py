"""The embedded sandbox bank: realistic French accounts deterministic from a seed, at least three months of
transactions with balances that add up, and the consent states a provider walks, revocation purging."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.open_banking.consent import ConsentRuleBroken
from souscription.integrations.open_banking.port import (
    AccessTerms,
    AccountInformationPort,
    ConsentStatus,
    ConsentUnusable,
    Scope,
)
from souscription.integrations.open_banking.sandbox import SandboxBank, french_iban, sandbox_accounts

TODAY = date(2026, 11, 2)
TERMS = AccessTerms(history_days=180, access_days=180)
BNP = "SANDBOX_BNPAFRPP"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def iban_is_valid(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def rib_key_is_valid(iban: str) -> bool:
    bank, branch, account, key = iban[4:9], iban[9:14], iban[14:25], iban[25:27]
    return (89 * int(bank) + 15 * int(branch) + 3 * int(account) + int(key)) % 97 == 0


def linked(bank: SandboxBank, key: str = "dossier-1:banque", terms: AccessTerms = TERMS) -> str:
    link = bank.start_consent(key=key, institution_id=BNP, terms=terms, redirect_url="https://assureur.test/retour")
    bank.open_link(link.consent_id)
    bank.complete_authentication(link.consent_id)
    return link.consent_id


def test_the_sandbox_bank_is_an_account_information_port() -> None:
    assert isinstance(SandboxBank(), AccountInformationPort)


def test_a_known_french_iban_is_rebuilt_with_its_rib_key() -> None:
    assert french_iban("30004", "00003", "12345678901") == "FR7630004000031234567890143"


def test_the_same_seed_gives_the_same_accounts_to_the_cent_and_another_seed_others() -> None:
    first, again = sandbox_accounts(seed=7, today=TODAY), sandbox_accounts(seed=7, today=TODAY)
    other = sandbox_accounts(seed=8, today=TODAY)
    assert first == again
    assert [a.iban for a in first] != [a.iban for a in other]
    assert first[0].transactions != other[0].transactions


def test_accounts_are_french_with_valid_ibans_and_rib_keys() -> None:
    for account in sandbox_accounts(seed="iban", today=TODAY, count=3, bank_code="30003"):
        assert account.iban.startswith("FR")
        assert len(account.iban) == 27
        assert account.iban[4:9] == "30003"
        assert iban_is_valid(account.iban)
        assert rib_key_is_valid(account.iban)
        assert account.currency == "EUR"


def test_the_current_account_has_over_three_months_of_realistic_french_transactions() -> None:
    current, savings = sandbox_accounts(seed=3, today=TODAY)
    booked = [row for row in current.transactions if row.booked]
    assert min(row.booking_date for row in booked if row.booking_date) <= TODAY - timedelta(days=90)
    labels = " ".join(row.label for row in booked)
    for word in ("SALAIRE", "LOYER", "PRLV SEPA EDF", "CB "):
        assert word in labels
    salaries = [row for row in booked if "SALAIRE" in row.label]
    assert len(salaries) >= 12
    assert all(row.amount_cents > 0 and row.counterparty for row in salaries)
    assert any(not row.booked for row in current.transactions)
    assert (current.product, savings.product) == ("Compte courant", "Livret A")
    assert len({row.transaction_id for row in current.transactions}) == len(current.transactions)


def test_balances_add_up_with_the_transactions() -> None:
    current, _savings = sandbox_accounts(seed=11, today=TODAY)
    closing, available = current.balances
    pending = sum(row.amount_cents for row in current.transactions if not row.booked)
    assert (closing.kind, available.kind) == ("closingBooked", "interimAvailable")
    assert available.amount_cents == closing.amount_cents + pending


def test_a_consent_walks_from_created_to_active_with_the_expiry_its_agreement_grants() -> None:
    clock = Clock()
    bank = SandboxBank(seed=1, now=clock)
    link = bank.start_consent(key="k", institution_id=BNP, terms=TERMS, redirect_url="https://assureur.test/retour")
    assert link.status is ConsentStatus.CREATED
    assert link.link.endswith(link.consent_id)
    bank.open_link(link.consent_id)
    assert bank.consent(link.consent_id).status is ConsentStatus.IN_PROGRESS
    bank.complete_authentication(link.consent_id)
    consent = bank.consent(link.consent_id)
    assert consent.status is ConsentStatus.ACTIVE
    assert len(consent.account_ids) == 2
    assert consent.expires_at == clock.now + timedelta(days=180)


def test_the_postal_bank_grants_90_days_of_access_so_the_expiry_is_sooner() -> None:
    clock = Clock()
    bank = SandboxBank(seed=1, now=clock)
    link = bank.start_consent(
        key="k", institution_id="SANDBOX_PSSTFRPP", terms=TERMS, redirect_url="https://assureur.test/retour"
    )
    assert link.terms.access_days == 90
    bank.complete_authentication(link.consent_id)
    assert bank.consent(link.consent_id).expires_at == clock.now + timedelta(days=90)


def test_the_same_key_opens_the_same_consent_and_another_bank_with_it_is_refused() -> None:
    bank = SandboxBank(seed=1)
    first = bank.start_consent(key="k", institution_id=BNP, terms=TERMS, redirect_url="https://a.test/")
    assert bank.start_consent(key="k", institution_id=BNP, terms=TERMS, redirect_url="https://a.test/") == first
    with pytest.raises(VendorRejected) as refused:
        bank.start_consent(key="k", institution_id="SANDBOX_SOGEFRPP", terms=TERMS, redirect_url="https://a.test/")
    assert refused.value.vendor_code == "reference_reused"


def test_a_bank_with_too_short_a_history_is_refused_before_anything_is_opened() -> None:
    bank = SandboxBank()
    with pytest.raises(ConsentRuleBroken):
        bank.start_consent(key="k", institution_id="SANDBOX_COURTFR1", terms=TERMS, redirect_url="https://a.test/")


def test_a_rejected_authentication_links_no_account() -> None:
    bank = SandboxBank()
    link = bank.start_consent(key="k", institution_id=BNP, terms=TERMS, redirect_url="https://a.test/")
    bank.open_link(link.consent_id)
    bank.reject_authentication(link.consent_id)
    consent = bank.consent(link.consent_id)
    assert (consent.status, consent.account_ids) == (ConsentStatus.REJECTED, ())
    with pytest.raises(ValueError, match="impossible"):
        bank.complete_authentication(link.consent_id)


def test_accounts_are_read_only_within_the_history_window_granted() -> None:
    clock = Clock()
    bank = SandboxBank(seed=2, now=clock)
    consent_id = linked(bank, terms=AccessTerms(history_days=90, access_days=180))
    account_id = bank.consent(consent_id).account_ids[0]
    rows = bank.transactions(account_id)
    oldest = min(row.booking_date for row in rows if row.booking_date)
    assert clock.now.date() - timedelta(days=90) <= oldest <= clock.now.date() - timedelta(days=85)
    recent = bank.transactions(account_id, since=clock.now.date() - timedelta(days=10))
    assert 0 < len(recent) < len(rows)
    assert bank.account(account_id).iban.startswith("FR76")
    assert bank.balances(account_id)[0].kind == "closingBooked"


def test_the_consent_expires_when_its_access_days_have_passed() -> None:
    clock = Clock()
    bank = SandboxBank(now=clock)
    consent_id = linked(bank)
    account_id = bank.consent(consent_id).account_ids[0]
    clock.now += timedelta(days=180)
    assert bank.consent(consent_id).status is ConsentStatus.EXPIRED
    with pytest.raises(ConsentUnusable) as refused:
        bank.balances(account_id)
    assert refused.value.consent_status is ConsentStatus.EXPIRED


def test_a_consent_withdrawn_at_the_bank_can_no_longer_be_read() -> None:
    bank = SandboxBank()
    consent_id = linked(bank)
    account_id = bank.consent(consent_id).account_ids[0]
    bank.withdraw_at_bank(consent_id)
    with pytest.raises(ConsentUnusable):
        bank.transactions(account_id)


def test_revocation_purges_the_accounts_and_is_harmless_twice() -> None:
    bank = SandboxBank()
    consent_id = linked(bank)
    accounts = bank.consent(consent_id).account_ids
    revocation = bank.revoke(key="k:revoke", consent_id=consent_id)
    assert revocation.account_ids == accounts
    assert bank.consent(consent_id).status is ConsentStatus.REVOKED
    with pytest.raises(ConsentUnusable) as refused:
        bank.account(accounts[0])
    assert refused.value.consent_status is ConsentStatus.REVOKED
    assert bank.revoke(key="k:revoke", consent_id=consent_id).account_ids == ()


def test_the_bank_allows_four_reads_of_an_endpoint_a_day_per_account() -> None:
    clock = Clock()
    bank = SandboxBank(now=clock)
    account_id = bank.consent(linked(bank)).account_ids[0]
    for _ in range(4):
        bank.balances(account_id)
        clock.now += timedelta(minutes=1)
    bank.transactions(account_id)
    with pytest.raises(VendorUnavailable) as limited:
        bank.balances(account_id)
    assert limited.value.kind == "rate_limited"
    assert limited.value.retry_after == pytest.approx(timedelta(days=1).total_seconds() - 4 * 60)
    clock.now += timedelta(days=1)
    bank.balances(account_id)


def test_a_scope_not_consented_is_not_read() -> None:
    bank = SandboxBank()
    consent_id = linked(bank, terms=AccessTerms(history_days=90, access_days=90, scopes=frozenset({Scope.BALANCES})))
    account_id = bank.consent(consent_id).account_ids[0]
    bank.balances(account_id)
    with pytest.raises(VendorRejected) as refused:
        bank.transactions(account_id)
    assert refused.value.vendor_code == "scope"
