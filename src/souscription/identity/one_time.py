"""Codes and link tokens sent to customers by message: each works once, until it expires.

Only a digest keyed with the site's secret is stored (HMAC-SHA-256): a copy of the table gives neither the link
tokens nor, since a 6-digit code hashed without a key would be found by trying the million values, the codes. A
new secret of a purpose replaces the account's earlier unused ones. A code allows `CODE_ATTEMPTS` guesses, and an
account gets at most `CODES_PER_WINDOW` codes per `CODE_WINDOW`, so guessing stays bounded even by someone who
holds the password and asks for code after code."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from souscription.identity.models import OneTimeSecret, User
from souscription.kernel.errors import DomainError, RateLimited

Purpose = OneTimeSecret.Purpose

CODE_LIFETIME = timedelta(minutes=10)
CODE_ATTEMPTS = 5
CODE_WINDOW = timedelta(minutes=15)
CODES_PER_WINDOW = 5
LIFETIMES = {
    Purpose.SIGN_IN_CODE: CODE_LIFETIME,
    Purpose.EMAIL_VERIFICATION: timedelta(hours=48),
    Purpose.PASSWORD_RESET: timedelta(hours=1),
}


class LinkInvalid(DomainError):
    code = "link_invalid"
    message = "Ce lien est invalide, expiré ou a déjà servi : demandez-en un nouveau."


class SignInCodeRefused(DomainError):
    code = "sign_in_code_refused"
    message = "Code refusé : saisissez le code à 6 chiffres du dernier message reçu (un code ne sert qu'une fois)."


class SignInCodeExpired(DomainError):
    code = "sign_in_code_expired"
    message = "Ce code n'est plus valable (10 minutes, 5 essais) : demandez un nouveau code."


class TooManyCodes(RateLimited):
    code = "too_many_sign_in_codes"
    message = "Trop de codes demandés : patientez un quart d'heure avant d'en demander un nouveau."


def issue_token(user: User, *, purpose: OneTimeSecret.Purpose, now: datetime) -> str:
    """A new link token for `user` (256 random bits), replacing the earlier unused ones of the same purpose."""
    token = secrets.token_urlsafe(32)
    _store(user, purpose=purpose, digest=_digest(token), now=now)
    return token


def take_token(token: str, *, purpose: OneTimeSecret.Purpose, now: datetime) -> User:
    """The account `token` was issued to, the token now used; `LinkInvalid` otherwise. Call it in the action's
    transaction on `default`, so that a failed action leaves the token usable."""
    row = (
        OneTimeSecret.objects.select_for_update()
        .select_related("user")
        .filter(digest=_digest(token.strip()), purpose=purpose)
        .first()
    )
    if row is None or row.used_at is not None or row.expires_at <= now or not row.user.is_active:
        raise LinkInvalid(field="token")
    row.used_at = now
    row.save(update_fields=["used_at"])
    return row.user


def issue_code(user: User, *, now: datetime) -> str:
    """A new 6-digit sign-in code for `user`, the previous one no longer valid; `TooManyCodes` past the quota."""
    recent = OneTimeSecret.objects.filter(
        user=user, purpose=Purpose.SIGN_IN_CODE, created_at__gt=now - CODE_WINDOW
    ).count()
    if recent >= CODES_PER_WINDOW:
        raise TooManyCodes(retry_after_seconds=int(CODE_WINDOW.total_seconds()), field="code")
    code = f"{secrets.randbelow(10**6):06d}"
    _store(user, purpose=Purpose.SIGN_IN_CODE, digest=_code_digest(user, code), now=now)
    return code


def check_code(user: User, code: str, *, now: datetime) -> DomainError | None:
    """Why `code` is refused for `user` (the attempt is counted), or None when accepted (the code is then used).
    Returned rather than raised, so that the caller commits the counted attempt before raising."""
    row = (
        OneTimeSecret.objects.select_for_update()
        .filter(user=user, purpose=Purpose.SIGN_IN_CODE, used_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if row is None or row.expires_at <= now or row.attempts >= CODE_ATTEMPTS:
        return SignInCodeExpired(field="code")
    row.attempts += 1
    cleaned = "".join(code.split())
    if constant_time_compare(row.digest, _code_digest(user, cleaned)):
        row.used_at = now
        row.save(update_fields=["attempts", "used_at"])
        return None
    row.save(update_fields=["attempts"])
    return SignInCodeRefused(field="code")


def revoke(user: User, *, purpose: OneTimeSecret.Purpose, now: datetime) -> None:
    OneTimeSecret.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(used_at=now)


def _store(user: User, *, purpose: OneTimeSecret.Purpose, digest: str, now: datetime) -> None:
    with transaction.atomic(using="default"):
        revoke(user, purpose=purpose, now=now)
        OneTimeSecret.objects.create(
            user=user, purpose=purpose, digest=digest, created_at=now, expires_at=now + LIFETIMES[purpose]
        )


def _digest(value: str) -> str:
    return salted_hmac("souscription.identity.one_time", value, algorithm="sha256").hexdigest()


def _code_digest(user: User, code: str) -> str:
    # Bound to the account: the same six digits issued to two accounts have different digests.
    return _digest(f"{user.pk}:{code}")
