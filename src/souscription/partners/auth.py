"""The partner's credential on the API: a django-ninja auth class and the partner's idempotency scope.

`PartnerKey(scope)` reads `X-API-Key: sk_…` or `Authorization: Bearer sk_…`. No partner key: it steps aside
(returns None) so the endpoint's other credentials are judged. A key that is presented must be valid: unknown or
revoked is a 401, a key without the endpoint's scope a 403, a key over its quota a 429 with `Retry-After`; each in
the error model, raised as a `DomainError` that the API's handlers translate."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from ninja.security.base import AuthBase

from souscription.audit import context as audit_context
from souscription.kernel.errors import DomainError
from souscription.partners import services
from souscription.partners.domain import ApiKeyRefused, Scope, parse_key

HEADER = "X-API-Key"
clock: Callable[[], datetime] = timezone.now
"""The time quota windows are counted in (tests move it forward)."""

_AUTHENTICATED = "_souscription_partner_key"


@dataclass(frozen=True)
class PartnerCaller:
    """`request.auth` of a request a partner's key authenticated."""

    partner_id: uuid.UUID
    partner_name: str
    key_prefix: str


class PartnerKey(AuthBase):
    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = HEADER
    openapi_description = (
        "Clé d'API d'un partenaire : `X-API-Key: sk_…` ou `Authorization: Bearer sk_…`. Portées et quotas par clé ; "
        "au-delà du quota, 429 avec `Retry-After`. Les autres appelants (session du personnel, jeton du demandeur) "
        "restent acceptés."
    )

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> PartnerCaller | None:
        presented = presented_credential(request)
        if presented is None:
            return None
        key = _authenticated(request, presented)
        services.check_scope(key, self.scope)
        services.admit(key, now=clock())
        audit_context.act_as_partner(key.partner_id)
        return PartnerCaller(partner_id=key.partner_id, partner_name=key.partner_name, key_prefix=key.prefix)


def presented_credential(request: HttpRequest) -> str | None:
    """The partner key the request carries, if it carries one (an applicant's token is not one)."""
    value = request.headers.get(HEADER)
    if value is not None:
        return value
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip().startswith("sk_"):
        return token.strip()
    return None


def idempotency_scope(request: HttpRequest) -> str | None:
    """A partner's `Idempotency-Key`s are the partner's, whichever of its keys sends them; an invalid key gets a
    scope of its own, never the anonymous one."""
    presented = presented_credential(request)
    if presented is None:
        return None
    try:
        return f"partner:{_authenticated(request, presented).partner_id}"
    except DomainError:
        return "apikey:" + hashlib.sha256(presented.encode()).hexdigest()[:64]


def _authenticated(request: HttpRequest, presented: str) -> services.KeyView:
    """Authenticate once per request: the idempotency middleware and the endpoint both ask."""
    cached = getattr(request, _AUTHENTICATED, None)
    if isinstance(cached, services.KeyView):
        return cached
    parsed = parse_key(presented)
    if parsed is None:
        raise ApiKeyRefused(field=HEADER)
    key = services.authenticate(parsed)
    setattr(request, _AUTHENTICATED, key)
    return key
