"""Who may see and do what: the one access policy (seed 004's matrix, PRODUCT.md "Data ownership"). Pure.

Customer data is split into categories, each owned by one department. A role reads a category when its department
owns it or the matrix lets it read it ("Lire des informations clients"), and writes only what its department owns.
Health data is Legal's alone, bank data Billing's alone; the direction, the IT manager and the auditor see no
individual customer's data through the dossier (their views are KPIs, accounts and the audit and GDPR registers).
The applicant sees all of their own dossier. Anyone else, an unknown role included, gets nothing.

Every entry point asks this module: the API filters the unified status field by field with `readable`, checks an
action with `may`, and documents with `document_category`; tests walk the whole matrix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from souscription.identity.domain import Role
from souscription.products.domain import Slice


class Category(StrEnum):
    DOSSIER = "dossier"  # stage, side statuses, next action: the shared status everyone working the dossier reads
    CONTACT = "contact"  # name, email, phone, country (customer service)
    COMMERCIAL = "commercial"  # commercial profile, non-medical risk answers, the offer's breakdown (sales)
    OFFER_TERMS = "offer_terms"  # premium, instalment, frequency: what is sold and invoiced (sales, billing, legal)
    HEALTH = "health"  # health answers and what reveals them: medical exclusions, a health product's price factors
    UNDERWRITING = "underwriting"  # tasks, reports, estimates, the estimateur's notes (legal)
    CONTRACT = "contract"  # the drafted and signed contracts (legal)
    BANK = "bank"  # IBAN, SEPA mandate (billing)
    BILLING = "billing"  # invoices and billing history (billing)


class Permission(StrEnum):
    """Actions, each granted to named roles (not derived from categories: who acts is a business rule)."""

    ACT_ON_DOSSIER = "act_on_dossier"  # open a dossier for a customer, answer, accept, withdraw on their behalf
    VIEW_UNDERWRITING_QUEUE = "view_underwriting_queue"
    FILE_INVESTIGATION_REPORT = "file_investigation_report"
    ESTIMATE_RISK = "estimate_risk"
    DRAFT_CONTRACT = "draft_contract"  # the juriste and nobody else (seed 003)
    DRAFT_INVOICE = "draft_invoice"
    VALIDATE_INVOICE = "validate_invoice"  # an accountant or the lead, never the invoice's own drafter (four eyes)
    MANAGE_STAFF = "manage_staff"
    EXPORT_CUSTOMER_DATA = "export_customer_data"  # the GDPR right of access: everything held, across departments


_CUSTOMER_SERVICE = frozenset({Role.CUSTOMER_ADVISOR})
_SALES = frozenset({Role.SALES_REP, Role.SALES_LEAD})
_LEGAL = frozenset({Role.INVESTIGATOR, Role.ESTIMATOR, Role.JURIST, Role.LEGAL_LEAD})
_BILLING = frozenset({Role.ACCOUNTING_ASSISTANT, Role.ACCOUNTANT, Role.BILLING_LEAD})
_WORKING_DOSSIERS = _CUSTOMER_SERVICE | _SALES | _LEGAL | _BILLING

READERS: dict[Category, frozenset[Role]] = {
    Category.DOSSIER: _WORKING_DOSSIERS,
    Category.CONTACT: _WORKING_DOSSIERS,
    Category.COMMERCIAL: _SALES | _LEGAL,
    Category.OFFER_TERMS: _SALES | _LEGAL | _BILLING,
    Category.HEALTH: _LEGAL,
    Category.UNDERWRITING: _LEGAL,
    Category.CONTRACT: _LEGAL,
    Category.BANK: _BILLING,
    Category.BILLING: _BILLING,
}
"""Who reads each category (besides the applicant, for their own dossier)."""

WRITERS: dict[Category, frozenset[Role]] = {
    Category.DOSSIER: frozenset(),  # moved by actions and the platform, never edited
    Category.CONTACT: _CUSTOMER_SERVICE,
    Category.COMMERCIAL: _SALES,
    Category.OFFER_TERMS: frozenset(),  # priced by the rules, adjusted by the estimateur's decision only
    Category.HEALTH: frozenset(),  # declared by the applicant alone
    Category.UNDERWRITING: _LEGAL,
    Category.CONTRACT: frozenset({Role.JURIST}),
    Category.BANK: _BILLING,
    Category.BILLING: _BILLING,
}
"""Who edits each category's data directly (besides the applicant: their own answers)."""

GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.ACT_ON_DOSSIER: _CUSTOMER_SERVICE | _SALES,
    Permission.VIEW_UNDERWRITING_QUEUE: _LEGAL,
    Permission.FILE_INVESTIGATION_REPORT: frozenset({Role.INVESTIGATOR}),
    Permission.ESTIMATE_RISK: frozenset({Role.ESTIMATOR}),
    Permission.DRAFT_CONTRACT: frozenset({Role.JURIST}),
    Permission.DRAFT_INVOICE: frozenset({Role.ACCOUNTING_ASSISTANT, Role.ACCOUNTANT, Role.BILLING_LEAD}),
    Permission.VALIDATE_INVOICE: frozenset({Role.ACCOUNTANT, Role.BILLING_LEAD}),
    Permission.MANAGE_STAFF: frozenset({Role.IT_MANAGER}),
    Permission.EXPORT_CUSTOMER_DATA: frozenset({Role.AUDITOR, Role.IT_MANAGER}),
}


