"""The embedded sandbox bank: the account-information port in process, with realistic French accounts (valid IBANs
with their RIB key, a current account and a Livret A), balances that add up, and thirteen months of transactions
(salary, rent, utilities, card payments, withdrawals), all deterministic from a seed. It walks the consent states a
provider walks (created, in progress, active, rejected, expired, revoked), keeps the expiry its agreement grants,
limits account reads per day as banks do, and purges the accounts of a revoked consent.

The customer's side (opening the link, authenticating or refusing at the bank, withdrawing consent at the bank) is
played by `open_link`, `complete_authentication`, `reject_authentication` and `withdraw_at_bank`: the embedded
portal's pages and the tests call them.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.open_banking.consent import check_link_request, consent_expiry, fit_terms, is_expired
from souscription.integrations.open_banking.port import (
    AccessTerms,
    AccountDetails,
    AccountStatus,
    Balance,
    Consent,
    ConsentLink,
    ConsentStatus,
    ConsentUnusable,
    Institution,
    Revocation,
    Scope,
    Transaction,
)
from souscription.integrations.resilience import FailureKind

VENDOR = "sandbox_bank"
HISTORY_DAYS = 395
_NAMESPACE = uuid.UUID("6f1c2b0e-4d8a-4a57-9d0e-3b7e0c5a9f21")

# (id, name, BIC, bank code for the IBAN, days of history, longest access in days)
_BANKS = (
    ("SANDBOX_BNPAFRPP", "BNP Paribas (bac à sable)", "BNPAFRPP", "30004", 730, 180),
    ("SANDBOX_SOGEFRPP", "Société Générale (bac à sable)", "SOGEFRPP", "30003", 540, 180),
    ("SANDBOX_AGRIFRPP", "Crédit Agricole (bac à sable)", "AGRIFRPP", "18206", 395, 180),
    ("SANDBOX_PSSTFRPP", "La Banque Postale (bac à sable)", "PSSTFRPP", "20041", 365, 90),
    ("SANDBOX_COURTFR1", "Banque à historique court (bac à sable)", "COURTFR1", "99999", 60, 90),
)


# -- realistic accounts, deterministic ----------------------------------------------------------------------------


def french_iban(bank: str, branch: str, account: str) -> str:
    """A French IBAN: the RIB key (97 - (89 bank + 15 branch + 3 account) mod 97), then the IBAN check digits."""
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
    bban = f"{bank}{branch}{account}{key:02d}"
    check = 98 - int(bban + "152700") % 97  # "FR00" with F=15, R=27
    return f"FR{check:02d}{bban}"


@dataclass(frozen=True)
class SandboxAccount:
    account_id: str
    iban: str
    owner_name: str
    name: str
    product: str
    transactions: tuple[Transaction, ...]
    balances: tuple[Balance, ...]
    currency: str = "EUR"


_FIRST = ("Camille", "Léa", "Hugo", "Louis", "Manon", "Chloé", "Nathan", "Inès", "Jules", "Sarah", "Thomas", "Emma")
_LAST = ("Martin", "Bernard", "Dubois", "Lefebvre", "Moreau", "Laurent", "Garnier", "Roux", "Fontaine", "Chevalier")
_EMPLOYERS = ("ACME CONSEIL SAS", "BOULANGERIES REUNIES", "HOPITAL SAINT-LOUIS", "MAIRIE DE LYON", "LOGISTIQUE OUEST")
_LANDLORDS = ("FONCIA GESTION", "NEXITY LAMY", "SCI LES TILLEULS", "CITYA IMMOBILIER")
_SHOPS = ("CARREFOUR MARKET", "E.LECLERC", "MONOPRIX", "LIDL", "INTERMARCHE", "FRANPRIX", "PICARD")
_OUTINGS = ("BOULANGERIE PAUL", "PHARMACIE DU CENTRE", "SNCF CONNECT", "FNAC", "DECATHLON", "LE PETIT BISTROT")
_MONTHLY = (
    (10, "EDF CLIENTS PARTICULIERS", "PRLV SEPA EDF ELECTRICITE", 4500, 9500),
    (12, "ORANGE SA", "PRLV SEPA ORANGE INTERNET MOBILE", 3999, 5999),
    (15, "MAIF", "PRLV SEPA MAIF ASSURANCE HABITATION", 2100, 3400),
    (20, "NETFLIX.COM", "CB NETFLIX.COM", 1349, 1349),
    (1, "RATP NAVIGO", "PRLV SEPA NAVIGO MOIS", 8640, 8640),
)


def sandbox_accounts(*, seed: int | str, today: date, count: int = 2, bank_code: str = "30004") -> list[SandboxAccount]:
    """The customer's accounts at a sandbox bank: a current account, then Livrets A; the same seed and day
    always give the same accounts to the cent."""
    draw = random.Random(f"sandbox:{seed}")  # noqa: S311 - test data, not secrets
    owner = f"{draw.choice(_FIRST)} {draw.choice(_LAST)}"
    accounts = []
    for index in range(count):
        number = f"{draw.randrange(10**10, 10**11):011d}"
        iban = french_iban(bank_code, f"{draw.randrange(10**4, 10**5):05d}", number)
        account_id = str(uuid.uuid5(_NAMESPACE, f"{seed}:account:{index}"))
        if index == 0:
            rows, opening = _current_account(draw, today), draw.randrange(80_000, 400_000)
            name, product = "Compte de dépôt", "Compte courant"
        else:
            rows, opening = _savings_account(draw, today), draw.randrange(200_000, 1_500_000)
            name, product = "Livret A", "Livret A"
        accounts.append(SandboxAccount(account_id, iban, owner, name, product, rows, _balances(rows, opening, today)))
    return accounts


def _current_account(draw: random.Random, today: date) -> tuple[Transaction, ...]:
    employer, landlord = draw.choice(_EMPLOYERS), draw.choice(_LANDLORDS)
    salary, rent = draw.randrange(210_000, 380_000), draw.randrange(65_000, 130_000)
    rows: list[tuple[date, int, str, str]] = []
    for offset in range(HISTORY_DAYS, 2, -1):
        day = today - timedelta(days=offset)
        month = day.strftime("%m/%Y")
        if day.day == 28:
            rows.append((day, salary, f"VIR SEPA RECU /DE {employer} /MOTIF SALAIRE {month}", employer))
        if day.day == 5:
            rows.append((day, -rent, f"PRLV SEPA {landlord} LOYER {month}", landlord))
        for day_of_month, payee, label, low, high in _MONTHLY:
            if day.day == day_of_month:
                rows.append((day, -draw.randint(low, high), label, payee))
        if draw.random() < 0.35:
            shop = draw.choice(_SHOPS)
            rows.append((day, -draw.randrange(1_200, 14_000), f"CB {shop} {day:%d/%m}", shop))
        if draw.random() < 0.15:
            place = draw.choice(_OUTINGS)
            rows.append((day, -draw.randrange(350, 9_000), f"CB {place} {day:%d/%m}", place))
        if draw.random() < 0.04:
            rows.append((day, -draw.choice((2_000, 4_000, 6_000)), f"RETRAIT DAB {day:%d/%m}", ""))
        if day.day == 2:
            rows.append((day, -draw.randrange(5_000, 20_000), "VIR PERMANENT VERS LIVRET A", "LIVRET A"))
    return _numbered("cc", rows, draw, today)


def _savings_account(draw: random.Random, today: date) -> tuple[Transaction, ...]:
    rows: list[tuple[date, int, str, str]] = []
    for offset in range(HISTORY_DAYS, 2, -1):
        day = today - timedelta(days=offset)
        if day.day == 2:
            rows.append((day, draw.randrange(5_000, 20_000), "VIR PERMANENT DEPUIS COMPTE DE DEPOT", "COMPTE DE DEPOT"))
        if day.month == 12 and day.day == 31:
            rows.append((day, draw.randrange(3_000, 30_000), "INTERETS LIVRET A", ""))
    return _numbered("la", rows, draw, today)


def _numbered(
    prefix: str, rows: list[tuple[date, int, str, str]], draw: random.Random, today: date
) -> tuple[Transaction, ...]:
    booked = [
        Transaction(f"{prefix}-{number:05d}", True, day, cents, "EUR", label, counterparty)
        for number, (day, cents, label, counterparty) in enumerate(rows, start=1)
    ]
    if prefix != "cc":
        return tuple(booked)
    shop = draw.choice(_SHOPS)
    pending = Transaction(
        f"{prefix}-pending-1", False, today - timedelta(days=1), -draw.randrange(900, 6_000), "EUR", f"CB {shop}", shop
    )
    return (*booked, pending)


def _balances(rows: tuple[Transaction, ...], opening: int, today: date) -> tuple[Balance, ...]:
    booked = opening + sum(row.amount_cents for row in rows if row.booked)
    pending = sum(row.amount_cents for row in rows if not row.booked)
    return (
        Balance("closingBooked", booked, "EUR", today - timedelta(days=1)),
        Balance("interimAvailable", booked + pending, "EUR", today),
    )


# -- the bank, walking the consent states -------------------------------------------------------------------------


@dataclass
class _Consent:
    link: ConsentLink
    status: ConsentStatus
    accepted_at: datetime | None = None
    account_ids: tuple[str, ...] = ()
    reads: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SandboxBank:
    """`AccountInformationPort` in process. `daily_limit` is the bank's: successful reads of one account's
    details, balances or transactions in any 24 hours (None: unlimited)."""

    def __init__(
        self,
        *,
        seed: int | str = 2026,
        now: Callable[[], datetime] = _utcnow,
        link_base: str = "/espace-client/banque-bac-a-sable/",
        daily_limit: int | None = 4,
    ) -> None:
        self.seed, self._now, self._link_base, self._daily_limit = seed, now, link_base, daily_limit
        self._lock = threading.RLock()
        self._consents: dict[str, _Consent] = {}
        self._accounts: dict[str, tuple[str, SandboxAccount]] = {}

    def institutions(self, *, country: str) -> list[Institution]:
        if country.upper() != "FR":
            return []
        return [Institution(i, name, bic, ("FR",), days, access) for i, name, bic, _code, days, access in _BANKS]

    def start_consent(
        self, *, key: str, institution_id: str, terms: AccessTerms, redirect_url: str, language: str = "fr"
    ) -> ConsentLink:
        check_link_request(redirect_url=redirect_url, language=language)
        institution = next(
            (bank for bank in self.institutions(country="FR") if bank.institution_id == institution_id), None
        )
        if institution is None:
            raise VendorRejected(
                VENDOR, "start_consent", FailureKind.REJECTED, "banque inconnue", vendor_code="unknown_institution"
            )
        fitted = fit_terms(terms, institution)
        consent_id = str(uuid.uuid5(_NAMESPACE, f"{self.seed}:consent:{key}"))
        with self._lock:
            known = self._consents.get(consent_id)
            if known is not None:
                if known.link.institution_id != institution_id:
                    raise VendorRejected(
                        VENDOR,
                        "start_consent",
                        FailureKind.REJECTED,
                        "clé déjà utilisée",
                        vendor_code="reference_reused",
                    )
                return replace(known.link, status=known.status)
            link = ConsentLink(
                consent_id, key, f"{self._link_base}{consent_id}", ConsentStatus.CREATED, institution_id, fitted
            )
            self._consents[consent_id] = _Consent(link, ConsentStatus.CREATED)
            return link

    def consent(self, consent_id: str) -> Consent:
        with self._lock:
            state = self._consents.get(consent_id)
            if state is None:
                return Consent(consent_id, "", "", ConsentStatus.REVOKED, vendor_status="revoked")
            self._expire_if_due(state)
            terms = state.link.terms
            return Consent(
                consent_id=consent_id,
                reference=state.link.reference,
                institution_id=state.link.institution_id,
                status=state.status,
                vendor_status=state.status.value,
                account_ids=state.account_ids,
                terms=terms,
                accepted_at=state.accepted_at,
                expires_at=consent_expiry(accepted_at=state.accepted_at, access_days=terms.access_days),
            )

    def account(self, account_id: str) -> AccountDetails:
        account, _consent = self._read(account_id, Scope.DETAILS, "account_details")
        return AccountDetails(
            account_id,
            account.iban,
            account.currency,
            account.owner_name,
            account.name,
            account.product,
            AccountStatus.READY,
        )

    def balances(self, account_id: str) -> list[Balance]:
        return list(self._read(account_id, Scope.BALANCES, "account_balances")[0].balances)

    def transactions(self, account_id: str, *, since: date | None = None) -> list[Transaction]:
        account, consent = self._read(account_id, Scope.TRANSACTIONS, "account_transactions")
        if consent.accepted_at is None:  # an active consent was accepted: `_read` refuses any other
            raise ConsentUnusable(
                VENDOR, "account_transactions", consent.status, status=None, vendor_code="not_accepted"
            )
        start = consent.accepted_at.date() - timedelta(days=consent.link.terms.history_days)
        if since is not None:
            start = max(start, since)
        return [row for row in account.transactions if row.booking_date is None or row.booking_date >= start]

    def revoke(self, *, key: str, consent_id: str) -> Revocation:
        """Deletes the consent and purges its accounts: nothing of them can be read again."""
        with self._lock:
            state = self._consents.pop(consent_id, None)
            accounts = state.account_ids if state else ()
            for account_id in accounts:
                self._accounts.pop(account_id, None)
            return Revocation(consent_id, accounts, self._now())

    # -- the customer's side --------------------------------------------------------------------------------------

    def open_link(self, consent_id: str) -> None:
        self._move(consent_id, {ConsentStatus.CREATED}, ConsentStatus.IN_PROGRESS)

    def complete_authentication(self, consent_id: str, *, accounts: int = 2) -> None:
        """Strong authentication passed and accounts chosen: the agreement is accepted now."""
        with self._lock:
            self._move(consent_id, ConsentStatus.waiting_for_customer(), ConsentStatus.ACTIVE)
            state = self._consents[consent_id]
            state.accepted_at = self._now()
            code = next(bank[3] for bank in _BANKS if bank[0] == state.link.institution_id)
            generated = sandbox_accounts(
                seed=f"{self.seed}:{consent_id}", today=state.accepted_at.date(), count=accounts, bank_code=code
            )
            state.account_ids = tuple(account.account_id for account in generated)
            for account in generated:
                self._accounts[account.account_id] = (consent_id, account)

    def reject_authentication(self, consent_id: str) -> None:
        self._move(consent_id, ConsentStatus.waiting_for_customer(), ConsentStatus.REJECTED)

    def withdraw_at_bank(self, consent_id: str) -> None:
        self._move(consent_id, {ConsentStatus.ACTIVE}, ConsentStatus.EXPIRED)

    # -- inside ---------------------------------------------------------------------------------------------------

    def _move(
        self, consent_id: str, sources: set[ConsentStatus] | frozenset[ConsentStatus], target: ConsentStatus
    ) -> None:
        with self._lock:
            state = self._consents[consent_id]
            if state.status not in sources:
                raise ValueError(f"consentement {state.status.value} : passage à {target.value} impossible")
            state.status = target

    def _expire_if_due(self, state: _Consent) -> None:
        expires = consent_expiry(accepted_at=state.accepted_at, access_days=state.link.terms.access_days)
        if state.status is ConsentStatus.ACTIVE and is_expired(expires, self._now()):
            state.status = ConsentStatus.EXPIRED

    def _read(self, account_id: str, scope: Scope, operation: str) -> tuple[SandboxAccount, _Consent]:
        with self._lock:
            owner = self._accounts.get(account_id)
            if owner is None:
                raise ConsentUnusable(VENDOR, operation, ConsentStatus.REVOKED, status=None, vendor_code="revoked")
            state = self._consents[owner[0]]
            self._expire_if_due(state)
            if state.status is not ConsentStatus.ACTIVE:
                raise ConsentUnusable(VENDOR, operation, state.status, status=None, vendor_code=state.status.value)
            if scope not in state.link.terms.scopes:
                raise VendorRejected(
                    VENDOR, operation, FailureKind.REJECTED, "hors du consentement", vendor_code="scope"
                )
            self._count_read(state, account_id, scope, operation)
            return owner[1], state

    def _count_read(self, state: _Consent, account_id: str, scope: Scope, operation: str) -> None:
        now = self._now()
        reads = [moment for moment in state.reads.get((account_id, scope), []) if moment > now - timedelta(days=1)]
        if self._daily_limit is not None and len(reads) >= self._daily_limit:
            wait = (reads[0] + timedelta(days=1) - now).total_seconds()
            raise VendorUnavailable(
                VENDOR,
                operation,
                FailureKind.RATE_LIMITED,
                "limite quotidienne de la banque atteinte",
                retry_after=wait,
            )
        state.reads[(account_id, scope)] = [*reads, now]
