"""The retention job: each rule of `domain.RULES` that is applied, on the rows past their period.

Run daily by the `gdpr_retention` scheduled workflow (`workflows.py`) and on demand by `souscription gdpr
retention [--dry-run]`; both call `apply_rule` per category, which is idempotent (a rerun finds nothing left)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from souscription.billing import privacy as billing
from souscription.consents import services as consents
from souscription.customers import services as customers
from souscription.gdpr.domain import RULES, Category, accounting_cutoff, cutoff
from souscription.gdpr.erasure import erase_dossier
from souscription.sales import services as sales
from souscription.subscriptions import privacy as dossiers
from souscription.tickets import services as tickets


@dataclass(frozen=True)
class Outcome:
    category: str
    cutoff: str
    count: int
    dry_run: bool


def applied_categories() -> list[Category]:
    return [rule.category for rule in RULES if rule.applied]


def apply_all(*, now: datetime, dry_run: bool) -> list[Outcome]:
    return [apply_rule(category, now=now, dry_run=dry_run) for category in applied_categories()]


def apply_rule(category: Category, *, now: datetime, dry_run: bool) -> Outcome:
    if category is Category.ACCOUNTING:
        before = accounting_cutoff(today=now.date())
        count = billing.purge_accounting_before(cutoff=before, dry_run=dry_run)
        return Outcome(category.value, before.isoformat(), count, dry_run)
    moment = cutoff(category, now=now)
    count = _APPLY[category](moment, dry_run)
    return Outcome(category.value, moment.isoformat(), count, dry_run)


def _not_concluded(moment: datetime, dry_run: bool) -> int:
    stale = dossiers.not_concluded_untouched_since(moment)
    for subscription_id in stale:
        erase_dossier(subscription_id=subscription_id, signed=False, dry_run=dry_run, reason="retention")
    return len(stale)


def _prospects(moment: datetime, dry_run: bool) -> int:
    candidates = customers.customers_untouched_since(moment)
    still_related = dossiers.customers_with_dossiers(candidates) | tickets.customers_with_tickets(candidates)
    gone = [customer_id for customer_id in candidates if customer_id not in still_related]
    for customer_id in gone:
        sales.erase_profile(customer_id=customer_id, dry_run=dry_run, reason="retention")
        customers.erase_contact(customer_id=customer_id, dry_run=dry_run, reason="retention")
    return len(gone)


_APPLY: dict[Category, Callable[[datetime, bool], int]] = {
    Category.NOT_CONCLUDED_DOSSIERS: _not_concluded,
    Category.TICKETS: lambda moment, dry_run: tickets.purge_tickets_opened_before(cutoff=moment, dry_run=dry_run),
    Category.PROSPECTS: _prospects,
    Category.WITHDRAWN_CONSENTS: lambda moment, dry_run: consents.purge_withdrawn_before(
        cutoff=moment, dry_run=dry_run
    ),
}
