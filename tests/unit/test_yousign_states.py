"""Yousign's states and events onto ours, one case per vendor value, and the bodies the adapter sends."""

from __future__ import annotations

from datetime import date

import pytest

from souscription.integrations.signature.port import (
    CancelReason,
    ContractForSignature,
    SignatureEventKind,
    SignatureField,
    SignatureStatus,
    Signer,
    check_contract,
    normalized_phone,
)
from souscription.integrations.signature.yousign_states import (
    CANCEL_REASONS,
    EVENTS,
    STATUSES,
    UnmappedState,
    cancel_body,
    external_id_of,
    request_body,
    signature_status,
    signer_body,
)
from souscription.kernel.errors import InvalidInput

PDF = b"%PDF-1.7\n%fake\n"


def contract(**changes: object) -> ContractForSignature:
    values: dict[str, object] = {
        "subscription_id": "5b0c7f0e-2d7a-4c1e-9d56-0f6c1f0d2a11",
        "pdf": PDF,
        "file_name": "contrat-habitation.pdf",
        "signer": Signer(first_name="Camille", last_name="Martin", email="camille.martin@example.fr"),
    }
    values.update(changes)
    return ContractForSignature(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        ("draft", SignatureStatus.DRAFT),
        ("approval", SignatureStatus.ONGOING),
        ("ongoing", SignatureStatus.ONGOING),
        ("done", SignatureStatus.DONE),
        ("declined", SignatureStatus.DECLINED),
        ("expired", SignatureStatus.EXPIRED),
        ("canceled", SignatureStatus.CANCELED),
        ("rejected", SignatureStatus.CANCELED),
        ("deleted", SignatureStatus.CANCELED),
    ],
)
def test_each_yousign_status_has_its_signature_status(vendor: str, ours: SignatureStatus) -> None:
    assert signature_status(vendor) is ours


def test_the_table_holds_exactly_the_nine_statuses_yousign_documents() -> None:
    documented = {"draft", "approval", "rejected", "ongoing", "declined", "expired", "deleted", "canceled", "done"}
    assert set(STATUSES) == documented


def test_every_signature_status_is_reached_from_some_yousign_status() -> None:
    assert set(STATUSES.values()) == set(SignatureStatus)


@pytest.mark.parametrize("unknown", ["signed", "DONE", "", None, 3])
def test_an_unknown_yousign_status_is_refused_never_guessed(unknown: object) -> None:
    with pytest.raises(UnmappedState) as refused:
        signature_status(unknown)
    assert refused.value.vendor_status == unknown


@pytest.mark.parametrize(
    ("event", "kind", "status"),
    [
        ("signature_request.activated", SignatureEventKind.ACTIVATED, SignatureStatus.ONGOING),
        ("signature_request.approved", SignatureEventKind.APPROVED, SignatureStatus.ONGOING),
        ("signature_request.reactivated", SignatureEventKind.REACTIVATED, SignatureStatus.ONGOING),
        ("signature_request.done", SignatureEventKind.DONE, SignatureStatus.DONE),
        ("signature_request.declined", SignatureEventKind.DECLINED, SignatureStatus.DECLINED),
        ("signature_request.expired", SignatureEventKind.EXPIRED, SignatureStatus.EXPIRED),
        ("signature_request.canceled", SignatureEventKind.CANCELED, SignatureStatus.CANCELED),
        ("signature_request.rejected", SignatureEventKind.REJECTED, SignatureStatus.CANCELED),
        ("signature_request.deleted", SignatureEventKind.DELETED, SignatureStatus.CANCELED),
        ("signature_request.reminder_executed", SignatureEventKind.REMINDER_SENT, None),
        ("signer.notified", SignatureEventKind.SIGNER_NOTIFIED, None),
        ("signer.link_opened", SignatureEventKind.SIGNER_OPENED, None),
        ("signer.done", SignatureEventKind.SIGNER_SIGNED, None),
        ("approver.approved", SignatureEventKind.APPROVER_APPROVED, None),
        ("approver.rejected", SignatureEventKind.APPROVER_REJECTED, None),
    ],
)
def test_each_yousign_event_has_its_kind_and_the_status_it_moves_to(
    event: str, kind: SignatureEventKind, status: SignatureStatus | None
) -> None:
    assert EVENTS[event] == (kind, status)


