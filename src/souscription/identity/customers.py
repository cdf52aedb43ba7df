"""Customer accounts of the portal: registration, email verification, sign-in with an emailed code, password reset.

A customer account is a `User` with `account_type` customer and never a role, so the access policy gives it
nothing of the staff's; it acts as the applicant on the dossiers it opened. Messages leave through the `Outbox`
port the entry point passes (the portal inbox of customer service today): this context does not know how they
travel. Nothing here tells whether an address has an account: registration and reset answer the same either way,
and the owner of an address already used gets a notice instead of a second account."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping, MutableMapping
from datetime import datetime
from typing import Any, Protocol

from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from souscription.audit import context as audit_context
from souscription.audit.domain import Action
from souscription.identity import one_time
from souscription.identity.models import AccountType, OneTimeSecret, User
from souscription.identity.second_factor import check_sign_in_allowed, record_failed_sign_in, record_successful_sign_in
from souscription.identity.services import end_every_session
from souscription.kernel.errors import DomainError, InvalidInput, NotAuthenticated, Problem

Purpose = OneTimeSecret.Purpose
PENDING_KEY = "souscription_portal_pending"
"""Session key: the account whose password was accepted and whose emailed code is awaited, with the time."""
SIGNED_IN_KEY = "souscription_portal_signed_in"
"""Session key: the account whose emailed code was accepted (the second factor of a customer session)."""


class Outbox(Protocol):
    """Sends a message to a customer (`customers.services.send_message` in the portal)."""

    def __call__(self, *, recipient: str, subject: str, body: str, at: datetime) -> None: ...


class WrongCredentials(NotAuthenticated):
    code = "invalid_credentials"
    message = "Adresse e-mail ou mot de passe incorrect."


class EmailUnverified(DomainError):
    code = "email_unverified"
    message = (
        "Votre adresse e-mail n'est pas encore vérifiée : ouvrez le lien du message reçu à l'inscription, ou "
        "inscrivez-vous à nouveau avec la même adresse pour en recevoir un nouveau."
    )


class NoPendingSignIn(NotAuthenticated):
    code = "sign_in_not_started"
    message = "Aucune connexion en cours ou elle a expiré : saisissez à nouveau votre e-mail et votre mot de passe."


# -- registration and verification -------------------------------------------------------------------------------


def register(
    *, email: str, password: str, first_name: str, last_name: str, verification_page: str, send: Outbox, now: datetime
) -> None:
    """Create an unverified customer account and send its verification link; for an address already used, send its
    owner a notice (or a new link, when that account is still unverified) and answer the same."""
    email = email.strip().lower()
    candidate = User(email=email, first_name=first_name.strip(), last_name=last_name.strip())
    _check_registration(candidate, password)
    existing = User.objects.filter(email=email).first()
    if existing is None:
        try:
            with transaction.atomic(using="default"):
                candidate.account_type = AccountType.CUSTOMER
                candidate.set_password(password)
                candidate.save()
                token = one_time.issue_token(candidate, purpose=Purpose.EMAIL_VERIFICATION, now=now)
                _record(candidate, Action.CREATE, change="registered")
        except IntegrityError:  # registered at the same moment by another request
            existing = User.objects.get(email=email)
        else:
            _send_verification(candidate, token, page=verification_page, send=send, now=now)
            return
    make_password(password)  # the same work as a new account, so the answer's timing tells nothing either
    if existing.is_customer and existing.email_verified_at is None and existing.is_active:
        # Whoever registers last and then verifies the address owns the account: an earlier, unverified
        # registration (perhaps someone else's, squatting the address) keeps neither its password nor its names.
        existing.set_password(password)
        existing.first_name, existing.last_name = candidate.first_name, candidate.last_name
        existing.save(update_fields=["password", "first_name", "last_name"])
        token = one_time.issue_token(existing, purpose=Purpose.EMAIL_VERIFICATION, now=now)
        _send_verification(existing, token, page=verification_page, send=send, now=now)
        return
    send(
        recipient=existing.email,
        subject="Tentative d'inscription avec votre adresse",
        body=(
            "Bonjour,\n\nQuelqu'un a demandé à créer un espace client avec votre adresse e-mail, qui a déjà un "
            "compte. Si c'était vous, connectez-vous, ou choisissez « Mot de passe oublié » sur la page de "
            "connexion. Sinon, vous pouvez ignorer ce message : votre compte n'a pas changé."
        ),
        at=now,
    )


def verify_email(*, token: str, now: datetime) -> User:
    """Mark the account's address verified; the link works once, for 48 hours."""
    with transaction.atomic(using="default"):
        user = one_time.take_token(token, purpose=Purpose.EMAIL_VERIFICATION, now=now)
        if user.email_verified_at is None:
            user.email_verified_at = now
            user.save(update_fields=["email_verified_at"])
        _record(user, Action.CHANGE, change="email_verified")
    return user


def _check_registration(candidate: User, password: str) -> None:
    problems: list[Problem] = []
    try:
        validate_email(candidate.email)
    except DjangoValidationError:
        problems.append(Problem("invalid_email", "Adresse e-mail invalide (exemple : prenom.nom@exemple.fr).", "email"))
    for field, label in (("first_name", "votre prénom"), ("last_name", "votre nom")):
        if not getattr(candidate, field):
            problems.append(Problem(f"{field}_required", f"Indiquez {label}.", field))
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as error:
        problems.append(Problem("weak_password", " ".join(error.messages), "password"))
    if problems:
        raise InvalidInput(problems)


def _send_verification(user: User, token: str, *, page: str, send: Outbox, now: datetime) -> None:
    send(
        recipient=user.email,
        subject="Confirmez votre adresse e-mail",
        body=(
            f"Bonjour {user.first_name},\n\nPour activer votre espace client, ouvrez ce lien dans les 48 heures :\n"
            f"{page}?jeton={token}\n\nSi vous n'avez pas demandé de compte, ignorez ce message."
        ),
        at=now,
    )


