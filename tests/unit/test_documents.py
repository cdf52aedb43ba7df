"""Contract documents: the offer and the contract render what the dossier says, carry the general conditions, and
the insurer's seal tells an untouched document from a modified one or one sealed by someone else."""

from __future__ import annotations

import io
import os
import stat
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from souscription.documents.render import (
    ContractData,
    GeneralConditions,
    OfferData,
    format_cents,
    format_date,
    merge_with_general_conditions,
    render_contract,
    render_offer,
)
from souscription.documents.signature import (
    CERT_FILE,
    KEY_FILE,
    SigningIdentity,
    SigningIdentityError,
    container_in,
    seal_added,
    sign_pdf,
    verify_pdf,
)
from souscription.products.catalog import BUILT_IN

NOW = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)
CAR_CONDITIONS = BUILT_IN / "garantie_automobile" / "2026.1" / "general_conditions.pdf"
OFFER = OfferData(
    subscription_id="SUB-2026-000042",
    product_label="Garantie panne mécanique automobile",
    product_version="2026.1",
    customer_name="Élodie Marchand",
    customer_email="elodie.marchand@exemple.fr",
    answers=[("Immatriculation", "AB-123-CD"), ("Marque", "Peugeot"), ("Énergie", "diesel")],
    instalment_cents=123_456,
    frequency="monthly",
    price_lines=[("Prime de base", "420,00 €"), ("Âge du véhicule", "× 1,15"), ("Total annuel TTC", "526,47 €")],  # noqa: RUF001
    issued_on=date(2026, 11, 21),
    valid_until=date(2026, 12, 21),
)
CONTRACT = ContractData(
    subscription_id="SUB-2026-000042",
    product_label="Garantie panne mécanique automobile",
    product_version="2026.1",
    customer_name="Élodie Marchand",
    customer_email="elodie.marchand@exemple.fr",
    answers=[("Immatriculation", "AB-123-CD")],
    instalment_cents=4_999,
    frequency="annual",
    price_lines=[("Prime de base", "49,99 €")],
    issued_on=date(2026, 11, 21),
    exclusions=["Dommages liés à l'usage du véhicule en compétition."],
    effective_on=date(2026, 12, 1),
    drafted_by="Maître Claire Dubois, juriste",
)


