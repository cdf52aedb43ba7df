"""The e-signature port, provider-neutral: what the platform asks of any e-signature service, in its own words.

A contract goes out for signature once per dossier step (`send_for_signature` with the caller's key), its status is
read back (or pushed by the provider's webhooks), the signed PDF is fetched once the customer has signed, and a
request still open is cancelled when the contract is voided (compensation). Pure: no HTTP, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from souscription.kernel.errors import DomainError, InvalidInput, Problem


class SignatureStatus(StrEnum):
    """The dossier's `signature_status` (issue 5): the provider's states are mapped onto these."""

    DRAFT = "draft"
    ONGOING = "ongoing"
    DONE = "done"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELED = "canceled"

    @classmethod
    def final(cls) -> frozenset[SignatureStatus]:
        """Nothing more happens to the request: the dossier moves on (signed) or needs a new request."""
        return frozenset({cls.DONE, cls.DECLINED, cls.EXPIRED, cls.CANCELED})

    @classmethod
    def open(cls) -> frozenset[SignatureStatus]:
        """The request may still be signed, so voiding the contract must cancel it."""
        return frozenset({cls.DRAFT, cls.ONGOING})


class CancelReason(StrEnum):
    CONTRACT_VOIDED = "contract_voided"
    """The dossier was withdrawn or the contract voided: the customer must not sign it any more."""
    DOCUMENT_ERROR = "document_error"
    """The contract sent holds an error; a corrected one follows under a new request."""
    OTHER = "other"


class SignatureEventKind(StrEnum):
    """What a provider's notification says happened, in the platform's words."""

    ACTIVATED = "activated"
    APPROVED = "approved"
    REACTIVATED = "reactivated"
    SIGNER_NOTIFIED = "signer_notified"
    SIGNER_OPENED = "signer_opened"
    SIGNER_SIGNED = "signer_signed"
    REMINDER_SENT = "reminder_sent"
    APPROVER_APPROVED = "approver_approved"
    APPROVER_REJECTED = "approver_rejected"
    DONE = "done"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELED = "canceled"
    REJECTED = "rejected"
    DELETED = "deleted"


@dataclass(frozen=True)
class Signer:
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    """Any usual French or E.164 form; when given, the one-time code goes by SMS rather than by email."""
    locale: str = "fr"


@dataclass(frozen=True)
class SignatureField:
    """Where the signer signs: page numbered from 1, coordinates in PDF points from the page's top left corner."""

    page: int = 1
    x: int = 340
    y: int = 700


@dataclass(frozen=True)
class ContractForSignature:
    subscription_id: str
    pdf: bytes
    file_name: str
    signer: Signer
    title: str = "Contrat d'assurance"
    """What the customer reads in the provider's emails."""
    field: SignatureField = SignatureField()
    expires_on: date | None = None
    """The last day the customer may sign; None keeps the provider's default."""


@dataclass(frozen=True)
class SignatureRequest:
    request_id: str
    status: SignatureStatus
    vendor_status: str
    """The provider's own word, kept for the ops screens and the logs."""
    external_id: str = ""


@dataclass(frozen=True)
class SignedContract:
    request_id: str
    pdf: bytes


@dataclass(frozen=True)
class SignatureEvent:
    """A verified provider notification. `status` is the status the event moves the request to, or None when it
    changes nothing (a reminder, a link opened). Events may come twice or out of order: de-duplicate by `event_id`
    and never move a dossier backwards on `occurred_at`."""

    event_id: str
    event_name: str
    kind: SignatureEventKind
    status: SignatureStatus | None
    occurred_at: datetime
    request_id: str
    external_id: str
    signer_id: str = ""


class SignatureNotDone(DomainError):
    code = "signature_not_done"
    message = "Le contrat n'est pas encore signé : le document signé n'existe pas encore."

    def __init__(self, status: SignatureStatus) -> None:
        self.status = status
        super().__init__(f"Le contrat n'est pas signé (statut de la signature : {status.value}).")


class SignaturePort(Protocol):
    def send_for_signature(self, contract: ContractForSignature, *, key: str) -> SignatureRequest:
        """Send the contract to its signer; the same `key` always returns the same request, never a second one."""
        ...

    def status(self, request_id: str) -> SignatureRequest: ...

    def signed_document(self, request_id: str) -> SignedContract:
        """The signed PDF; `SignatureNotDone` while the customer has not signed."""
        ...

    def cancel(self, request_id: str, *, reason: CancelReason, note: str, key: str) -> SignatureRequest:
        """Stop a request still open (compensation). A request already final is left as it is and returned: a
        signed contract (DONE) cannot be taken back by cancelling its request, the caller decides what follows."""
        ...

    def read_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> SignatureEvent:
        """The event a genuine provider notification carries; `WebhookRejected` for anything else."""
        ...


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_FILE_NAME = re.compile(r"[^\\/\"]+\.pdf", re.IGNORECASE)


def check_contract(contract: ContractForSignature) -> None:
    """Every problem at once, before anything is sent: a provider refusal costs a round trip and a parked step."""
    problems = [*_signer_problems(contract.signer), *_document_problems(contract)]
    if problems:
        raise InvalidInput(problems)


def _signer_problems(signer: Signer) -> list[Problem]:
    problems = []
    for name, label in (("first_name", "prénom"), ("last_name", "nom")):
        if not getattr(signer, name).strip():
            problems.append(Problem("required", f"Le {label} du signataire est obligatoire.", f"signer.{name}"))
    if not _EMAIL.fullmatch(signer.email.strip()):
        problems.append(
            Problem("invalid_email", "L'adresse e-mail du signataire est invalide (nom@domaine.fr).", "signer.email")
        )
    if signer.phone is not None and normalized_phone(signer.phone) is None:
        problems.append(
            Problem(
                "invalid_phone",
                "Le téléphone du signataire est invalide : 06 12 34 56 78 ou +33 6 12 34 56 78.",
                "signer.phone",
            )
        )
    return problems


def _document_problems(contract: ContractForSignature) -> list[Problem]:
    problems = []
    if not contract.pdf.startswith(b"%PDF-"):
        problems.append(Problem("not_a_pdf", "Le contrat à signer doit être un PDF.", "pdf"))
    name = contract.file_name
    if not _FILE_NAME.fullmatch(name) or name != name.strip():
        problems.append(
            Problem(
                "invalid_file_name", 'Le nom du fichier doit finir par .pdf, sans « / », « \\ » ni « " ».', "file_name"
            )
        )
    if contract.field.page < 1 or contract.field.x < 0 or contract.field.y < 0:
        problems.append(
            Problem("invalid_field", "L'emplacement de la signature est hors de la page (page 1 et plus).", "field")
        )
    return problems


def normalized_phone(phone: str) -> str | None:
    """E.164 (`+33612345678`) from the usual written forms; a French national number (0X XX XX XX XX) gets +33.
    None when it cannot be a phone number."""
    compact = re.sub(r"[\s.\-()]", "", phone)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"0[1-9]\d{8}", compact):
        compact = "+33" + compact[1:]
    return compact if re.fullmatch(r"\+[1-9]\d{7,14}", compact) else None
