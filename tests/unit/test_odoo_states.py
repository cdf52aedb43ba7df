"""Specification of Odoo's words as ours: each invoice state and payment state, unknown ones refused, money in
cents both ways, and the field values the adapter sends."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from souscription.integrations.erp.odoo_states import (
    MOVE_STATES,
    PAYMENT_STATES,
    OdooAnswerInvalid,
    UnknownOdooState,
    amount_of,
    cents_of,
    credit_note_vals,
    erp_invoice_of,
    erp_sync_of,
    invoice_vals,
    many2one_id,
    number_of,
    partner_changes,
    partner_vals,
    tax_percent,
)
from souscription.integrations.erp.port import (
    Customer,
    ErpReversal,
    ErpSync,
    InstalmentInvoice,
    ReversalOutcome,
    tax_cents,
)

# Odoo 19's account.move selections, written out here independently of the adapter's tables.
ODOO_MOVE_STATES = {"draft", "posted", "cancel"}
ODOO_PAYMENT_STATES = {"not_paid", "in_payment", "paid", "partial", "reversed", "blocked", "invoicing_legacy"}


@pytest.mark.parametrize(
    ("payment_state", "expected"),
    [
        ("not_paid", ErpSync.SYNCED),
        ("in_payment", ErpSync.IN_PAYMENT),
        ("paid", ErpSync.PAID),
        ("partial", ErpSync.PARTIALLY_PAID),
        ("reversed", ErpSync.REVERSED),
        ("blocked", ErpSync.BLOCKED),
        ("invoicing_legacy", ErpSync.SYNCED),
    ],
)
def test_a_posted_invoice_takes_its_erp_sync_from_its_payment_state(payment_state: str, expected: ErpSync) -> None:
    assert erp_sync_of("posted", payment_state) is expected


@pytest.mark.parametrize(("state", "expected"), [("draft", ErpSync.PENDING), ("cancel", ErpSync.CANCELLED)])
def test_a_draft_or_cancelled_invoice_says_nothing_about_money(state: str, expected: ErpSync) -> None:
    for payment_state in ODOO_PAYMENT_STATES:
        assert erp_sync_of(state, payment_state) is expected


def test_the_tables_cover_exactly_odoos_states() -> None:
    assert set(MOVE_STATES) == ODOO_MOVE_STATES
    assert set(PAYMENT_STATES) == ODOO_PAYMENT_STATES


def test_every_erp_sync_fits_the_dossier_column() -> None:
    assert max(len(sync.value) for sync in ErpSync) <= 16


@pytest.mark.parametrize(
    ("state", "payment_state"),
    [("posted", "refunded"), ("paid", "paid"), ("posted", False), (None, "not_paid"), ("Posted", "not_paid")],
)
def test_an_unknown_state_is_refused_never_guessed(state: object, payment_state: object) -> None:
    with pytest.raises(UnknownOdooState):
        erp_sync_of(state, payment_state)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (ReversalOutcome.CREDIT_NOTE, ErpSync.REVERSED),
        (ReversalOutcome.CANCELLED, ErpSync.CANCELLED),
        (ReversalOutcome.NOTHING_TO_REVERSE, ErpSync.NONE),
    ],
)
def test_a_compensation_sets_the_dossiers_erp_sync(outcome: ReversalOutcome, expected: ErpSync) -> None:
    assert ErpReversal("F-2026-000001-01", outcome).sync is expected


def test_money_goes_to_odoo_in_units_and_comes_back_in_whole_cents() -> None:
    assert amount_of(12345) == 123.45
    assert amount_of(1) == 0.01
    assert cents_of(123.45) == 12345
    assert cents_of(109.99999999) == 11000
    assert cents_of(0) == 0
    for value in (None, False, "12.00", [1]):
        with pytest.raises(OdooAnswerInvalid):
            cents_of(value)


def test_a_tax_rate_is_odoos_percent_and_its_tax_rounds_half_up() -> None:
    assert tax_percent(Decimal("0.09")) == 9.0
    assert tax_percent(Decimal("0.1327")) == 13.27
    assert tax_cents(10000, Decimal("0.09")) == 900
    assert tax_cents(12345, Decimal("0.09")) == 1111  # 1111.05
    assert tax_cents(50, Decimal("0.09")) == 5  # 4.5 rounds up


CUSTOMER = Customer(
    reference="CLI-" + "A" * 32,
    name="Jeanne Martin",
    email="jeanne@example.fr",
    street="12 rue des Lilas",
    postcode="69003",
    city="Lyon",
    country_code="FR",
)
INVOICE = InstalmentInvoice(
    invoice_id="F-2026-000123-01",
    subscription_id="SUB-2026-000123",
    customer_reference=CUSTOMER.reference,
    amount_excl_tax_cents=12345,
    tax_rate=Decimal("0.09"),
    currency="EUR",
    issued_on=date(2026, 11, 5),
    label="Prime d'assurance, première échéance",
)


def test_a_partner_is_written_only_with_what_changed() -> None:
    wanted = partner_vals(CUSTOMER, country_id=75)
    assert wanted["ref"] == CUSTOMER.reference
    assert wanted["zip"] == "69003"
    assert wanted["active"] is True
    read = {**wanted, "id": 7, "country_id": [75, "France"]}
    assert partner_changes(read, wanted) == {}
    assert partner_changes({**read, "city": "Paris", "email": False}, wanted) == {
        "city": "Lyon",
        "email": "jeanne@example.fr",
    }
    assert partner_changes({**read, "active": False}, wanted) == {"active": True}
    assert partner_changes({**read, "country_id": [20, "Belgium"]}, wanted) == {"country_id": 75}


def test_the_invoice_carries_our_number_as_ref_and_one_line_with_its_tax() -> None:
    vals = invoice_vals(INVOICE, partner_id=7, currency_id=1, tax_id=3)
    assert vals == {
        "move_type": "out_invoice",
        "partner_id": 7,
        "ref": "F-2026-000123-01",
        "invoice_origin": "SUB-2026-000123",
        "invoice_date": "2026-11-05",
        "currency_id": 1,
        "invoice_line_ids": [
            [0, 0, {"name": INVOICE.label, "quantity": 1, "price_unit": 123.45, "tax_ids": [[6, 0, [3]]]}]
        ],
    }
    untaxed = invoice_vals(INVOICE, partner_id=7, currency_id=1, tax_id=None)
    assert untaxed["invoice_line_ids"][0][2]["tax_ids"] == [[6, 0, []]]


def test_a_credit_note_repeats_the_invoice_lines_and_points_at_it() -> None:
    move = {"id": 40, "ref": "F-2026-000123-01", "partner_id": [7, "Jeanne Martin"], "currency_id": [1, "EUR"]}
    lines = [{"name": "Prime", "quantity": 1, "price_unit": 123.45, "tax_ids": [3]}]
    vals = credit_note_vals(move, lines, reason="Paiement remboursé")
    assert vals["move_type"] == "out_refund"
    assert vals["reversed_entry_id"] == 40
    assert (vals["partner_id"], vals["currency_id"]) == (7, 1)
    assert vals["ref"] == "Avoir sur F-2026-000123-01 : Paiement remboursé"
    assert vals["invoice_line_ids"] == [
        [0, 0, {"name": "Prime", "quantity": 1, "price_unit": 123.45, "tax_ids": [[6, 0, [3]]]}]
    ]
    with pytest.raises(OdooAnswerInvalid):
        credit_note_vals(move, [], reason="Paiement remboursé")


def test_an_invoice_read_from_odoo_becomes_ours() -> None:
    move = {
        "id": 40,
        "name": "INV/2026/00001",
        "state": "posted",
        "payment_state": "partial",
        "amount_untaxed": 123.45,
        "amount_tax": 11.11,
        "amount_total": 134.56,
        "amount_residual": 34.56,
    }
    invoice = erp_invoice_of(move, "F-2026-000123-01")
    assert (invoice.erp_id, invoice.number, invoice.sync) == ("40", "INV/2026/00001", ErpSync.PARTIALLY_PAID)
    assert (invoice.amount_excl_tax_cents, invoice.tax_cents, invoice.total_cents, invoice.residual_cents) == (
        12345,
        1111,
        13456,
        3456,
    )
    assert number_of({"name": "/"}) == number_of({"name": False}) == ""


def test_a_many_to_one_reads_as_its_id() -> None:
    assert many2one_id([7, "Jeanne Martin"]) == 7
    assert many2one_id(7) == 7
    assert many2one_id(False) is None
    with pytest.raises(OdooAnswerInvalid):
        many2one_id("7")
