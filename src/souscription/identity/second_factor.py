"""Staff sign-in: password attempts limited per account, then a mandatory second factor (TOTP, RFC 6238).

The authenticator is a django-otp `TOTPDevice`: it refuses a code whose time step is not after the last accepted
one (a code works once) and slows guesses down exponentially after each wrong code (1 s, 2 s, 4 s...). A staff
session is "verified" only once a code is accepted; until then `SecondFactorMiddleware` lets it reach nothing but
the second-factor pages. Passwords: after `MAX_FAILURES` wrong passwords for one sign-in name within
`FAILURE_WINDOW`, that name is refused for `LOCKOUT` whatever the password, so guessing is bounded without revealing
whether an account exists."""

from __future__ import annotations

import base64
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django.db import transaction
from django.db.models import F
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from souscription.identity.models import SignInThrottle, User
from souscription.kernel.errors import DomainError

ISSUER = "Souscription"
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
DEVICE_NAME = "Application d'authentification"


class TooManyAttempts(DomainError):
    code = "too_many_sign_in_attempts"
    message = "Trop de tentatives de connexion : réessayez dans quelques minutes ou contactez le support informatique."


class CodeRefused(DomainError):
    code = "second_factor_refused"
    message = (
        "Code refusé : saisissez le code à 6 chiffres affiché maintenant par votre application "
        "(un code ne sert qu'une fois)."
    )


class CodeThrottled(DomainError):
    code = "second_factor_throttled"
    message = "Trop de codes erronés : patientez quelques secondes avant de saisir un nouveau code."


@dataclass(frozen=True)
class Enrolment:
    """What the staff member types or scans into an authenticator app."""

    secret_base32: str
    otpauth_uri: str


# -- passwords ---------------------------------------------------------------------------------------------------


def check_sign_in_allowed(name: str, *, now: datetime) -> None:
    row = SignInThrottle.objects.filter(key=_key(name)).first()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        raise TooManyAttempts(field="username")


def record_failed_sign_in(name: str, *, now: datetime) -> None:
    with transaction.atomic(using="default"):
        row = SignInThrottle.objects.select_for_update().filter(key=_key(name)).first()
        if row is None:
            SignInThrottle.objects.create(key=_key(name), failures=1, first_failure_at=now)
            return
        if now - row.first_failure_at > FAILURE_WINDOW:
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= MAX_FAILURES:
            row.locked_until = now + LOCKOUT
        row.save()


def record_successful_sign_in(name: str) -> None:
    SignInThrottle.objects.filter(key=_key(name)).delete()


def _key(name: str) -> str:
    return name.strip().lower()[:254]


# -- the authenticator -------------------------------------------------------------------------------------------


def confirmed_device(user: User) -> TOTPDevice | None:
    device: TOTPDevice | None = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device


def start_enrolment(user: User) -> Enrolment:
    """A new, unconfirmed authenticator for `user` (an earlier unconfirmed one is replaced)."""
    with transaction.atomic(using="default"):
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return enrolment_of(device)


def pending_enrolment(user: User) -> Enrolment | None:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return enrolment_of(device) if device is not None else None


def enrolment_of(device: TOTPDevice) -> Enrolment:
    secret = _base32(bytes(device.bin_key))
    label = quote(f"{ISSUER}:{device.user.email}")
    uri = f"otpauth://totp/{label}?secret={secret}&issuer={quote(ISSUER)}&digits={device.digits}&period={device.step}"
    return Enrolment(secret_base32=secret, otpauth_uri=uri)


def confirm_enrolment(user: User, code: str) -> TOTPDevice:
    """The first code proves the app holds the secret; the device then becomes the user's second factor."""
    with transaction.atomic(using="default"):
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            raise CodeRefused("Aucun enrôlement en cours : recommencez l'enrôlement.", field="code")
        refusal = _refusal(device, code)
        if refusal is None:
            TOTPDevice.objects.filter(user=user, confirmed=True).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
    if refusal is not None:  # raised after the commit: the failure counted by the throttle must stay counted
        raise refusal
    return device


def verify_code(user: User, code: str) -> TOTPDevice:
    """The user's confirmed device if `code` is valid now and was never used; else `CodeRefused`/`CodeThrottled`."""
    with transaction.atomic(using="default"):
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            raise CodeRefused("Aucune application d'authentification n'est enregistrée pour ce compte.", field="code")
        refusal = _refusal(device, code)
    if refusal is not None:
        raise refusal
    return device


def authenticator_code(secret_base32: str, *, at: float) -> str:
    """The code an authenticator app shows at unix time `at` for the key given at enrolment (RFC 6238, SHA-1, 6
    digits, 30 s: the parameters `enrolment_of` announces). Simulated staff type it as a person would."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    totp = TOTP(key)
    totp.time = at
    return f"{totp.token():06d}"


def reset_second_factor(user: User) -> None:
    """Forget the user's authenticator (a lost phone): the next sign-in enrols a new one, and open sessions end."""
    with transaction.atomic(using="default"):
        TOTPDevice.objects.filter(user=user).delete()
        User.objects.filter(pk=user.pk).update(session_version=F("session_version") + 1)


def _refusal(device: TOTPDevice, code: str) -> DomainError | None:
    """Why `code` is refused (the failure is recorded on the device for the throttle), or None when accepted."""
    allowed, _detail = device.verify_is_allowed()
    if not allowed:
        return CodeThrottled(field="code")
    cleaned = "".join(code.split())
    if not (cleaned.isdigit() and len(cleaned) == device.digits):
        device.throttle_increment(commit=True)  # a malformed code is a wrong guess too
        return CodeRefused(field="code")
    if not device.verify_token(cleaned):  # counts the failure, refuses a time step already used
        return CodeRefused(field="code")
    return None


def _base32(key: bytes) -> str:
    return base64.b32encode(key).decode().rstrip("=")


PROVIDER_VERIFIED = "souscription_second_factor_by_provider"
"""Session key: the id of the account whose second factor the OpenID provider proved (`amr`/`acr`) at sign-in."""


def mark_verified_by_provider(session: MutableMapping[str, Any], *, user: User) -> None:
    """Called once `django.contrib.auth.login` gave the session its new id: the provider's MFA stands for TOTP."""
    session[PROVIDER_VERIFIED] = str(user.pk)


def is_verified(user: Any, *, session: Mapping[str, Any]) -> bool:
    """Both factors proven for this session: a TOTP code accepted (django-otp), or the provider's MFA at sign-in.

    The provider's mark names the account, so a session that changed hands (it cannot: login flushes another
    user's session) would still not inherit it."""
    verified = getattr(user, "is_verified", None)
    if callable(verified) and verified():
        return True
    return getattr(user, "pk", None) is not None and session.get(PROVIDER_VERIFIED) == str(user.pk)
