"""The applicant confirms their signature with a one-time code sent to the email of the dossier's contact.

The embedded e-signature's consent (PRODUCT.md: "real PAdES signature with pyHanko, consent by one-time code in
the portal"): a code of 6 digits, valid 10 minutes, 5 attempts, single use; a new code replaces the previous one; at
most 5 codes an hour for one dossier, so the messages cannot be used to flood someone's inbox."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.crypto import salted_hmac

from souscription.audit.context import record_action
from souscription.audit.domain import Action, mask_email
from souscription.customers import services as customers
from souscription.kernel.errors import Conflict, DomainError, InvalidInput, Problem, RateLimited
from souscription.platform import prepared
from souscription.subscriptions import services
from souscription.subscriptions.domain import Stage
from souscription.subscriptions.models import Dossier as DossierRow
from souscription.subscriptions.models import SignatureChallenge

VALIDITY = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 5
DATABASE = services.DATABASE


class SignatureNotExpected(Conflict):
    code = "signature_not_expected"
    message = "Le contrat n'attend pas de signature : il faut qu'il soit rédigé et envoyé pour signature."


class NoContactEmail(Conflict):
    code = "no_contact_email"
    message = "Aucune adresse e-mail n'est connue pour ce dossier : complétez l'étape des coordonnées."


class TooManyCodes(RateLimited):
    code = "signature_codes_exhausted"
    message = "Trop de codes demandés pour ce dossier : réessayez dans une heure."


class CodeLocked(Conflict):
    code = "signature_code_locked"
    message = "Trop d'essais avec ce code : demandez un nouveau code de signature."


@dataclass(frozen=True)
class CodeSent:
    sent_to: str
    expires_at: datetime


def send_code(subscription_id: str, *, now: datetime) -> CodeSent:
    row, dossier = services.load(subscription_id)
    if dossier.stage is not Stage.AWAITING_SIGNATURE:
        raise SignatureNotExpected(field="subscription_id")
    contact = customers.contact_of(row.customer_id) if row.customer_id else None
    if contact is None or not contact.email:
        raise NoContactEmail(field="customer.email")
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic(using=DATABASE):
        sent = _challenges(row)  # a dossier's few codes, oldest first
        hour_ago = now - timedelta(hours=1)
        recent = [challenge.created_at for challenge in sent if challenge.created_at > hour_ago]
        if len(recent) >= MAX_CODES_PER_HOUR:
            frees_at = recent[0] + timedelta(hours=1)
            raise TooManyCodes(retry_after_seconds=int((frees_at - now).total_seconds()) + 1, field="subscription_id")
        for earlier in sent:
            if earlier.used_at is None:  # a new code replaces the ones not used
                earlier.expires_at = now
                prepared.update_all(earlier, fields=("expires_at",))
        challenge = SignatureChallenge(
            dossier=row,
            code_hmac=_keyed(code, row.subscription_id),
            sent_to=mask_email(contact.email),
            created_at=now,
            expires_at=now + VALIDITY,
        )
        prepared.insert(challenge, using=DATABASE)
    customers.send_message(
        recipient=contact.email,
        subject=f"Votre code de signature · {subscription_id}",
        body=(
            f"Bonjour,\n\nVotre code pour signer le contrat du dossier {subscription_id} est {code}. "
            "Il est valable 10 minutes et ne sert qu'une fois. Ne le communiquez à personne : "
            "nos conseillers ne vous le demanderont jamais."
        ),
        at=now,
    )
    return CodeSent(sent_to=challenge.sent_to, expires_at=challenge.expires_at)


def confirm(subscription_id: str, code: str, *, now: datetime) -> None:
    """Accept the code of the latest challenge once, or refuse it (the failed attempt stays counted)."""
    row, _dossier = services.load(subscription_id)
    refusal: DomainError | None = None
    with transaction.atomic(using=DATABASE):
        unused = [challenge for challenge in _challenges(row) if challenge.used_at is None]
        challenge = unused[-1] if unused else None  # the latest
        if challenge is None or challenge.expires_at <= now:
            refusal = _wrong(
                "signature_code_expired", "Code expiré ou inconnu : demandez un nouveau code de signature."
            )
        elif challenge.attempts >= MAX_ATTEMPTS:
            refusal = CodeLocked(field="code")
        elif not hmac.compare_digest(challenge.code_hmac, _keyed(code.strip(), row.subscription_id)):
            challenge.attempts += 1
            prepared.update_all(challenge, fields=("attempts",))
            left = MAX_ATTEMPTS - challenge.attempts
            refusal = _wrong("signature_code_wrong", f"Code incorrect : {left} essai(s) restant(s).")
        else:
            challenge.used_at = now
            prepared.update_all(challenge, fields=("used_at",))
            record_action(
                database=DATABASE,
                action=Action.SIGN,
                record_type="signature_consent",
                record_id=challenge.id,
                details={"subscription_id": subscription_id, "sent_to": challenge.sent_to},
            )
    if refusal is not None:  # raised after the commit, so that a wrong attempt stays counted
        raise refusal


def _challenges(row: DossierRow) -> list[SignatureChallenge]:
    """The dossier's signature codes, oldest first, locked for the transaction (one statement, compiled once)."""
    return prepared.rows(
        SignatureChallenge,
        where={"dossier_id": row.pk},
        order_by=("created_at",),
        for_update=True,
        using=DATABASE,
    )


def _wrong(code: str, message: str) -> InvalidInput:
    return InvalidInput([Problem(code, message, "code")])


def _keyed(code: str, subscription_id: str) -> str:
    return salted_hmac("souscription.signature-code", f"{subscription_id}:{code}", algorithm="sha256").hexdigest()