def text_of(pdf: bytes) -> str:
    """The text of every page, no-break spaces read as spaces (what a reader sees)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\u00a0", " ")


def sign(pdf: bytes, identity: SigningIdentity) -> bytes:
    return sign_pdf(
        pdf, identity, signer_name="Souscription", reason="Conditions particulières", location="Paris", signed_at=NOW
    )


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> SigningIdentity:
    return SigningIdentity.load_or_create(tmp_path_factory.mktemp("seal"), common_name="Cachet Souscription", now=NOW)


@pytest.fixture(scope="module")
def sealed_contract(identity: SigningIdentity) -> bytes:
    return sign(merge_with_general_conditions(render_contract(CONTRACT), CAR_CONDITIONS.read_bytes()), identity)


# Rendering


def test_the_offer_shows_the_subscription_id_the_customer_and_the_premium_per_instalment() -> None:
    text = text_of(render_offer(OFFER))

    assert "Proposition d'assurance" in text
    assert "SUB-2026-000042" in text
    assert "Élodie Marchand" in text
    assert "elodie.marchand@exemple.fr" in text
    assert "1 234,56 € par échéance — paiement mensuel" in text
    assert "Valable jusqu'au" in text
    assert "21 décembre 2026" in text


def test_the_offer_lists_the_answers_and_the_price_lines_it_is_given() -> None:
    text = text_of(render_offer(OFFER))

    for label, value in [*OFFER.answers, *OFFER.price_lines]:
        assert label in text
        assert value in text


def test_the_contract_shows_the_effective_date_the_exclusions_and_who_drafted_it() -> None:
    text = text_of(render_contract(CONTRACT))

    assert "Conditions particulières" in text
    assert "SUB-2026-000042" in text
    assert "49,99 € par échéance — paiement annuel" in text
    assert "Date d'effet" in text
    assert "1er décembre 2026" in text
    assert "Dommages liés à l'usage du véhicule en compétition." in text
    assert "Maître Claire Dubois, juriste" in text


def test_a_contract_without_exclusions_says_only_the_general_exclusions_apply() -> None:
    text = text_of(render_contract(replace(CONTRACT, exclusions=[])))

    assert "seules les exclusions des conditions générales s'appliquent" in text


def test_customer_text_is_printed_as_typed_never_read_as_markup() -> None:
    text = text_of(render_offer(replace(OFFER, answers=[("Marque", "<b>Rolls & Royce</b>")])))

    assert "<b>Rolls & Royce</b>" in text


def test_letters_the_standard_fonts_lack_lose_their_accents_rather_than_print_as_blanks() -> None:
    text = text_of(
        render_offer(replace(OFFER, customer_name="Łukasz Wójcik-Nguyễn", answers=[("Ville", "Ștefănești")]))
    )

    assert "Lukasz Wójcik-Nguyen" in text
    assert "Stefanesti" in text


def test_a_value_taller_than_a_page_goes_on_over_the_next_page() -> None:
    pdf = render_offer(replace(OFFER, answers=[("Précisions", "mot " * 2000)]))

    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 3
    assert text_of(pdf).count("mot") == 2000


def test_answers_that_do_not_fit_on_one_page_flow_onto_the_next() -> None:
    answers = [(f"Question {number}", f"Réponse {number}") for number in range(60)]

    pdf = render_offer(replace(OFFER, answers=answers))

    assert len(PdfReader(io.BytesIO(pdf)).pages) == 2
    assert "Réponse 59" in text_of(pdf)


def test_the_same_data_gives_the_same_bytes() -> None:
    assert render_offer(OFFER) == render_offer(OFFER)
    assert render_contract(CONTRACT) == render_contract(CONTRACT)


def test_the_document_dates_are_the_issue_date_not_the_clock() -> None:
    metadata = PdfReader(io.BytesIO(render_offer(OFFER))).metadata

    assert metadata is not None
    assert metadata["/CreationDate"].startswith("D:20261121")


def test_amounts_are_written_the_french_way_with_no_break_spaces() -> None:
    assert format_cents(1_234) == "12,34\u00a0€"
    assert format_cents(5) == "0,05\u00a0€"
    assert format_cents(123_456_789) == "1\u00a0234\u00a0567,89\u00a0€"
    assert format_date(date(2026, 12, 1)) == "1er décembre 2026"
    assert format_date(date(2026, 8, 15)) == "15 août 2026"


def test_a_subscription_id_outside_the_format_is_refused() -> None:
    with pytest.raises(ValueError, match="SUB-YYYY-NNNNNN"):
        replace(OFFER, subscription_id="SUB-26-42")


def test_an_unknown_billing_frequency_is_refused() -> None:
    with pytest.raises(ValueError, match="frequency"):
        replace(OFFER, frequency="weekly")


# General conditions and merging


@pytest.mark.parametrize("product", ["garantie_automobile", "prevoyance_individuelle"])
def test_each_product_ships_small_general_conditions_of_two_or_three_pages(product: str) -> None:
    pdf = (BUILT_IN / product / "2026.1" / "general_conditions.pdf").read_bytes()

    assert len(pdf) < 30_000
    assert 2 <= len(PdfReader(io.BytesIO(pdf)).pages) <= 3
    text = text_of(pdf)
    for article in ("Objet du contrat", "Exclusions générales", "prélèvement SEPA", "Résiliation", "médiation"):
        assert article in text


def test_merging_puts_the_dossier_pages_first_then_every_general_conditions_page() -> None:
    conditions = GeneralConditions(CAR_CONDITIONS.read_bytes())
    offer = render_offer(OFFER)

    merged = PdfReader(io.BytesIO(merge_with_general_conditions(offer, conditions)))

    assert len(merged.pages) == 1 + conditions.page_count
    assert "Proposition d'assurance" in merged.pages[0].extract_text()
    assert all("Conditions générales" in page.extract_text() for page in merged.pages[1:])
    assert merged.metadata is not None
    assert merged.metadata.title == "Proposition d'assurance SUB-2026-000042"


def test_merging_accepts_the_general_conditions_as_raw_bytes_too() -> None:
    from_bytes = merge_with_general_conditions(render_offer(OFFER), CAR_CONDITIONS.read_bytes())
    from_parsed = merge_with_general_conditions(render_offer(OFFER), GeneralConditions(CAR_CONDITIONS.read_bytes()))

    assert text_of(from_bytes) == text_of(from_parsed)


# Seal


def test_a_sealed_document_verifies_as_intact_valid_and_trusted(
    identity: SigningIdentity, sealed_contract: bytes
) -> None:
    check = verify_pdf(sealed_contract, identity)

    assert check.intact
    assert check.valid
    assert check.trusted
    assert check.coverage == "ENTIRE_FILE"
    assert check.ok
    assert check.signer == "Cachet Souscription"
    assert check.signed_at == NOW


def test_the_seal_is_a_pades_signature_in_a_new_field(sealed_contract: bytes) -> None:
    reader = PdfReader(io.BytesIO(sealed_contract))
    fields = reader.get_fields() or {}

    assert [field.get("/FT") for field in fields.values()] == ["/Sig"]
    signature = next(iter(fields.values()))["/V"]
    assert signature["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature["/M"].startswith("D:20261121143000")
    assert signature["/Reason"] == "Conditions particulières"


def test_a_byte_changed_after_sealing_breaks_the_seal(identity: SigningIdentity, sealed_contract: bytes) -> None:
    tampered = sealed_contract.replace(b"/Author (Souscription)", b"/Author (Souscriptiom)", 1)
    assert tampered != sealed_contract

    check = verify_pdf(tampered, identity)

    assert not (check.intact and check.valid)
    assert not check.ok


def test_a_damaged_file_is_reported_unreadable_not_raised(identity: SigningIdentity, sealed_contract: bytes) -> None:
    check = verify_pdf(sealed_contract[: len(sealed_contract) // 2], identity)

    assert check.coverage == "UNREADABLE"
    assert not check.ok


def test_a_document_sealed_by_another_identity_is_not_trusted(identity: SigningIdentity) -> None:
    impostor = SigningIdentity.generate(common_name="Cachet Souscription", now=NOW)
    pdf = sign(render_offer(OFFER), impostor)

    check = verify_pdf(pdf, identity)

    assert check.intact
    assert check.valid
    assert not check.trusted
    assert not check.ok
    assert verify_pdf(pdf, impostor).trusted


def test_an_unsigned_document_is_reported_unsigned_not_raised(identity: SigningIdentity) -> None:
    check = verify_pdf(render_offer(OFFER), identity)

    assert check.coverage == "UNSIGNED"
    assert not check.ok


def test_sealing_outside_the_certificate_validity_or_with_a_naive_time_is_refused(identity: SigningIdentity) -> None:
    pdf = render_offer(OFFER)

    with pytest.raises(ValueError, match="not valid"):
        sign_pdf(pdf, identity, signer_name="S", reason="R", location="L", signed_at=NOW - timedelta(days=2))
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_pdf(pdf, identity, signer_name="S", reason="R", location="L", signed_at=NOW.replace(tzinfo=None))


# Keys


def test_load_or_create_creates_the_identity_once_then_loads_the_same_one(tmp_path: Path) -> None:
    first = SigningIdentity.load_or_create(tmp_path, common_name="Cachet Souscription", now=NOW)
    again = SigningIdentity.load_or_create(tmp_path, common_name="ignored once created", now=NOW + timedelta(days=9))

    assert again.certificate == first.certificate
    assert again.common_name == "Cachet Souscription"
    assert verify_pdf(sign(render_offer(OFFER), first), again).trusted


def test_the_private_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    SigningIdentity.load_or_create(tmp_path, common_name="Cachet Souscription", now=NOW)

    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600
    assert (tmp_path / CERT_FILE).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert sorted(path.name for path in tmp_path.iterdir()) == [CERT_FILE, KEY_FILE]


def test_a_key_without_its_certificate_is_an_error_not_a_new_identity(tmp_path: Path) -> None:
    SigningIdentity.load_or_create(tmp_path, common_name="Cachet Souscription", now=NOW)
    (tmp_path / CERT_FILE).unlink()

    with pytest.raises(SigningIdentityError, match="without"):
        SigningIdentity.load_or_create(tmp_path, common_name="Cachet Souscription", now=NOW)


# The check run right after sealing


def _sealed_pair(identity: SigningIdentity) -> tuple[bytes, bytes]:
    unsealed = merge_with_general_conditions(render_contract(CONTRACT), CAR_CONDITIONS.read_bytes())
    return unsealed, sign(unsealed, identity)


def test_a_fresh_seal_is_recognised_as_the_one_verify_pdf_accepts(identity: SigningIdentity) -> None:
    unsealed, sealed = _sealed_pair(identity)

    assert seal_added(unsealed, sealed, identity)
    assert verify_pdf(sealed, identity).ok


def test_a_fresh_seal_by_an_rsa_identity_is_recognised_too() -> None:
    rsa_identity = SigningIdentity.generate(common_name="Cachet RSA", now=NOW, key_type="rsa-2048")
    unsealed, sealed = _sealed_pair(rsa_identity)

    assert seal_added(unsealed, sealed, rsa_identity)


def test_a_seal_by_another_key_or_over_other_bytes_is_refused(identity: SigningIdentity) -> None:
    unsealed, sealed = _sealed_pair(identity)
    impostor = SigningIdentity.generate(common_name="Cachet Souscription", now=NOW)

    assert not seal_added(unsealed, sealed, impostor)
    assert not seal_added(unsealed.replace(b"Souscription", b"Souscriptiom", 1), sealed, identity)  # not a prefix
    assert not seal_added(unsealed, sealed + b"\n% appended", identity)  # bytes outside the byte range
    assert not seal_added(unsealed, sealed[:-10], identity)
    assert not seal_added(unsealed, unsealed, identity)  # nothing was added


def test_any_byte_changed_in_the_signed_revision_is_refused(identity: SigningIdentity) -> None:
    unsealed, sealed = _sealed_pair(identity)
    start = sealed.index(b"/ByteRange", len(unsealed))
    contents = sealed.index(b"/Contents <", len(unsealed)) + len(b"/Contents <")
    # Bytes of the appended revision: around the byte range, in the signature container, and in the trailer.
    for position in (start + 12, contents + 40, contents + 200, len(sealed) - 20, len(unsealed) + 5):
        flipped = bytearray(sealed)
        flipped[position] ^= 0x01
        tampered = bytes(flipped)

        assert not seal_added(unsealed, tampered, identity), position
        if not contents <= position < sealed.index(b">", contents):  # pyHanko ignores the container's padding
            assert not verify_pdf(tampered, identity).ok, position


def test_the_signature_container_is_cut_by_its_length_not_by_stripping_zeros() -> None:
    value_ending_in_zero = b"\x04\x03\x01\x02\x00"  # a DER octet string whose last byte is 0

    assert container_in(value_ending_in_zero + b"\0" * 12) == value_ending_in_zero
    assert container_in(value_ending_in_zero) == value_ending_in_zero
    assert container_in(value_ending_in_zero + b"\0\0\x01\0") is None  # something else in the padding
    assert container_in(b"\x04\x09\x01") is None  # shorter than its header says
