"""Consent purposes and the texts a person agrees to, each purpose with its versions. Pure: no Django.

The texts are data: a new wording is a new version added below, and the newest version of a purpose is the one in
force. A consent given on an older text no longer counts, so the person is asked again on the new text (a changed
text is a changed agreement: GDPR art. 7(2), consent "in an intelligible and easily accessible form")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from souscription.kernel.errors import Conflict, DomainError, NotFound, Problem


class Purpose(StrEnum):
    """Why the consent is asked. The value is stable (stored, in the API's paths)."""

    HEALTH_DATA = "health_data"


@dataclass(frozen=True)
class ConsentText:
    purpose: Purpose
    version: str
    title: str
    text: str
    legal_basis: str


TEXTS: tuple[ConsentText, ...] = (
    ConsentText(
        purpose=Purpose.HEALTH_DATA,
        version="2026-01",
        title="Consentement au traitement de vos données de santé",
        text=(
            "J'accepte que l'assureur traite les réponses que je donne au questionnaire de santé (tabac, alcool, "
            "maladies) dans le seul but d'étudier ma demande d'assurance, d'en fixer le tarif et, si le contrat est "
            "conclu, de le gérer. Ces données sont chiffrées et réservées au service juridique (enquêteur, "
            "estimateur, juriste). Je peux retirer ce consentement à tout moment ; le retrait ne remet pas en cause "
            "ce qui a été fait avant lui, mais ma demande ne pourra plus être étudiée sans ce questionnaire."
        ),
        legal_basis="RGPD art. 9(2)(a) : consentement explicite",
    ),
)
"""Every text ever shown, oldest first within a purpose: never edit a published text, add a version."""


class UnknownPurpose(NotFound):
    code = "unknown_consent_purpose"
    message = "Finalité de consentement inconnue. Finalités possibles : " + ", ".join(p.value for p in Purpose) + "."


class OutdatedConsentText(DomainError):
    code = "consent_text_outdated"
    message = "Ce texte de consentement n'est plus en vigueur : relisez le texte actuel et acceptez-le."


class ConsentNotInForce(Conflict):
    code = "consent_not_in_force"
    message = "Aucun consentement en vigueur pour cette finalité sur ce dossier : rien à retirer."


_REQUIRED_MESSAGES: dict[Purpose, str] = {
    Purpose.HEALTH_DATA: (
        "Le questionnaire de santé n'est accepté qu'avec votre consentement explicite au traitement de vos données "
        "de santé : lisez le texte et donnez votre accord (finalité « health_data », "
        "POST /api/v1/dossiers/{id}/consents), puis renvoyez vos réponses."
    ),
}


def consent_required(purpose: Purpose) -> Problem:
    """The per-field problem of an answer sent without the consent its purpose needs (code, French message, field
    `consents.<purpose>`), reported with the step's other problems."""
    return Problem(f"{purpose.value}_consent_required", _REQUIRED_MESSAGES[purpose], f"consents.{purpose.value}")


def parse_purpose(value: str) -> Purpose:
    try:
        return Purpose(value)
    except ValueError:
        raise UnknownPurpose(field="purpose") from None


def current_text(purpose: Purpose) -> ConsentText:
    """The text in force for a purpose: its newest version."""
    return [text for text in TEXTS if text.purpose is purpose][-1]


def check_is_current(purpose: Purpose, version: str) -> ConsentText:
    text = current_text(purpose)
    if version != text.version:
        raise OutdatedConsentText(field="text_version")
    return text
