"""Retention rules per data category and the dates they give. Pure: no Django, `now` given by the caller.

The table is the one documented in docs/security.md ("Durées de conservation"); `applied` says whether the
retention job enforces a rule or whether it is kept by design (append-only log) or waits for data the platform
does not record yet (a contract's end)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Category(StrEnum):
    NOT_CONCLUDED_DOSSIERS = "not_concluded_dossiers"
    TICKETS = "tickets"
    PROSPECTS = "prospects"
    WITHDRAWN_CONSENTS = "withdrawn_consents"
    ACCOUNTING = "accounting"
    CONTRACTS = "contracts"
    AUDIT_TRAIL = "audit_trail"


@dataclass(frozen=True)
class RetentionRule:
    category: Category
    label: str
    months: int | None
    starts: str
    legal_basis: str
    at_expiry: str
    applied: bool


RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        Category.NOT_CONCLUDED_DOSSIERS,
        "Dossiers non conclus (brouillon, refusé, rejeté, retiré, expiré) : réponses, santé, banque, offres, décisions",
        6,
        "dernière modification du dossier",
        "RGPD art. 5(1)(e) (limitation de la conservation) ; art. 6(1)(b) : plus de contrat en vue",
        "effacés comme sur demande : clés de données détruites, réponses, offres, décisions et dossier supprimés",
        True,
    ),
    RetentionRule(
        Category.TICKETS,
        "Tickets (appels, e-mails) et actions des opérateurs",
        36,
        "ouverture du ticket",
        "CNIL, référentiel gestion commerciale : 3 ans après le dernier contact",
        "supprimés avec leurs actions",
        True,
    ),
    RetentionRule(
        Category.PROSPECTS,
        "Coordonnées d'une personne sans dossier ni ticket",
        36,
        "dernière mise à jour des coordonnées",
        "CNIL, référentiel gestion commerciale : prospects, 3 ans après le dernier contact",
        "supprimées",
        True,
    ),
    RetentionRule(
        Category.WITHDRAWN_CONSENTS,
        "Consentements retirés ou remplacés",
        60,
        "retrait du consentement",
        "RGPD art. 7(1) (preuve du consentement) ; Code civil art. 2224 (prescription de 5 ans)",
        "supprimés",
        True,
    ),
    RetentionRule(
        Category.ACCOUNTING,
        "Factures et écritures comptables",
        120,
        "clôture de l'exercice (1er janvier suivant l'émission)",
        "Code de commerce art. L123-22 : 10 ans",
        "supprimées",
        True,
    ),
    RetentionRule(
        Category.CONTRACTS,
        "Contrats signés, mandats SEPA, déclaration de santé et dossier d'un contrat",
        None,
        "fin du contrat",
        "Code des assurances art. L114-1 (prescription : 2 ans, 10 ans en prévoyance décès) ; fin + 10 ans retenus",
        "revue manuelle : la plateforme n'enregistre pas encore la fin d'un contrat",
        False,
    ),
    RetentionRule(
        Category.AUDIT_TRAIL,
        "Journal d'audit (valeurs masquées, santé jamais écrite)",
        None,
        "écriture de l'entrée",
        "RGPD art. 5(2) (responsabilité) et art. 30",
        "conservé : journal en ajout seul, chaîné et signé ; il ne contient aucune valeur effacée",
        False,
    ),
)


def rule(category: Category) -> RetentionRule:
    return next(found for found in RULES if found.category is category)


def months_before(moment: datetime, months: int) -> datetime:
    """The same instant `months` calendar months earlier (the 31st becomes the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def cutoff(category: Category, *, now: datetime) -> datetime:
    """Rows of the category older than this are past their retention period."""
    months = rule(category).months
    if months is None:
        raise ValueError(f"{category} has no retention period applied by the job")
    return months_before(now, months)


def accounting_cutoff(*, today: date) -> date:
    """Accounting documents are kept 10 years from the end of their financial year (the calendar year here):
    an invoice of 2015 may go from 1 January 2026."""
    return date(today.year - 10, 1, 1)
