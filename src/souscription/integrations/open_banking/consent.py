"""The open-banking rules of PRODUCT.md, pure: the terms asked, the consent's expiry, the unattended-refresh budget,
and what a revocation purges. The caller gives `now`; nothing here reads a clock.

- History window: at least 90 days ("at least 3 months of history"); a bank that gives less cannot serve.
- Expiry: the one the provider's agreement gives (its own expiry when it states one, else acceptance time plus
  the access duration it granted), never a constant: since Delegated Regulation (EU) 2022/2360, strong
  authentication is renewed every 180 days and banks differ in what they grant.
- At most 4 unattended refreshes per account in any 24 hours (a sliding window, not a calendar day), the ceiling
  PSD2 sets on reads without the customer present (RTS, Delegated Regulation (EU) 2018/389, article 36(5)).
- Revocation is one click and purges what was fetched from every account of the consent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from souscription.integrations.open_banking.port import AccessTerms, Consent, Institution, Revocation
from souscription.kernel.errors import InvalidInput, Problem

MIN_HISTORY_DAYS = 90
UNATTENDED_REFRESHES = 4
REFRESH_WINDOW = timedelta(hours=24)


class ConsentRuleBroken(InvalidInput):
    code = "open_banking_terms_invalid"
    message = "Les conditions d'accès aux comptes demandées ne respectent pas nos règles."


def check_terms(terms: AccessTerms) -> None:
    """Every problem at once, before anything is sent to the provider."""
    problems = []
    if terms.history_days < MIN_HISTORY_DAYS:
        problems.append(
            Problem(
                "history_too_short",
                f"Il faut au moins {MIN_HISTORY_DAYS} jours d'historique des opérations "
                f"({terms.history_days} demandés).",
                "terms.history_days",
            )
        )
    if terms.access_days < 1:
        problems.append(
            Problem("access_too_short", "La durée d'accès doit être d'au moins un jour.", "terms.access_days")
        )
    if not terms.scopes:
        problems.append(Problem("scope_empty", "Choisissez au moins une donnée à lire.", "terms.scopes"))
    if problems:
        raise ConsentRuleBroken(problems)


_LANGUAGE = re.compile(r"[A-Za-z]{2}")


def check_link_request(*, redirect_url: str, language: str) -> None:
    """Where the bank sends the customer back (an absolute http(s) address) and the language of its pages
    (ISO 639-1), checked before anything is created at the provider."""
    problems = []
    address = urlsplit(redirect_url)
    if address.scheme not in ("http", "https") or not address.netloc:
        problems.append(
            Problem("invalid_redirect", "L'adresse de retour doit être une URL complète (https://…).", "redirect_url")
        )
    if not _LANGUAGE.fullmatch(language):
        problems.append(Problem("invalid_language", "La langue est un code à deux lettres (fr, en…).", "language"))
    if problems:
        raise ConsentRuleBroken(problems)


def fit_terms(terms: AccessTerms, institution: Institution) -> AccessTerms:
    """The terms the bank can grant: asking more than it gives is refused by the provider, so the history and the
    access duration are reduced to the bank's limits, and our rules checked on what remains."""
    check_terms(terms)
    history = min(terms.history_days, institution.history_days)
    access = terms.access_days
    if institution.max_access_days is not None:
        access = min(access, institution.max_access_days)
    if history < MIN_HISTORY_DAYS:
        raise ConsentRuleBroken(
            [
                Problem(
                    "bank_history_too_short",
                    f"{institution.name} ne donne que {history} jours d'historique ; il en faut au moins "
                    f"{MIN_HISTORY_DAYS}. Choisissez une autre banque.",
                    "institution_id",
                )
            ]
        )
    return replace(terms, history_days=history, access_days=access)


def consent_expiry(
    *, accepted_at: datetime | None, access_days: int | None, provider_expires_at: datetime | None = None
) -> datetime | None:
    """When the consent ends, as the provider's agreement says: its own expiry when it gives one, else the time the
    customer accepted plus the access duration granted. None while the customer has not accepted."""
    if provider_expires_at is not None:
        return provider_expires_at
    if accepted_at is None or access_days is None:
        return None
    return accepted_at + timedelta(days=access_days)


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now >= expires_at


@dataclass(frozen=True)
class RefreshDecision:
    allowed: bool
    remaining: int
    """Unattended refreshes still possible in the window once this one (if allowed) is done."""
    next_allowed_at: datetime | None
    """When refused: the first moment a refresh is allowed again."""


@dataclass(frozen=True)
class RefreshBudget:
    """At most `limit` unattended refreshes of one account in any `window` (sliding). Refreshes dated after `now`
    (another server's clock ahead of ours) count: the budget errs on the side of the bank's limit."""

    limit: int = UNATTENDED_REFRESHES
    window: timedelta = REFRESH_WINDOW

    def decide(self, past: Iterable[datetime], *, now: datetime) -> RefreshDecision:
        recent = sorted(moment for moment in past if moment > now - self.window)
        if len(recent) < self.limit:
            return RefreshDecision(allowed=True, remaining=self.limit - len(recent) - 1, next_allowed_at=None)
        # The refresh that must leave the window for one more to fit.
        leaving = recent[len(recent) - self.limit]
        return RefreshDecision(allowed=False, remaining=0, next_allowed_at=leaving + self.window)


def revocation_of(consent: Consent, *, now: datetime) -> Revocation:
    """What a revocation purges: everything fetched from every account the consent linked."""
    return Revocation(consent_id=consent.consent_id, account_ids=consent.account_ids, revoked_at=now)
