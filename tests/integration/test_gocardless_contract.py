"""The GoCardless Bank Account Data adapter against its fake, and the same consent scenarios against the embedded
sandbox bank (one suite, every implementation of the port): institutions, consent with its bank link, the consent
states (linked, rejected, expired, withdrawn at the bank, suspended), account reads in cents, revocation; tokens
obtained and renewed by the adapter; the per-account rate limit parking the work; refusals with GoCardless's code;
idempotency by reference; and every operation landing once through 30% faults."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from souscription.configuration import VendorAccess
from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.metrics import Metrics
from souscription.integrations.open_banking.consent import ConsentRuleBroken
from souscription.integrations.open_banking.gocardless import GoCardlessBankData
from souscription.integrations.open_banking.port import (
    AccessTerms,
    AccountInformationPort,
    ConsentStatus,
    ConsentUnusable,
    Scope,
)
from souscription.integrations.open_banking.sandbox import SandboxBank
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy
from tests.fakes.base import FaultPlan
from tests.fakes.gocardless import FakeGoCardless

pytestmark = pytest.mark.integration

TERMS = AccessTerms(history_days=180, access_days=180)
RETURN = "https://assureur.test/espace-client/banque/retour"
BNP_GOCARDLESS = "BNP_PARIBAS_BNPAFRPP"


def adapter(fake: FakeGoCardless, **overrides: Any) -> GoCardlessBankData:
    access = VendorAccess(vendor="gocardless", url=fake.api, token=fake.secret_key, account=fake.secret_id)
    options: dict[str, Any] = {
        "timeout": 0.5,
        "policy": RetryPolicy(attempts=10, base_seconds=0.001, cap_seconds=0.01),
        "breaker": CircuitBreaker(failure_threshold=1000),
        "metrics": Metrics(),
        "now": lambda: fake.now,
    }
    options.update(overrides)
    return GoCardlessBankData(access, **options)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGoCardless]:
    with FakeGoCardless() as running:
        yield running


@pytest.fixture
def fake(server: FakeGoCardless) -> FakeGoCardless:
    server.reset()
    return server


@pytest.fixture
def bank(fake: FakeGoCardless) -> Iterator[GoCardlessBankData]:
    port = adapter(fake)
    yield port
    port.close()


# -- one suite for every implementation of the port ----------------------------------------------------------------


@dataclass
class World:
    """A port and the customer's side of it: what the bank's pages (or the fake) let the customer do."""

    port: AccountInformationPort
    institution_id: str
    authenticate: Callable[[str], None]
    reject: Callable[[str], None]
    withdraw_at_bank: Callable[[str], None]
    advance_days: Callable[[int], None]
    now: Callable[[], datetime]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def advance(self, days: int) -> None:
        self.now += timedelta(days=days)


def _sandbox_world() -> World:
    clock = Clock()
    sandbox = SandboxBank(seed="contract", now=lambda: clock.now)

    def authenticate(consent_id: str) -> None:
        sandbox.open_link(consent_id)
        sandbox.complete_authentication(consent_id)

    def reject(consent_id: str) -> None:
        sandbox.open_link(consent_id)
        sandbox.reject_authentication(consent_id)

    return World(
        sandbox, "SANDBOX_BNPAFRPP", authenticate, reject, sandbox.withdraw_at_bank, clock.advance, lambda: clock.now
    )


@pytest.fixture(params=["sandbox", "gocardless"])
def world(request: pytest.FixtureRequest, server: FakeGoCardless) -> Iterator[World]:
    if request.param == "sandbox":
        yield _sandbox_world()
        return
    server.reset()
    port = adapter(server)

    def authenticate(consent_id: str) -> None:
        server.authenticate(consent_id)

    yield World(
        port,
        BNP_GOCARDLESS,
        authenticate,
        server.reject,
        server.withdraw_at_bank,
        lambda days: server.advance(days=days),
        lambda: server.now,
    )
    port.close()


def test_a_customer_links_a_bank_and_the_accounts_are_read_normalised(world: World) -> None:
    banks = world.port.institutions(country="fr")
    assert world.institution_id in {bank.institution_id for bank in banks}
    link = world.port.start_consent(
        key="dossier-1:banque", institution_id=world.institution_id, terms=TERMS, redirect_url=RETURN
    )
    assert link.status is ConsentStatus.CREATED
    assert link.link.startswith(("https://", "/"))
    world.authenticate(link.consent_id)
    consent = world.port.consent(link.consent_id)
    assert consent.status is ConsentStatus.ACTIVE
    assert len(consent.account_ids) == 2
    assert consent.accepted_at == world.now()
    assert consent.expires_at == world.now() + timedelta(days=180)
    current = consent.account_ids[0]
    details = world.port.account(current)
    assert details.iban.startswith("FR")
    assert details.currency == "EUR"
    assert world.port.balances(current)[0].kind == "closingBooked"
    rows = world.port.transactions(current)
    booked = [row for row in rows if row.booked]
    assert min(row.booking_date for row in booked if row.booking_date) <= world.now().date() - timedelta(days=90)
    assert any(row.amount_cents < 0 and row.counterparty for row in booked)
    assert any(row.amount_cents > 0 and "SALAIRE" in row.label for row in booked)


def test_revocation_deletes_the_consent_and_nothing_more_is_read(world: World) -> None:
    link = world.port.start_consent(
        key="d:banque", institution_id=world.institution_id, terms=TERMS, redirect_url=RETURN
    )
    world.authenticate(link.consent_id)
    accounts = world.port.consent(link.consent_id).account_ids
    revocation = world.port.revoke(key="d:revoke", consent_id=link.consent_id)
    assert revocation.account_ids == accounts
    assert world.port.consent(link.consent_id).status is ConsentStatus.REVOKED
    with pytest.raises(ConsentUnusable):
        world.port.balances(accounts[0])
    world.port.revoke(key="d:revoke", consent_id=link.consent_id)


def test_a_rejected_authentication_links_nothing(world: World) -> None:
    link = world.port.start_consent(
        key="d:banque", institution_id=world.institution_id, terms=TERMS, redirect_url=RETURN
    )
    world.reject(link.consent_id)
    consent = world.port.consent(link.consent_id)
    assert (consent.status, consent.account_ids, consent.expires_at) == (ConsentStatus.REJECTED, (), None)


def test_the_consent_expires_with_its_agreement_and_the_accounts_are_refused(world: World) -> None:
    link = world.port.start_consent(
        key="d:banque", institution_id=world.institution_id, terms=TERMS, redirect_url=RETURN
    )
    world.authenticate(link.consent_id)
    account = world.port.consent(link.consent_id).account_ids[0]
    world.advance_days(179)
    assert world.port.consent(link.consent_id).status is ConsentStatus.ACTIVE
    world.advance_days(1)
    assert world.port.consent(link.consent_id).status is ConsentStatus.EXPIRED
    with pytest.raises(ConsentUnusable) as refused:
        world.port.transactions(account)
    assert refused.value.consent_status is ConsentStatus.EXPIRED


def test_a_consent_withdrawn_at_the_bank_stops_the_reads(world: World) -> None:
    link = world.port.start_consent(
        key="d:banque", institution_id=world.institution_id, terms=TERMS, redirect_url=RETURN
    )
    world.authenticate(link.consent_id)
    account = world.port.consent(link.consent_id).account_ids[0]
    world.withdraw_at_bank(link.consent_id)
    with pytest.raises(ConsentUnusable):
        world.port.account(account)


def test_the_same_key_returns_the_same_consent(world: World) -> None:
    first = world.port.start_consent(
        key="d:banque", institution_id=world.institution_id, terms=TERMS, redirect_url=RETURN
    )
    again = world.port.start_consent(
        key="d:banque", institution_id=world.institution_id, terms=TERMS, redirect_url=RETURN
    )
    assert (again.consent_id, again.link) == (first.consent_id, first.link)


def test_a_bank_with_less_than_90_days_of_history_is_refused_before_anything_is_created(world: World) -> None:
    short = next(bank for bank in world.port.institutions(country="FR") if bank.history_days < 90)
    with pytest.raises(ConsentRuleBroken):
        world.port.start_consent(key="d:banque", institution_id=short.institution_id, terms=TERMS, redirect_url=RETURN)


# -- GoCardless's shapes and states ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        ("CR", ConsentStatus.CREATED),
        ("GC", ConsentStatus.IN_PROGRESS),
        ("UA", ConsentStatus.IN_PROGRESS),
        ("SA", ConsentStatus.IN_PROGRESS),
        ("GA", ConsentStatus.IN_PROGRESS),
        ("ID", ConsentStatus.IN_PROGRESS),
        ("LN", ConsentStatus.ACTIVE),
        ("RJ", ConsentStatus.REJECTED),
        ("EX", ConsentStatus.EXPIRED),
        ("SU", ConsentStatus.SUSPENDED),
        ("ER", ConsentStatus.FAILED),
    ],
)
def test_each_requisition_status_read_back_is_mapped(
    fake: FakeGoCardless, bank: GoCardlessBankData, vendor: str, ours: ConsentStatus
) -> None:
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    fake.set_status(link.consent_id, vendor)
    consent = bank.consent(link.consent_id)
    assert (consent.status, consent.vendor_status) == (ours, vendor)


def test_an_unknown_requisition_status_is_refused(fake: FakeGoCardless, bank: GoCardlessBankData) -> None:
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    fake.set_status(link.consent_id, "ZZ")
    with pytest.raises(VendorRejected) as refused:
        bank.consent(link.consent_id)
    assert refused.value.vendor_code == "unknown_state:ZZ"


def test_the_agreement_sent_is_fitted_to_the_bank_and_the_requisition_carries_our_reference(
    fake: FakeGoCardless, bank: GoCardlessBankData
) -> None:
    link = bank.start_consent(
        key="dossier-9:banque",
        institution_id="BANQUE_POSTALE_PSSTFRPP",
        terms=AccessTerms(history_days=400, access_days=180),
        redirect_url=RETURN,
    )
    requisition = fake.requisitions[link.consent_id]
    agreement = fake.agreements[requisition["agreement"]]
    assert (agreement["max_historical_days"], agreement["access_valid_for_days"]) == (365, 90)
    assert agreement["access_scope"] == ["balances", "details", "transactions"]
    assert (requisition["reference"], requisition["user_language"], requisition["redirect"]) == (
        "dossier-9:banque",
        "FR",
        RETURN,
    )
    fake.authenticate(link.consent_id)
    assert bank.consent(link.consent_id).expires_at == fake.now + timedelta(days=90)
    assert fake.history[link.consent_id] == ["CR", "GC", "UA", "SA", "GA", "LN"]


def test_a_replayed_consent_creates_nothing_new_and_leaves_no_spare_agreement(
    fake: FakeGoCardless, bank: GoCardlessBankData
) -> None:
    first = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    fake.authenticate(first.consent_id)
    replay = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    assert replay.consent_id == first.consent_id
    assert replay.status is ConsentStatus.ACTIVE
    assert fake.effects[("requisition.create", "d:banque")] == 1
    assert len(fake.requisitions) == 1
    assert fake.orphan_agreements() == []
    assert fake.duplicates() == {}


def test_a_lost_requisition_answer_is_recovered_by_its_reference(
    fake: FakeGoCardless, bank: GoCardlessBankData
) -> None:
    fake.lose_answers("POST", "/api/v2/requisitions/")
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    assert link.consent_id == fake.requisition_of("d:banque")["id"]
    assert fake.effects[("requisition.create", "d:banque")] == 1
    assert [call[:2] for call in fake.calls].count(("POST", "/api/v2/requisitions/")) == 2
    assert fake.orphan_agreements() == []


def test_a_lost_agreement_answer_leaves_one_unused_agreement_and_nothing_else(
    fake: FakeGoCardless, bank: GoCardlessBankData
) -> None:
    fake.lose_answers("POST", "/api/v2/agreements/enduser/")
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    fake.authenticate(link.consent_id)
    (orphan,) = fake.orphan_agreements()
    assert orphan["accepted"] is None
    assert orphan["id"] != fake.requisitions[link.consent_id]["agreement"]
    assert fake.duplicates() == {}


def test_a_lost_deletion_answer_is_retried_and_deletes_once(fake: FakeGoCardless, bank: GoCardlessBankData) -> None:
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    fake.lose_answers("DELETE", f"/api/v2/requisitions/{link.consent_id}/")
    bank.revoke(key="d:revoke", consent_id=link.consent_id)
    assert fake.requisitions == {}
    assert fake.effects[("requisition.delete", "d:banque")] == 1


def test_the_reference_is_found_across_pages_of_requisitions(fake: FakeGoCardless) -> None:
    port = adapter(fake, page_size=2)
    links = [
        port.start_consent(key=f"d{n}:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
        for n in range(5)
    ]
    assert port.start_consent(
        key="d4:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN
    ).consent_id == (links[4].consent_id)
    assert sum(1 for call in fake.calls if call[:2] == ("GET", "/api/v2/requisitions/")) == 3


def test_a_key_reused_for_another_bank_is_refused(bank: GoCardlessBankData) -> None:
    bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    with pytest.raises(VendorRejected) as refused:
        bank.start_consent(key="d:banque", institution_id="SOCIETE_GENERALE_SOGEFRPP", terms=TERMS, redirect_url=RETURN)
    assert refused.value.vendor_code == "reference_reused"


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda port: port.institutions(country="xx"), 400, "Invalid country choice."),
        (lambda port: port.institution("NO_SUCH_BANK"), 404, "Not found."),
        (
            lambda port: port.consent("no-such-requisition") and port.account("no-such-account"),
            404,
            "Account ID no-such-account not found",
        ),
        (
            lambda port: port.start_consent(
                key="k", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN, language="xx"
            ),
            400,
            "field:user_language",
        ),
    ],
)
def test_a_refusal_carries_gocardless_code_and_leaves_nothing_behind(
    fake: FakeGoCardless, bank: GoCardlessBankData, call: Callable[[GoCardlessBankData], object], status: int, code: str
) -> None:
    with pytest.raises(VendorRejected) as refused:
        call(bank)
    assert (refused.value.status, refused.value.vendor_code) == (status, code)
    assert fake.orphan_agreements() == []


def test_a_refusal_is_sent_once(fake: FakeGoCardless, bank: GoCardlessBankData) -> None:
    with pytest.raises(VendorRejected):
        bank.institutions(country="xx")
    assert [call[:2] for call in fake.calls] == [("POST", "/api/v2/token/new/"), ("GET", "/api/v2/institutions/")]


def test_a_redirect_or_language_we_cannot_use_is_refused_before_anything_is_created(
    fake: FakeGoCardless, bank: GoCardlessBankData
) -> None:
    with pytest.raises(ConsentRuleBroken) as broken:
        bank.start_consent(
            key="k", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url="pas-une-url", language="français"
        )
    assert {problem.code for problem in broken.value.problems} == {"invalid_redirect", "invalid_language"}
    assert fake.agreements == {}
    assert fake.requisitions == {}


def test_a_suspended_requisition_makes_its_accounts_unusable(fake: FakeGoCardless, bank: GoCardlessBankData) -> None:
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    account = fake.authenticate(link.consent_id)[0]
    fake.suspend(link.consent_id)
    with pytest.raises(ConsentUnusable) as refused:
        bank.balances(account)
    assert (refused.value.consent_status, refused.value.status) == (ConsentStatus.SUSPENDED, 409)


def test_reading_outside_the_consented_scope_is_refused(fake: FakeGoCardless, bank: GoCardlessBankData) -> None:
    terms = AccessTerms(history_days=90, access_days=90, scopes=frozenset({Scope.BALANCES}))
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=terms, redirect_url=RETURN)
    account = fake.authenticate(link.consent_id)[0]
    bank.balances(account)
    with pytest.raises(VendorRejected) as refused:
        bank.transactions(account)
    assert (refused.value.status, refused.value.vendor_code) == (403, "End User Agreement (EUA) access scope error")


def test_transactions_since_a_date_are_asked_with_date_from(fake: FakeGoCardless, bank: GoCardlessBankData) -> None:
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    account = fake.authenticate(link.consent_id)[0]
    since = fake.now.date() - timedelta(days=30)
    rows = bank.transactions(account, since=since)
    assert rows
    assert all(row.booking_date and row.booking_date >= since for row in rows)


# -- tokens ----------------------------------------------------------------------------------------------------------


def test_one_token_serves_many_calls_and_is_refreshed_before_it_ends(server: FakeGoCardless) -> None:
    server.reset(access_seconds=600, refresh_seconds=3_600)
    port = adapter(server)
    for _ in range(3):
        port.institutions(country="fr")
    assert (server.tokens_issued, server.tokens_refreshed) == (1, 0)
    server.advance(seconds=550)
    port.institutions(country="fr")
    assert (server.tokens_issued, server.tokens_refreshed) == (1, 1)
    server.advance(seconds=3_600)
    port.institutions(country="fr")
    assert (server.tokens_issued, server.tokens_refreshed) == (2, 1)


def test_a_token_gocardless_revoked_is_replaced_without_the_caller_noticing(
    fake: FakeGoCardless, bank: GoCardlessBankData
) -> None:
    bank.institutions(country="fr")
    fake.revoke_tokens()
    assert bank.institutions(country="fr")
    assert fake.tokens_refreshed == 1


def test_wrong_secrets_are_a_refusal(fake: FakeGoCardless) -> None:
    access = VendorAccess(vendor="gocardless", url=fake.api, token="wrong", account=fake.secret_id)
    port = GoCardlessBankData(access, metrics=Metrics(), breaker=CircuitBreaker())
    with pytest.raises(VendorRejected) as refused:
        port.institutions(country="fr")
    assert (refused.value.status, refused.value.vendor_code) == (401, "Authentication failed")


# -- the bank's rate limit -------------------------------------------------------------------------------------------


def test_the_fifth_read_of_an_account_in_a_day_parks_until_the_window_resets(
    fake: FakeGoCardless, bank: GoCardlessBankData
) -> None:
    link = bank.start_consent(key="d:banque", institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
    account = fake.authenticate(link.consent_id)[0]
    for _ in range(4):
        bank.balances(account)
        fake.advance(seconds=60)
    bank.transactions(account)
    calls_before = len(fake.calls)
    with pytest.raises(VendorUnavailable) as limited:
        bank.balances(account)
    assert limited.value.kind == "rate_limited"
    assert limited.value.retry_after == 86_400 - 4 * 60
    assert len(fake.calls) == calls_before + 1
    fake.advance(days=1)
    assert bank.balances(account)


# -- faults ----------------------------------------------------------------------------------------------------------


def test_every_operation_lands_once_through_thirty_percent_faults(fake: FakeGoCardless) -> None:
    fake.reset(faults=FaultPlan(rate=0.3, seed=5, timeout_seconds=0.6))
    port = adapter(fake)
    for number in range(6):
        key = f"dossier-{number}:banque"
        link = port.start_consent(key=key, institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN)
        assert port.start_consent(
            key=key, institution_id=BNP_GOCARDLESS, terms=TERMS, redirect_url=RETURN
        ).consent_id == (link.consent_id)
        fake.authenticate(link.consent_id)
        consent = port.consent(link.consent_id)
        assert consent.status is ConsentStatus.ACTIVE
        assert port.transactions(consent.account_ids[0])
        assert port.revoke(key=f"dossier-{number}:revoke", consent_id=link.consent_id).account_ids
    port.close()
    assert sum(fake.faults_injected.values()) > 5
    assert fake.duplicates() == {}
    assert fake.requisitions == {}
    for number in range(6):
        assert fake.effects[("requisition.create", f"dossier-{number}:banque")] == 1
        assert fake.effects[("requisition.delete", f"dossier-{number}:banque")] == 1
    # An agreement whose answer was lost stays behind, unused and never accepted: the one effect GoCardless gives
    # no way to deduplicate. There can be no more of them than faults that may lose an answer (a slow one too, on
    # a loaded machine).
    orphans = fake.orphan_agreements()
    assert all(agreement["accepted"] is None for agreement in orphans)
    assert len(orphans) <= sum(fake.faults_injected[kind] for kind in ("timeout", "reset", "slow"))


# -- against the real service, on demand ---------------------------------------------------------------------------

LIVE = os.environ.get("SOUSCRIPTION_TEST_GOCARDLESS_LIVE") == "1"


@pytest.mark.skipif(not LIVE, reason="SOUSCRIPTION_TEST_GOCARDLESS_LIVE=1 and a user secret run it against GoCardless")
def test_against_gocardless_with_its_sandbox_institution() -> None:
    """GoCardless's own mock bank (`SANDBOXFINANCE_SFIN0000`): consent opened, replayed, read back, revoked. The
    customer's authentication needs a browser: follow the printed link by hand to go further."""
    access = VendorAccess(
        vendor="gocardless",
        url=os.environ.get("SOUSCRIPTION_GOCARDLESS_URL", "https://bankaccountdata.gocardless.com/api/v2"),
        token=os.environ["SOUSCRIPTION_GOCARDLESS_TOKEN"],
        account=os.environ["SOUSCRIPTION_GOCARDLESS_ACCOUNT"],
    )
    port = GoCardlessBankData(access, metrics=Metrics())
    assert port.institutions(country="fr")
    key = f"contract-test:{uuid.uuid4()}"
    terms = AccessTerms(history_days=90, access_days=90)
    link = port.start_consent(key=key, institution_id="SANDBOXFINANCE_SFIN0000", terms=terms, redirect_url=RETURN)
    print("lien de la banque :", link.link)
    again = port.start_consent(key=key, institution_id="SANDBOXFINANCE_SFIN0000", terms=terms, redirect_url=RETURN)
    assert again.consent_id == link.consent_id
    assert port.consent(link.consent_id).status is ConsentStatus.CREATED
    port.revoke(key=f"{key}:revoke", consent_id=link.consent_id)
    assert port.consent(link.consent_id).status is ConsentStatus.REVOKED
