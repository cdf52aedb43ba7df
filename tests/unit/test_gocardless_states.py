"""GoCardless Bank Account Data in the platform's words: one test per vendor state, unknown states refused, and the
reading of its answers (amounts in cents, the counterparty, labels, expiry from the agreement, error codes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from souscription.integrations.open_banking import gocardless_states as states
from souscription.integrations.open_banking.port import AccountStatus, ConsentStatus, Scope

REQUISITION_CASES = [
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
]


@pytest.mark.parametrize(("vendor", "ours"), REQUISITION_CASES)
def test_each_requisition_status_maps_to_one_consent_status(vendor: str, ours: ConsentStatus) -> None:
    assert states.consent_status(vendor) is ours


def test_the_table_covers_every_documented_and_published_requisition_status() -> None:
    documented = {"CR", "GC", "UA", "RJ", "SA", "GA", "LN", "EX"}
    published = {"CR", "ID", "LN", "RJ", "ER", "SU", "EX", "GC", "UA", "GA", "SA"}
    assert set(states.REQUISITION_STATUSES) == documented | published == {vendor for vendor, _ in REQUISITION_CASES}


@pytest.mark.parametrize("vendor", ["XX", "ln", "", "LINKED"])
def test_an_unknown_requisition_status_is_refused_not_guessed(vendor: str) -> None:
    with pytest.raises(states.UnknownVendorState) as refused:
        states.consent_status(vendor)
    assert refused.value.state == vendor


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        ("DISCOVERED", AccountStatus.PENDING),
        ("PROCESSING", AccountStatus.PENDING),
        ("READY", AccountStatus.READY),
        ("ERROR", AccountStatus.ERROR),
        ("SUSPENDED", AccountStatus.SUSPENDED),
        ("EXPIRED", AccountStatus.EXPIRED),
    ],
)
def test_each_account_status_maps(vendor: str, ours: AccountStatus) -> None:
    assert states.account_status(vendor) is ours


def test_an_unknown_account_status_is_refused() -> None:
    with pytest.raises(states.UnknownVendorState):
        states.account_status("ARCHIVED")


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("328.18", 32818), ("-42.10", -4210), ("-0.5", -50), ("1200", 120000), (" 7.00 ", 700), ("0", 0)],
)
def test_amounts_are_read_in_cents_exactly(amount: str, cents: int) -> None:
    assert states.cents_of(amount) == cents


@pytest.mark.parametrize("amount", ["float", "", "12,50", "0.005", "NaN", "Infinity", None])
def test_an_amount_that_is_not_a_whole_number_of_cents_is_refused(amount: object) -> None:
    with pytest.raises(states.MalformedPayload):
        states.cents_of(amount)


def test_a_debit_names_its_creditor_and_a_credit_its_debtor() -> None:
    debit = states.transaction_of(
        {
            "transactionId": "t1",
            "bookingDate": "2026-10-05",
            "transactionAmount": {"amount": "-850.00", "currency": "EUR"},
            "creditorName": "FONCIA GESTION",
            "debtorName": "Camille Martin",
            "remittanceInformationUnstructured": "PRLV SEPA FONCIA LOYER 10/2026",
        },
        booked=True,
    )
    credit = states.transaction_of(
        {
            "transactionId": "t2",
            "bookingDate": "2026-10-28",
            "transactionAmount": {"amount": "2450.00", "currency": "EUR"},
            "debtorName": "ACME CONSEIL SAS",
            "remittanceInformationUnstructuredArray": ["VIR SEPA RECU", "SALAIRE 10/2026"],
        },
        booked=True,
    )
    assert (debit.amount_cents, debit.counterparty, debit.booking_date) == (-85000, "FONCIA GESTION", date(2026, 10, 5))
    assert debit.label == "PRLV SEPA FONCIA LOYER 10/2026"
    assert (credit.amount_cents, credit.counterparty, credit.label) == (
        245000,
        "ACME CONSEIL SAS",
        "VIR SEPA RECU SALAIRE 10/2026",
    )


def test_a_pending_transaction_without_id_or_booking_date_gets_a_stable_id_and_its_value_date() -> None:
    row = {"valueDate": "2026-11-01", "transactionAmount": {"amount": "-12.40", "currency": "EUR"}}
    first, again = states.transaction_of(row, booked=False), states.transaction_of(dict(row), booked=False)
    assert first.transaction_id == again.transaction_id
    assert first.transaction_id.startswith("sha256:")
    assert (first.booked, first.booking_date, first.counterparty, first.label) == (False, date(2026, 11, 1), "", "")


def test_transactions_come_booked_then_pending() -> None:
    body = {
        "transactions": {
            "booked": [
                {
                    "transactionId": "b",
                    "bookingDate": "2026-10-01",
                    "transactionAmount": {"amount": "-1.00", "currency": "EUR"},
                }
            ],
            "pending": [{"valueDate": "2026-11-01", "transactionAmount": {"amount": "-2.00", "currency": "EUR"}}],
        }
    }
    assert [row.booked for row in states.transactions_of(body)] == [True, False]


@pytest.mark.parametrize(
    "body", [{}, {"transactions": []}, {"transactions": {"booked": [{"bookingDate": "2026-10-01"}]}}]
)
def test_a_transactions_answer_without_the_documented_shape_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(states.MalformedPayload):
        states.transactions_of(body)


def test_balances_and_details_are_read() -> None:
    balances = states.balances_of(
        {
            "balances": [
                {
                    "balanceAmount": {"amount": "657.49", "currency": "EUR"},
                    "balanceType": "closingBooked",
                    "referenceDate": "2026-11-01",
                },
                {"balanceAmount": {"amount": "-12.00", "currency": "EUR"}, "balanceType": "interimAvailable"},
            ]
        }
    )
    assert [(b.kind, b.amount_cents, b.reference_date) for b in balances] == [
        ("closingBooked", 65749, date(2026, 11, 1)),
        ("interimAvailable", -1200, None),
    ]
    details = states.details_of(
        "acc-1",
        {
            "account": {
                "iban": "FR7630004000031234567890143",
                "currency": "EUR",
                "ownerName": "Léa Roux",
                "name": "Compte de dépôt",
                "cashAccountType": "CACC",
            }
        },
        {"status": "READY"},
    )
    assert (details.iban, details.owner_name, details.product, details.status) == (
        "FR7630004000031234567890143",
        "Léa Roux",
        "CACC",
        AccountStatus.READY,
    )


def test_institution_days_come_as_strings() -> None:
    bank = states.institution_of(
        {
            "id": "BNP_PARIBAS_BNPAFRPP",
            "name": "BNP Paribas",
            "bic": "BNPAFRPP",
            "transaction_total_days": "730",
            "max_access_valid_for_days": "180",
            "countries": ["FR"],
            "logo": "",
        }
    )
    assert (bank.history_days, bank.max_access_days, bank.countries) == (730, 180, ("FR",))
    older = states.institution_of(
        {"id": "X", "name": "X", "countries": ["FR"], "logo": "", "transaction_total_days": "90"}
    )
    assert older.max_access_days is None


def test_the_consent_expiry_is_the_agreements_acceptance_plus_its_access_days() -> None:
    requisition = {
        "id": "r1",
        "status": "LN",
        "reference": "k",
        "institution_id": "B",
        "accounts": ["a1", "a2"],
        "agreement": "g",
    }
    agreement = {
        "id": "g",
        "accepted": "2026-11-02T09:00:00Z",
        "access_valid_for_days": 180,
        "max_historical_days": 730,
        "access_scope": ["balances", "transactions"],
    }
    consent = states.consent_of(requisition, agreement)
    accepted = datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert consent.accepted_at == accepted
    assert consent.expires_at == accepted + timedelta(days=180)
    assert consent.account_ids == ("a1", "a2")
    assert consent.terms is not None
    assert consent.terms.scopes == {Scope.BALANCES, Scope.TRANSACTIONS}
    shorter = states.consent_of(requisition, {**agreement, "access_valid_for_days": 90})
    assert shorter.expires_at == accepted + timedelta(days=90)


def test_a_consent_not_yet_accepted_has_no_expiry() -> None:
    consent = states.consent_of(
        {"id": "r1", "status": "CR", "agreement": "g"}, {"id": "g", "accepted": None, "access_valid_for_days": 180}
    )
    assert consent.expires_at is None
    assert consent.status is ConsentStatus.CREATED


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"summary": "Invalid token", "detail": "Token is invalid or expired", "status_code": 401}, "Invalid token"),
        (
            {
                "summary": "Couldn't update account balances",
                "detail": "…",
                "status_code": 401,
                "type": "AccessExpiredError",
            },
            "AccessExpiredError",
        ),
        (
            {
                "reference": {
                    "summary": "Client reference must be unique",
                    "detail": "Client reference: k already exists",
                },
                "status_code": 400,
            },
            "field:reference",
        ),
        (
            {
                "institution_id": ["This field is required."],
                "redirect": ["This field is required."],
                "status_code": 400,
            },
            "field:institution_id,redirect",
        ),
        ([], ""),
    ],
)
def test_the_error_code_is_the_stable_part_of_the_body_never_its_detail(body: object, code: str) -> None:
    assert states.error_code_of(body) == code


def test_a_duplicate_reference_is_recognised_among_field_errors() -> None:
    assert states.is_field_error("field:agreement,reference", "reference")
    assert not states.is_field_error("field:redirect", "reference")
    assert not states.is_field_error("reference", "reference")


def test_the_reference_is_the_key_or_a_stable_digest_when_too_long() -> None:
    assert states.reference_of("dossier-1:banque") == "dossier-1:banque"
    long_key = "d" * 300
    assert states.reference_of(long_key) == states.reference_of(long_key)
    assert len(states.reference_of(long_key)) <= 256
    with pytest.raises(ValueError, match="obligatoire"):
        states.reference_of("")
