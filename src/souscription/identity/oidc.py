"""OpenID Connect relying party: discovery, the authorization request (PKCE S256), the code exchange, and the checks
of the ID token (signature against the provider's keys, issuer, audience, nonce, lifetime, and the second factor).

Protocol only: no session, no account. `identity/sso.py` keeps the request's state in the session and matches the
person to a staff account. Every refusal is a `SsoRefused` with its own stable code, and no message or log line
ever carries a token, a code or the client secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt

from souscription.configuration import Environment
from souscription.kernel.errors import DomainError

HTTP_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
"""Every call to the provider is bounded: a slow provider makes a sign-in fail, never a web thread hang."""
CACHE_SECONDS = 3600
LEEWAY_SECONDS = 60
"""Clock difference tolerated between the provider and us on `exp` and `iat`."""
MFA_METHODS = frozenset({"mfa", "otp", "hwk", "swk", "sms", "fpt"})
"""RFC 8176 `amr` values that prove a factor beyond the password (multi-factor, one-time code, hardware or software
key, SMS, fingerprint)."""
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Asymmetric only: `none` and the HS* family (keyed with our own client secret) are never accepted."""


class SsoRefused(DomainError):
    code = "sso_refused"
    message = "La connexion par authentification unique a été refusée : recommencez ou contactez le support."


class SsoUnavailable(SsoRefused):
    code = "sso_provider_unavailable"
    message = (
        "Le fournisseur d'identité ne répond pas correctement : réessayez dans quelques minutes ou connectez-vous "
        "avec votre mot de passe."
    )


class SsoWrongIssuer(SsoRefused):
    code = "sso_wrong_issuer"
    message = "La réponse ne vient pas du fournisseur d'identité configuré : connexion refusée."


class SsoBadSignature(SsoRefused):
    code = "sso_bad_signature"
    message = "La signature du jeton d'identité est invalide : connexion refusée."


class SsoWrongAudience(SsoRefused):
    code = "sso_wrong_audience"
    message = "Le jeton d'identité a été émis pour une autre application : connexion refusée."


class SsoWrongNonce(SsoRefused):
    code = "sso_wrong_nonce"
    message = "Le jeton d'identité ne correspond pas à cette demande de connexion : recommencez la connexion."


class SsoTokenExpired(SsoRefused):
    code = "sso_token_expired"
    message = "Le jeton d'identité a expiré ou n'est pas encore valable : recommencez la connexion."


class SsoTokenInvalid(SsoRefused):
    code = "sso_token_invalid"
    message = "Le jeton d'identité est incomplet ou mal formé : connexion refusée."


class SsoCodeRefused(SsoRefused):
    code = "sso_code_refused"
    message = (
        "Le fournisseur d'identité a refusé le code de connexion (déjà utilisé, expiré ou sans la preuve PKCE) : "
        "recommencez la connexion."
    )


class SsoMfaMissing(SsoRefused):
    code = "sso_mfa_missing"
    message = (
        "Votre connexion auprès du fournisseur d'identité n'a pas utilisé de second facteur : reconnectez-vous "
        "avec votre second facteur (application, clé de sécurité, SMS)."
    )


@dataclass(frozen=True)
class ClientConfig:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    require_mfa: bool = True
    acr_values: tuple[str, ...] = ()

    @classmethod
    def of(cls, env: Environment) -> ClientConfig | None:
        """The configured client, or None when single sign-on is off (no issuer)."""
        if not env.oidc_issuer:
            return None
        return cls(
            issuer=env.oidc_issuer,
            client_id=env.oidc_client_id,
            client_secret=env.oidc_client_secret,
            require_mfa=env.oidc_require_mfa,
            acr_values=env.oidc_acr_values,
        )


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    token_auth_methods: tuple[str, ...]
    signing_algorithms: tuple[str, ...]


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class Tokens:
    id_token: str = field(repr=False)
    access_token: str = field(default="", repr=False)


_discovered: dict[str, tuple[float, ProviderMetadata]] = {}
_key_sets: dict[str, tuple[float, jwt.PyJWKSet]] = {}


def clear_caches() -> None:
    _discovered.clear()
    _key_sets.clear()


def discover(*, issuer: str) -> ProviderMetadata:
    """The provider's metadata (OpenID Connect Discovery), cached for an hour; its `issuer` must be ours exactly."""
    cached = _discovered.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    document = _get_json(f"{issuer}/.well-known/openid-configuration")
    if document.get("issuer") != issuer:  # Discovery 4.3: a document naming another issuer is not to be used
        raise SsoWrongIssuer
    try:
        metadata = ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
            userinfo_endpoint=document.get("userinfo_endpoint"),
            token_auth_methods=tuple(document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]),
            signing_algorithms=tuple(document.get("id_token_signing_alg_values_supported") or ["RS256"]),
        )
    except KeyError:
        raise SsoUnavailable from None
    pkce_methods = document.get("code_challenge_methods_supported")
    if pkce_methods is not None and "S256" not in pkce_methods:
        raise SsoUnavailable("Le fournisseur d'identité n'accepte pas PKCE S256 : connexion impossible.")
    _discovered[issuer] = (time.monotonic(), metadata)
    return metadata


