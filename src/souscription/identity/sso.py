"""Staff single sign-on: the sign-in started and finished through the OpenID provider (`oidc.py` does the protocol).

The request's state, nonce and PKCE verifier are kept in the visitor's session, keyed by state, and taken out at the
callback before anything else, so a callback works once (a replayed one finds nothing). The person is matched by
the provider's verified email to an existing, active staff account: single sign-on never creates an account (the IT
manager creates them and gives the roles). Each refusal is logged by code, never with a token or a code."""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from souscription.identity import oidc
from souscription.identity.models import User
from souscription.identity.oidc import ClientConfig, SsoRefused

log = structlog.get_logger(__name__)

PENDING_KEY = "souscription_oidc_pending"
PENDING_SECONDS = 600
"""A sign-in left at the provider's pages longer than this starts again."""
MAX_PENDING = 5
"""Sign-ins started in other tabs of the same browser and not finished: the oldest are dropped beyond this."""


class SsoNotConfigured(SsoRefused):
    code = "sso_not_configured"
    message = "L'authentification unique n'est pas configurée : connectez-vous avec votre mot de passe."


class SsoStateInvalid(SsoRefused):
    code = "sso_state_invalid"
    message = (
        "Cette réponse de connexion est inconnue, expirée ou a déjà servi : recommencez la connexion depuis la page "
        "de connexion."
    )


class SsoPkceMissing(SsoRefused):
    code = "sso_pkce_missing"
    message = "Cette demande de connexion n'a pas de preuve PKCE : recommencez la connexion."


class SsoProviderError(SsoRefused):
    code = "sso_provider_error"
    message = "Le fournisseur d'identité n'a pas authentifié la connexion : recommencez ou contactez le support."


class SsoEmailUnverified(SsoRefused):
    code = "sso_email_unverified"
    message = (
        "Le fournisseur d'identité ne garantit pas votre adresse e-mail : connexion refusée. Contactez le support "
        "informatique."
    )


class SsoUnknownAccount(SsoRefused):
    code = "sso_unknown_account"
    message = (
        "Aucun compte du personnel ne correspond à votre adresse e-mail : demandez au responsable informatique "
        "de créer votre compte et de vous attribuer un rôle."
    )


class SsoAccountDisabled(SsoRefused):
    code = "sso_account_disabled"
    message = "Votre compte est désactivé : contactez le responsable informatique."


@dataclass(frozen=True)
class SignedIn:
    user: User
    next_url: str
    second_factor_proven: bool
    """True when the provider's `amr`/`acr` prove a second factor; otherwise (MFA not required) our TOTP is asked."""


def configured_client() -> ClientConfig | None:
    return ClientConfig.of(settings.SOUSCRIPTION)


def begin(*, session: MutableMapping[str, Any], redirect_uri: str, next_url: str) -> str:
    """The provider's authorization URL for a new sign-in; its state, nonce and verifier are kept in `session`."""
    config = configured_client()
    if config is None:
        raise SsoNotConfigured
    request = oidc.authorization_request(
        config=config, metadata=oidc.discover(issuer=config.issuer), redirect_uri=redirect_uri
    )
    pending = _live_pending(session, now=time.time())
    pending[request.state] = {
        "nonce": request.nonce,
        "code_verifier": request.code_verifier,
        "next": next_url,
        "at": int(time.time()),
    }
    session[PENDING_KEY] = dict(list(pending.items())[-MAX_PENDING:])
    return request.url


def complete(*, session: MutableMapping[str, Any], params: Mapping[str, str], redirect_uri: str) -> SignedIn:
    """The staff account the provider's answer signs in; `SsoRefused` (with its code) when anything is wrong."""
    config = configured_client()
    if config is None:
        raise SsoNotConfigured
    pending = _live_pending(session, now=time.time())
    entry = pending.pop(params.get("state") or "", None)
    session[PENDING_KEY] = pending  # taken out before anything can fail: this state never works again
    if entry is None:
        raise SsoStateInvalid
    if params.get("error"):
        raise SsoProviderError
    if not entry.get("code_verifier"):
        raise SsoPkceMissing
    code = params.get("code")
    if not code:
        raise SsoProviderError
    metadata = oidc.discover(issuer=config.issuer)
    tokens = oidc.exchange_code(
        config=config,
        metadata=metadata,
        code=code,
        code_verifier=str(entry["code_verifier"]),
        redirect_uri=redirect_uri,
    )
    claims = oidc.verify_id_token(token=tokens.id_token, config=config, metadata=metadata, nonce=str(entry["nonce"]))
    proven = oidc.check_second_factor(claims=claims, acr_values=config.acr_values)
    if config.require_mfa and not proven:
        raise oidc.SsoMfaMissing
    if "email" not in claims:
        claims = {
            **oidc.user_info(metadata=metadata, access_token=tokens.access_token, subject=claims["sub"]),
            **claims,
        }
    user = staff_account(claims=claims)
    return SignedIn(user=user, next_url=str(entry.get("next") or ""), second_factor_proven=proven)


def staff_account(*, claims: Mapping[str, Any]) -> User:
    """The active staff account whose email the provider vouches for (`email_verified` must be true)."""
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str) or not email.strip():
        raise SsoEmailUnverified
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None or not user.role:
        raise SsoUnknownAccount
    if not user.is_active:
        raise SsoAccountDisabled
    return user


def record_refusal(request: HttpRequest, error: SsoRefused) -> None:
    """Log the refusal by its code and write a failed sign-in to the audit trail (no token, no code)."""
    log.warning("sso_refused", code=error.code)
    user_login_failed.send(sender=__name__, credentials={"username": f"sso:{error.code}"}, request=request)


def _live_pending(session: Mapping[str, Any], *, now: float) -> dict[str, dict[str, Any]]:
    stored = session.get(PENDING_KEY)
    if not isinstance(stored, dict):
        return {}
    return {
        state: entry
        for state, entry in stored.items()
        if isinstance(entry, dict) and isinstance(entry.get("at"), int) and now - entry["at"] <= PENDING_SECONDS
    }
