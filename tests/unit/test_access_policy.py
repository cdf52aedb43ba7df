"""The access policy's table obeys PRODUCT.md's rules, whatever its details; entry points query no tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from souscription.access.policy import (
    GRANTS,
    READERS,
    WRITERS,
    Category,
    Permission,
    Viewer,
    document_category,
    readable,
    status_field_category,
    unwritable_slices,
    visible_status,
)
from souscription.identity.domain import Department, Role
from souscription.products.domain import Slice

LEGAL = {role for role in Role if role.department is Department.LEGAL}
BILLING = {role for role in Role if role.department is Department.BILLING}
NO_CUSTOMER_DATA = {Role.IT_MANAGER, Role.DIRECTOR, Role.AUDITOR}
SRC = Path(__file__).parents[2] / "src" / "souscription"


def test_health_data_is_read_by_legal_roles_only() -> None:
    assert READERS[Category.HEALTH] <= LEGAL
    assert WRITERS[Category.HEALTH] == frozenset()


def test_bank_data_is_read_and_written_by_billing_roles_only() -> None:
    assert READERS[Category.BANK] <= BILLING
    assert WRITERS[Category.BANK] <= BILLING


def test_the_juriste_alone_drafts_contracts_and_two_roles_validate_invoices() -> None:
    assert GRANTS[Permission.DRAFT_CONTRACT] == {Role.JURIST}
    assert WRITERS[Category.CONTRACT] == {Role.JURIST}
    assert GRANTS[Permission.VALIDATE_INVOICE] == {Role.ACCOUNTANT, Role.BILLING_LEAD}


def test_contact_data_is_edited_by_customer_service_only() -> None:
    assert WRITERS[Category.CONTACT] == {Role.CUSTOMER_ADVISOR}


@pytest.mark.parametrize("role", sorted(NO_CUSTOMER_DATA))
def test_the_direction_it_and_the_auditor_read_no_customer_data(role: Role) -> None:
    assert not any(readable(Viewer(role=role), category) for category in Category)


def test_an_unknown_role_gets_nothing_and_the_applicant_reads_their_whole_dossier() -> None:
    assert not any(readable(Viewer(role=None), category) for category in Category)
    assert all(readable(Viewer(role=None, is_applicant=True), category) for category in Category)


def test_a_health_products_price_factors_offer_and_an_underwritten_closing_note_are_legals() -> None:
    assert status_field_category("offer.breakdown", health_product=True, referred=False) is Category.HEALTH
    assert status_field_category("offer.breakdown", health_product=False, referred=False) is Category.COMMERCIAL
    assert status_field_category("closing_reason", health_product=False, referred=True) is Category.UNDERWRITING
    assert document_category("offer", health_product=True) is Category.HEALTH


def test_withheld_fields_are_emptied_and_named() -> None:
    status = {
        "customer": {"email": "a@b.fr", "country": "FR"},
        "offer": {"premium_cents": 100, "breakdown": {"factors": [{"name": "Fumeur"}]}},
        "exclusions": ["Affections liées au tabac"],
        "tasks": [{"kind": "investigation"}],
        "information_requested": None,
        "closing_reason": None,
        "invoice_id": "x",
    }
    seen = visible_status(status, Viewer(role=Role.SALES_REP), health_product=True)
    assert seen["offer"] == {"premium_cents": 100, "breakdown": None}
    assert seen["exclusions"] == []
    assert seen["tasks"] == []
    assert seen["invoice_id"] is None
    assert seen["customer"] == {"email": "a@b.fr", "country": "FR"}
    assert set(seen["withheld"]) >= {"offer.breakdown", "exclusions", "tasks", "invoice_id"}


ENTRY_POINTS = sorted([*SRC.glob("*/api.py"), *SRC.glob("*/views.py"), SRC / "api.py", SRC / "web" / "home.py"])


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda p: str(p.relative_to(SRC)))
def test_entry_points_query_no_table_directly_so_every_read_goes_through_a_service(path: Path) -> None:
    """A query written in an entry point would bypass the services, where the policy and the audit are applied."""
    source = path.read_text(encoding="utf-8")
    assert not re.search(r"\.objects\b|\.raw\(|connection\.cursor|\bfrom souscription\.\w+\.models import", source)


def test_staff_answering_for_a_customer_write_only_their_departments_slices() -> None:
    every = list(Slice)
    assert unwritable_slices(Viewer(role=Role.SALES_REP), every) == [Slice.CONTACT, Slice.HEALTH, Slice.BANK]
    assert unwritable_slices(Viewer(role=Role.CUSTOMER_ADVISOR), every) == [Slice.COMMERCIAL, Slice.HEALTH, Slice.BANK]
    assert unwritable_slices(Viewer(role=None, is_applicant=True), every) == []