def test_an_event_named_after_a_yousign_status_moves_to_that_status_mapped() -> None:
    named = {
        name: status
        for name, (_kind, status) in EVENTS.items()
        if name.startswith("signature_request.") and name.split(".", 1)[1] in STATUSES
    }
    assert set(named) == {
        f"signature_request.{s}" for s in ("done", "declined", "expired", "canceled", "rejected", "deleted")
    }
    for name, status in named.items():
        assert status is STATUSES[name.split(".", 1)[1]]


def test_every_cancel_reason_has_its_yousign_reason() -> None:
    assert set(CANCEL_REASONS) == set(CancelReason)
    assert set(CANCEL_REASONS.values()) == {"contractualization_aborted", "errors_in_document", "other"}


def test_the_request_carries_the_key_as_external_id_and_lets_the_customer_decline() -> None:
    body = request_body(contract(expires_on=date(2026, 12, 31)), external_id="sign:abc", delivery_mode="email")
    assert body["external_id"] == "sign:abc"
    assert body["delivery_mode"] == "email"
    assert body["signers_allowed_to_decline"] is True
    assert body["timezone"] == "Europe/Paris"
    assert body["audit_trail_locale"] == "fr"
    assert body["expiration_date"] == "2026-12-31"
    assert "5b0c7f0e-2d7a-4c1e-9d56-0f6c1f0d2a11" in body["name"]


def test_without_an_expiry_the_request_keeps_yousigns_default() -> None:
    assert "expiration_date" not in request_body(contract(), external_id="k", delivery_mode="none")


def test_a_signer_with_a_phone_gets_the_code_by_sms_in_e164() -> None:
    signer = Signer(first_name=" Camille ", last_name="Martin", email="c@example.fr", phone="06 12 34 56 78")
    body = signer_body(contract(signer=signer, field=SignatureField(page=2, x=10, y=20)), document_id="d1")
    assert body["info"] == {
        "first_name": "Camille",
        "last_name": "Martin",
        "email": "c@example.fr",
        "locale": "fr",
        "phone_number": "+33612345678",
    }
    assert body["signature_level"] == "electronic_signature"
    assert body["signature_authentication_mode"] == "otp_sms"
    assert body["fields"] == [{"document_id": "d1", "type": "signature", "page": 2, "x": 10, "y": 20}]


def test_a_signer_without_a_phone_gets_the_code_by_email() -> None:
    body = signer_body(contract(), document_id="d1")
    assert body["signature_authentication_mode"] == "otp_email"
    assert "phone_number" not in body["info"]


def test_the_cancel_note_is_sent_only_when_there_is_one() -> None:
    assert cancel_body(CancelReason.CONTRACT_VOIDED, "  ") == {"reason": "contractualization_aborted"}
    assert cancel_body(CancelReason.OTHER, "Dossier retiré") == {"reason": "other", "custom_note": "Dossier retiré"}


@pytest.mark.parametrize("key", ["", "x" * 256, "line\nbreak"])
def test_a_key_yousign_cannot_store_as_external_id_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="clé"):
        external_id_of(key)


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("+32 470 12 34 56", "+32470123456"),
        ("12345", None),
        ("06 12 34", None),
        ("téléphone", None),
    ],
)
def test_phones_are_normalised_to_e164_or_refused(written: str, e164: str | None) -> None:
    assert normalized_phone(written) == e164


def test_a_bad_contract_is_refused_with_every_problem_at_once_before_anything_is_sent() -> None:
    bad = contract(
        pdf=b"<html>",
        file_name="contrat.docx",
        signer=Signer(first_name="", last_name="Martin", email="pas-une-adresse", phone="12"),
        field=SignatureField(page=0),
    )
    with pytest.raises(InvalidInput) as refused:
        check_contract(bad)
    fields = {problem.field for problem in refused.value.problems}
    assert fields == {"signer.first_name", "signer.email", "signer.phone", "pdf", "file_name", "field"}


def test_a_good_contract_passes() -> None:
    check_contract(contract())