# -- sign-in: the password, then a code sent by message -----------------------------------------------------------


def check_password(*, request: HttpRequest, email: str, password: str, now: datetime) -> User:
    """The verified customer account these credentials open; wrong passwords are limited per address, as staff's."""
    email = email.strip().lower()
    check_sign_in_allowed(email, now=now)
    user = authenticate(request, username=email, password=password)  # a failure is audited by Django's signal
    if isinstance(user, User) and not user.is_customer:
        # A staff account signs in on the staff pages only: here it fails like a wrong password.
        user_login_failed.send(sender=__name__, credentials={"username": email}, request=request)
        user = None
    if not isinstance(user, User):
        record_failed_sign_in(email, now=now)
        raise WrongCredentials(field="password")
    record_successful_sign_in(email)
    if user.email_verified_at is None:
        raise EmailUnverified(field="email")
    return user


def send_sign_in_code(*, user: User, send: Outbox, now: datetime) -> None:
    """A new code to the account's verified address; the previous code stops working."""
    code = one_time.issue_code(user, now=now)
    send(
        recipient=user.email,
        subject="Votre code de connexion",
        body=(
            f"Votre code de connexion à l'espace client : {code}\n\nIl est valable 10 minutes et ne sert qu'une "
            "fois. Si vous n'êtes pas à l'origine de cette connexion, changez votre mot de passe."
        ),
        at=now,
    )


def start_pending(session: MutableMapping[str, Any], *, user: User) -> None:
    # The account's session hash binds the pending sign-in to the password it was given with: a reset in between
    # ends it, as it ends every session.
    session[PENDING_KEY] = {"account": int(user.pk), "at": int(time.time()), "hash": user.get_session_auth_hash()}


def pending_account(session: Mapping[str, Any]) -> User | None:
    """The account awaiting its code in this session, while its code may still be valid (10 minutes)."""
    pending = session.get(PENDING_KEY)
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("at"), int)
        or not isinstance(pending.get("account"), int)
    ):
        return None
    if time.time() - pending["at"] > one_time.CODE_LIFETIME.total_seconds():
        return None
    user = User.objects.filter(pk=pending["account"], account_type=AccountType.CUSTOMER, is_active=True).first()
    if user is None or not hmac.compare_digest(str(pending.get("hash", "")), user.get_session_auth_hash()):
        return None
    return user


def confirm_code(*, user: User, code: str, now: datetime) -> None:
    """Accept the emailed code (once), or count the attempt and raise why it is refused."""
    with transaction.atomic(using="default"):
        refusal = one_time.check_code(user, code, now=now)
        if refusal is not None:
            _record(user, Action.LOGIN_FAILED, change=refusal.code)
    if refusal is not None:  # raised after the commit: the attempt must stay counted
        raise refusal


def mark_signed_in(session: MutableMapping[str, Any], *, user: AbstractBaseUser) -> None:
    """Called once `django.contrib.auth.login` gave the session its new id, after the code was accepted."""
    session.pop(PENDING_KEY, None)
    session[SIGNED_IN_KEY] = str(user.pk)


def is_signed_in(user: Any, *, session: Mapping[str, Any]) -> bool:
    """Both factors of a customer session: the password and the emailed code, for this very account."""
    return getattr(user, "pk", None) is not None and session.get(SIGNED_IN_KEY) == str(user.pk)


# -- password reset: never a way around the code ------------------------------------------------------------------


def request_password_reset(*, email: str, reset_page: str, send: Outbox, now: datetime) -> None:
    """Send a reset link (1 hour, once) if `email` is a customer account's; nothing otherwise, and no difference."""
    user = User.objects.filter(email=email.strip().lower(), account_type=AccountType.CUSTOMER, is_active=True).first()
    if user is None:
        return
    with transaction.atomic(using="default"):
        token = one_time.issue_token(user, purpose=Purpose.PASSWORD_RESET, now=now)
        _record(user, Action.CHANGE, change="password_reset_requested")
    send(
        recipient=user.email,
        subject="Choisir un nouveau mot de passe",
        body=(
            f"Bonjour {user.first_name},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien dans l'heure :\n"
            f"{reset_page}?jeton={token}\n\nVous vous connecterez ensuite avec ce mot de passe et le code reçu par "
            "message. Si vous n'avez rien demandé, ignorez ce message : votre mot de passe n'a pas changé."
        ),
        at=now,
    )


def reset_password(*, token: str, password: str, now: datetime) -> User:
    """Set the new password and end every session of the account. It signs nobody in: the next sign-in asks for the
    password and the emailed code, as always. The link proves the address, which it also verifies."""
    with transaction.atomic(using="default"):
        user = one_time.take_token(token, purpose=Purpose.PASSWORD_RESET, now=now)
        try:
            validate_password(password, user=user)
        except DjangoValidationError as error:
            raise InvalidInput([Problem("weak_password", " ".join(error.messages), "password")]) from None
        user.set_password(password)
        user.email_verified_at = user.email_verified_at or now
        user.save(update_fields=["password", "email_verified_at"])
        one_time.revoke(user, purpose=Purpose.SIGN_IN_CODE, now=now)
        end_every_session(user)
        _record(user, Action.CHANGE, change="password_reset")
    return user


def _record(user: User, action: Action, *, change: str) -> None:
    actor = audit_context.Actor(f"customer:{user.pk}", "", audit_context.current().source)
    audit_context.record_action(
        database="default",
        action=action,
        record_type="customer_account",
        record_id=user.pk,
        details={"change": change},
        actor=actor,
    )