def authorization_request(
    *, config: ClientConfig, metadata: ProviderMetadata, redirect_uri: str
) -> AuthorizationRequest:
    """Where to send the browser, with a fresh state, nonce and PKCE verifier (the caller keeps all three)."""
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email",
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if config.acr_values:
        params["acr_values"] = " ".join(config.acr_values)
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    url = f"{metadata.authorization_endpoint}{separator}{urlencode(params)}"
    return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def exchange_code(
    *, config: ClientConfig, metadata: ProviderMetadata, code: str, code_verifier: str, redirect_uri: str
) -> Tokens:
    """Trade the authorization code (and the PKCE verifier) for tokens at the token endpoint."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    headers = {"Accept": "application/json"}
    if not config.client_secret:
        form["client_id"] = config.client_id  # a public client: PKCE is its only proof
    elif (
        "client_secret_basic" in metadata.token_auth_methods or "client_secret_post" not in metadata.token_auth_methods
    ):
        # RFC 6749 2.3.1: both parts are form-encoded before they are joined and base64-encoded.
        pair = f"{quote(config.client_id, safe='')}:{quote(config.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form.update(client_id=config.client_id, client_secret=config.client_secret)
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            answer = client.post(metadata.token_endpoint, data=form, headers=headers)
    except httpx.HTTPError:
        raise SsoUnavailable from None
    body = _json_object(answer)
    if answer.status_code in (400, 401) and "error" in body:
        raise SsoCodeRefused
    id_token = body.get("id_token")
    if answer.status_code != 200 or not isinstance(id_token, str):
        raise SsoUnavailable
    access_token = body.get("access_token")
    return Tokens(id_token=id_token, access_token=access_token if isinstance(access_token, str) else "")


def verify_id_token(*, token: str, config: ClientConfig, metadata: ProviderMetadata, nonce: str) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, authorized party, nonce and lifetime hold."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise SsoTokenInvalid from None
    algorithm = header.get("alg")
    if algorithm not in SIGNING_ALGORITHMS or algorithm not in metadata.signing_algorithms:
        raise SsoBadSignature
    key = _signing_key(metadata=metadata, key_id=header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            audience=config.client_id,
            issuer=config.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce"], "strict_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise SsoBadSignature from None
    except jwt.InvalidIssuerError:
        raise SsoWrongIssuer from None
    except jwt.InvalidAudienceError:
        raise SsoWrongAudience from None
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        raise SsoTokenExpired from None
    except jwt.InvalidTokenError:
        raise SsoTokenInvalid from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    authorized_party = claims.get("azp")
    if (len(audiences) > 1 or authorized_party is not None) and authorized_party != config.client_id:
        raise SsoWrongAudience  # Core 3.1.3.7: with several audiences, the token must be meant for us
    if not isinstance(claims["nonce"], str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise SsoWrongNonce
    return claims


def check_second_factor(*, claims: Mapping[str, Any], acr_values: tuple[str, ...]) -> bool:
    """Whether the provider says it used a second factor: an `amr` of `MFA_METHODS`, or a configured `acr`."""
    methods = claims.get("amr")
    if isinstance(methods, list) and MFA_METHODS.intersection(str(method) for method in methods):
        return True
    return bool(acr_values) and claims.get("acr") in acr_values


def user_info(*, metadata: ProviderMetadata, access_token: str, subject: str) -> dict[str, Any]:
    """Claims from the userinfo endpoint, for providers that keep `email` out of the ID token; same `sub` required."""
    if not metadata.userinfo_endpoint or not access_token:
        return {}
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            answer = client.get(metadata.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"})
    except httpx.HTTPError:
        raise SsoUnavailable from None
    body = _json_object(answer)
    if answer.status_code != 200 or body.get("sub") != subject:  # Core 5.3.2: else the answer may be substituted
        raise SsoTokenInvalid
    return body


def _signing_key(*, metadata: ProviderMetadata, key_id: object) -> Any:
    for refresh in (False, True):  # an unknown key id: the provider may have rotated its keys since we cached them
        key_set = _key_set(metadata=metadata, refresh=refresh)
        candidates = [key for key in key_set.keys if key_id is None or key.key_id == key_id]
        if len(candidates) == 1 or (key_id is not None and candidates):
            return candidates[0].key
    raise SsoBadSignature


def _key_set(*, metadata: ProviderMetadata, refresh: bool) -> jwt.PyJWKSet:
    cached = _key_sets.get(metadata.jwks_uri)
    if cached is not None and not refresh and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        key_set = jwt.PyJWKSet.from_dict(_get_json(metadata.jwks_uri))
    except (jwt.PyJWKSetError, jwt.PyJWKError):
        raise SsoUnavailable from None
    _key_sets[metadata.jwks_uri] = (time.monotonic(), key_set)
    return key_set


def _get_json(url: str) -> dict[str, Any]:
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            answer = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        raise SsoUnavailable from None
    if answer.status_code != 200:
        raise SsoUnavailable
    return _json_object(answer)


def _json_object(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