class Viewer:
    """Who reads: the dossier's applicant, or a staff member with a role (None: a role this version does not know)."""

    __slots__ = ("is_applicant", "role")

    def __init__(self, *, role: Role | None, is_applicant: bool = False) -> None:
        self.role, self.is_applicant = role, is_applicant

    def __repr__(self) -> str:
        return "Viewer(applicant)" if self.is_applicant else f"Viewer({self.role})"


def readable(viewer: Viewer, category: Category) -> bool:
    if viewer.is_applicant:
        return True
    return viewer.role is not None and viewer.role in READERS[category]


def writable(viewer: Viewer, category: Category) -> bool:
    if viewer.is_applicant:
        return category in {Category.CONTACT, Category.COMMERCIAL, Category.HEALTH, Category.BANK}
    return viewer.role is not None and viewer.role in WRITERS[category]


SLICE_CATEGORY: dict[Slice, Category] = {
    Slice.CONTACT: Category.CONTACT,
    Slice.COMMERCIAL: Category.COMMERCIAL,
    Slice.HEALTH: Category.HEALTH,
    Slice.BANK: Category.BANK,
}
"""The category of a product field, by the department slice that keeps it."""


def unwritable_slices(viewer: Viewer, slices: Iterable[Slice]) -> list[Slice]:
    """The slices of a step's answers that `viewer` may not write: a sales rep answers the risk for a customer,
    customer service their contact details; health answers and bank details come from the applicant alone."""
    return [found for found in slices if not writable(viewer, SLICE_CATEGORY[found])]


def may(role: Role | None, permission: Permission) -> bool:
    return role is not None and role in GRANTS[permission]


def roles_granted(permission: Permission) -> tuple[Role, ...]:
    return tuple(role for role in Role if role in GRANTS[permission])


STATUS_FIELDS: dict[str, Category] = {
    "customer.email": Category.CONTACT,
    "customer.country": Category.CONTACT,
    "offer": Category.OFFER_TERMS,
    "offer.breakdown": Category.COMMERCIAL,  # HEALTH for a health-underwritten product: see `status_field_category`
    "exclusions": Category.HEALTH,
    "tasks": Category.UNDERWRITING,
    "information_requested": Category.UNDERWRITING,
    "closing_reason": Category.DOSSIER,  # UNDERWRITING once referred or for a health product: may reveal health
    "invoice_id": Category.BILLING,
}
"""The unified status's fields that are not Category.DOSSIER, with their category."""


def status_field_category(field: str, *, health_product: bool, referred: bool) -> Category:
    """A status field's category for this dossier: a health product's price factors (e.g. "Fumeur") and an
    underwritten dossier's closing note reveal health data, so they are Legal's there."""
    if field == "offer.breakdown" and health_product:
        return Category.HEALTH
    if field == "closing_reason" and (referred or health_product):
        return Category.UNDERWRITING  # a health product's refusal may rest on the health answers
    return STATUS_FIELDS.get(field, Category.DOSSIER)


DOCUMENTS: dict[str, Category] = {
    "offer": Category.COMMERCIAL,
    "contract": Category.CONTRACT,
    "signed-contract": Category.CONTRACT,
}


def document_category(kind: str, *, health_product: bool) -> Category:
    """The offer shows the price breakdown: a health product's offer is Legal's, like its breakdown."""
    if kind == "offer" and health_product:
        return Category.HEALTH
    return DOCUMENTS[kind]


def visible_status(status: Mapping[str, Any], viewer: Viewer, *, health_product: bool) -> dict[str, Any]:
    """The unified status as `viewer` may read it: each field it may not read is withheld (null, or an empty list),
    and named in `withheld` so that a client can tell "withheld" from "none"."""
    referred = bool(status.get("tasks"))
    shown = dict(status)
    withheld: list[str] = []
    if not readable(viewer, Category.DOSSIER):
        raise PermissionError("viewer reads no dossier")  # the entry point refuses such a viewer before
    for field in ("exclusions", "tasks", "information_requested", "closing_reason", "invoice_id", "offer"):
        if not readable(viewer, status_field_category(field, health_product=health_product, referred=referred)):
            shown[field] = [] if isinstance(status.get(field), list) else None
            withheld.append(field)
    customer = dict(status.get("customer") or {})
    for name in ("email", "country"):
        if not readable(
            viewer, status_field_category(f"customer.{name}", health_product=health_product, referred=referred)
        ):
            customer[name] = None
            withheld.append(f"customer.{name}")
    shown["customer"] = customer
    offer = shown.get("offer")
    breakdown_category = status_field_category("offer.breakdown", health_product=health_product, referred=referred)
    if isinstance(offer, dict) and not readable(viewer, breakdown_category):
        shown["offer"] = {**offer, "breakdown": None}
        withheld.append("offer.breakdown")
    shown["withheld"] = withheld
    return shown
