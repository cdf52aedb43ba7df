"""The dossier's documents: the offer and the contract (a page or two per dossier merged with the product's
static general conditions), and the contract's PAdES signature by the embedded e-signature.

Only non-sensitive answers are printed: health answers and bank details never leave their departments."""

from __future__ import annotations

import functools
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from souscription.documents import signature
from souscription.documents.render import (
    ContractData,
    GeneralConditions,
    OfferData,
    format_cents,
    merge_with_general_conditions,
    render_contract,
    render_offer,
)
from souscription.documents.signature import SigningIdentity, sign_pdf
from souscription.products.catalog import ProductVersion
from souscription.products.domain import Slice

SIGNER = "Souscription — signature électronique intégrée"


def offer_pdf(
    version: ProductVersion,
    *,
    subscription_id: str,
    answers: dict[str, Any],
    breakdown: dict[str, Any],
    valid_until: date,
    issued_on: date,
) -> bytes:
    data = OfferData(**_common(version, subscription_id, answers, breakdown, issued_on), valid_until=valid_until)
    return _with_conditions(version, render_offer(data))


def contract_pdf(
    version: ProductVersion,
    *,
    subscription_id: str,
    answers: dict[str, Any],
    breakdown: dict[str, Any],
    exclusions: list[str],
    drafted_by: str,
    effective_on: date,
    issued_on: date,
) -> bytes:
    data = ContractData(
        **_common(version, subscription_id, answers, breakdown, issued_on),
        exclusions=exclusions,
        effective_on=effective_on,
        drafted_by=drafted_by,
    )
    return _with_conditions(version, render_contract(data))


def sign_contract(pdf: bytes, *, signer_name: str, signed_at: datetime) -> bytes:
    return sign_pdf(
        pdf,
        signing_identity(),
        signer_name=signer_name,
        reason="Acceptation du contrat d'assurance",
        location="Souscription en ligne",
        signed_at=signed_at,
    )


def verify_contract(pdf: bytes) -> signature.SignatureCheck:
    """The full check of a signed contract (pyHanko's validation), as anyone holding the certificate runs it."""
    return signature.verify_pdf(pdf, signing_identity())


def seal_added(drafted: bytes, signed: bytes) -> bool:
    """The signed contract is the drafted one plus the embedded e-signature's valid seal (`seal_added`)."""
    return signature.seal_added(drafted, signed, signing_identity())


@functools.cache
def signing_identity() -> SigningIdentity:
    """The embedded e-signature's key and certificate, created once in the data folder (never in the code)."""
    folder = Path(settings.SOUSCRIPTION_DATA_DIR) / "signing"
    return SigningIdentity.load_or_create(folder, common_name="Souscription cachet", now=datetime.now().astimezone())


_GENERAL_CONDITIONS: dict[str, GeneralConditions | None] = {}


def _general_conditions(version: ProductVersion) -> GeneralConditions | None:
    """Parsed once per product version: merging then costs a page copy, not a parse."""
    key = version.definition.key
    if key not in _GENERAL_CONDITIONS:
        pdf = version.general_conditions()
        _GENERAL_CONDITIONS[key] = GeneralConditions(pdf) if pdf else None
    return _GENERAL_CONDITIONS[key]


def _with_conditions(version: ProductVersion, particular: bytes) -> bytes:
    conditions = _general_conditions(version)
    return merge_with_general_conditions(particular, conditions) if conditions else particular


def _common(
    version: ProductVersion, subscription_id: str, answers: dict[str, Any], breakdown: dict[str, Any], issued_on: date
) -> dict[str, Any]:
    definition = version.definition
    shown = [
        (spec.label, _shown(answers[spec.name]))
        for spec in definition.fields()
        if spec.slice is Slice.COMMERCIAL and spec.name in answers
    ]
    name = f"{answers.get('customer.first_name', '')} {answers.get('customer.last_name', '')}".strip()
    return {
        "subscription_id": subscription_id,
        "product_label": definition.label,
        "product_version": definition.version,
        "customer_name": name,
        "customer_email": str(answers.get("customer.email", "")),
        "answers": shown,
        "instalment_cents": int(breakdown["instalment_cents"]),
        "frequency": str(breakdown["frequency"]),
        "price_lines": price_lines(breakdown),
        "issued_on": issued_on,
    }


def price_lines(breakdown: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [("Prime de base", format_cents(int(breakdown["base_cents"])))]
    lines += [(str(f["name"]), f"× {str(f['multiplier']).replace('.', ',')}") for f in breakdown.get("factors", [])]  # noqa: RUF001
    tax = breakdown["tax"]
    lines += [
        ("Prime hors taxe", format_cents(int(breakdown["premium_before_tax_cents"]))),
        (f"{tax['label']} ({str(tax['rate']).replace('.', ',')})", format_cents(int(tax["amount_cents"]))),
        ("Prime annuelle TTC", format_cents(int(breakdown["total_cents"]))),
    ]
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)
