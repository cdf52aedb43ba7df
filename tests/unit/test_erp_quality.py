"""Specification of the data-quality checks before the ERP: what is normalised, what is refused (naming the field
and the fix in French), and how the rejects are counted by reason."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from souscription.integrations.erp.port import Customer, InstalmentInvoice
from souscription.integrations.erp.quality import (
    RecordRejected,
    RejectCounts,
    check_customer,
    check_invoice,
    customer_reference,
    normalise_name,
    normalise_postcode,
)

REFERENCE = customer_reference(uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"))
CUSTOMER = Customer(
    reference=REFERENCE,
    name="Jeanne Martin",
    email="jeanne.martin@example.fr",
    street="12 rue des Lilas",
    postcode="69003",
    city="Lyon",
    country_code="FR",
)
INVOICE = InstalmentInvoice(
    invoice_id="F-2026-000123-01",
    subscription_id="SUB-2026-000123",
    customer_reference=REFERENCE,
    amount_excl_tax_cents=12345,
    tax_rate=Decimal("0.09"),
    currency="EUR",
    issued_on=date(2026, 11, 5),
    label="Prime d'assurance, première échéance",
)


def codes(record: Customer | InstalmentInvoice) -> set[str]:
    checked = check_customer(record) if isinstance(record, Customer) else check_invoice(record)
    return {reject.code for reject in checked.rejects}


def test_a_clean_customer_and_invoice_pass_unchanged() -> None:
    assert check_customer(CUSTOMER).ok
    assert check_customer(CUSTOMER).record == CUSTOMER
    assert check_invoice(INVOICE).ok
    assert check_invoice(INVOICE).record == INVOICE


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("  jeanne   martin ", "Jeanne Martin"),
        ("Jeanne MARTIN", "Jeanne Martin"),
        ("JEAN-PIERRE DE LA FONTAINE", "Jean-Pierre de La Fontaine"),
        ("marie d\u2019artagnan", "Marie d'Artagnan"),
        ("d'alembert", "D'Alembert"),
        ("patrick o'neil", "Patrick O'Neil"),
        ("VINCENT VAN GOGH", "Vincent van Gogh"),
        ("marine le pen", "Marine Le Pen"),
        ("élodie dupré - martin", "Élodie Dupré-Martin"),
        ("Ronald McDonald", "Ronald McDonald"),
        ("Leonardo DiCaprio", "Leonardo DiCaprio"),
        ("Charles De Gaulle", "Charles De Gaulle"),
        ("anne\u00a0de\tbretagne", "Anne de Bretagne"),
    ],
)
def test_names_are_trimmed_and_cased_without_breaking_particles(typed: str, expected: str) -> None:
    assert normalise_name(typed) == expected


@pytest.mark.parametrize("name", ["", "   ", "Jeanne Martin 2", "J@nne", "Jeanne_Martin", "x" * 129])
def test_a_name_with_digits_symbols_or_nothing_is_refused(name: str) -> None:
    assert codes(replace(CUSTOMER, name=name)) & {"name_missing", "name_invalid"}


@pytest.mark.parametrize(
    ("country", "typed", "expected"),
    [
        ("FR", "75 001", "75001"),
        ("FR", "97400", "97400"),
        ("MC", "98000", "98000"),
        ("LU", "L-1160", "1160"),
        ("BE", "1000", "1000"),
        ("NL", "1011ab", "1011 AB"),
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("PT", "1000-001", "1000-001"),
        ("JP", "100-0001", "100-0001"),
    ],
)
def test_postcodes_are_put_in_their_countrys_form(country: str, typed: str, expected: str) -> None:
    customer = replace(CUSTOMER, country_code=country, postcode=typed)
    checked = check_customer(customer)
    assert checked.ok, checked.rejects
    assert checked.record.postcode == expected == normalise_postcode(typed, country)


@pytest.mark.parametrize("postcode", ["7500", "750011", "00100", "99000", "7500A", ""])
def test_a_french_postcode_is_five_digits_of_a_real_department(postcode: str) -> None:
    checked = check_customer(replace(CUSTOMER, postcode=postcode))
    assert [reject.code for reject in checked.rejects] == ["postcode_invalid"]
    assert "Code postal" in checked.rejects[0].message
    assert "75001" in checked.rejects[0].message


@pytest.mark.parametrize("country", ["France", "FRA", "XX", "", "F"])
def test_the_country_is_an_iso_3166_alpha_2_code(country: str) -> None:
    assert "country_invalid" in codes(replace(CUSTOMER, country_code=country))


def test_a_lower_case_country_code_is_accepted_in_capitals() -> None:
    assert check_customer(replace(CUSTOMER, country_code=" fr ")).record.country_code == "FR"


@pytest.mark.parametrize(
    "email", ["jeanne", "jeanne@", "@example.fr", "jeanne@example", "je anne@example.fr", "jé@example.fr", "a..b@x.fr"]
)
def test_an_email_that_cannot_receive_mail_is_refused(email: str) -> None:
    assert codes(replace(CUSTOMER, email=email)) == {"email_invalid"}


def test_an_email_keeps_its_local_part_and_lowers_its_domain() -> None:
    assert check_customer(replace(CUSTOMER, email=" Jeanne.Martin@Example.FR ")).record.email == (
        "Jeanne.Martin@example.fr"
    )
    assert check_customer(replace(CUSTOMER, email="jeanne@café.fr")).ok


def test_addresses_need_a_street_and_a_city() -> None:
    assert codes(replace(CUSTOMER, street="  ", city="75")) == {"street_missing", "city_missing"}
    assert check_customer(replace(CUSTOMER, street=" 12   rue des  Lilas ")).record.street == "12 rue des Lilas"


@pytest.mark.parametrize("reference", ["CLI-123", "0f8fad5bd9cb469fa16570867728950e", "CUS-" + "A" * 32, ""])
def test_the_customer_reference_has_its_format(reference: str) -> None:
    assert codes(replace(CUSTOMER, reference=reference)) == {"reference_invalid"}


def test_the_customer_reference_is_built_from_the_customer_id() -> None:
    assert REFERENCE == "CLI-0F8FAD5BD9CB469FA16570867728950E"
    assert check_customer(replace(CUSTOMER, reference=REFERENCE.lower())).record.reference == REFERENCE


@pytest.mark.parametrize("amount", [0, -100, 123.45, "12345", True, 100_000_001, Decimal(12345)])
def test_an_amount_is_a_positive_whole_number_of_cents(amount: object) -> None:
    checked = check_invoice(replace(INVOICE, amount_excl_tax_cents=amount))  # type: ignore[arg-type]
    assert [reject.field for reject in checked.rejects] == ["amount_excl_tax_cents"]
    assert "centimes" in checked.rejects[0].message


@pytest.mark.parametrize("rate", [Decimal("-0.01"), Decimal(1), Decimal("0.0000001"), 0.09, Decimal("NaN"), "0.09"])
def test_a_tax_rate_is_a_decimal_fraction(rate: object) -> None:
    assert codes(replace(INVOICE, tax_rate=rate)) == {"tax_rate_invalid"}  # type: ignore[arg-type]


def test_a_zero_tax_rate_is_allowed() -> None:
    assert check_invoice(replace(INVOICE, tax_rate=Decimal(0))).ok


def test_invoice_identifiers_currency_label_and_date_are_checked() -> None:
    wrong = replace(
        INVOICE,
        invoice_id="f 1",
        subscription_id="2026-123",
        customer_reference="x",
        currency="EURO",
        label="  ",
        issued_on=datetime(2026, 11, 5, 10, 0),
    )
    assert codes(wrong) == {
        "invoice_id_invalid",
        "subscription_id_invalid",
        "reference_invalid",
        "currency_invalid",
        "label_missing",
        "issued_on_invalid",
    }
    assert check_invoice(replace(INVOICE, invoice_id=" f-2026-000123-01", currency="eur")).record.currency == "EUR"


def test_every_reject_names_its_field_and_the_fix_in_french() -> None:
    wrong = Customer(reference="", name="", email="x", street="", postcode="1", city="", country_code="ZZ")
    rejects = check_customer(wrong).rejects
    assert {reject.field for reject in rejects} == {
        "reference",
        "name",
        "email",
        "street",
        "city",
        "country_code",
        "postcode",
    }
    for reject in rejects:
        assert " : " in reject.message
        assert reject.message.endswith(".")


def test_rejects_are_counted_by_reason_and_a_rejected_record_is_not_sendable() -> None:
    counts = RejectCounts()
    records = [
        CUSTOMER,
        replace(CUSTOMER, postcode="7500"),
        replace(CUSTOMER, postcode="7500", email="x"),
        replace(CUSTOMER, email="y"),
    ]
    sendable = [record for record in records if counts.add(check_customer(record))]
    assert sendable == [CUSTOMER]
    assert (counts.checked, counts.refused) == (4, 3)
    assert counts.by_reason == {"postcode_invalid": 2, "email_invalid": 2}
    refused = RecordRejected(check_customer(records[2]).rejects)
    assert refused.codes == ("email_invalid", "postcode_invalid")
