"""Partners' API keys: create (the secret shown once), list, revoke, authenticate, count a request.

Authenticating costs one read (the key by its prefix, with its partner); admitting a request costs one
conditional UPDATE that counts it in both windows only if neither is full, atomic in every database, so web
processes share the quota without a lock or a cache. A refused request is not counted."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Q, Value, When

from souscription.kernel.errors import InvalidInput, NotFound, Problem
from souscription.partners import domain
from souscription.partners.domain import ApiKeyRefused, ApiKeyRevoked, PresentedKey, Scope, ScopeMissing
from souscription.partners.models import ApiKey, Partner

DATABASE = "default"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message = "Aucune clé d'API avec ce préfixe."


@dataclass(frozen=True)
class KeyView:
    """A key as listed: everything but the secret."""

    prefix: str
    partner_id: uuid.UUID
    partner_name: str
    scopes: tuple[str, ...]
    per_minute: int
    per_day: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedKey:
    key: KeyView
    secret: str  # the whole `sk_<prefix>_<secret>`: shown once, never stored


def create_key(
    *, partner_name: str, scopes: tuple[Scope, ...], per_minute: int, per_day: int, now: datetime
) -> CreatedKey:
    """A new key for `partner_name` (the partner is created on its first key)."""
    problems = []
    if not partner_name.strip() or len(partner_name.strip()) > 120:
        problems.append(Problem("invalid_partner", "Nom du partenaire : de 1 à 120 caractères.", "partner"))
    if not scopes:
        problems.append(Problem("required", "Donnez au moins une portée.", "scopes"))
    if per_minute < 1 or per_day < per_minute:
        message = "Quota : au moins 1 requête par minute, et par jour au moins autant."
        problems.append(Problem("invalid_quota", message, "quota"))
    if problems:
        raise InvalidInput(problems)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with transaction.atomic(using=DATABASE):
        partner, _ = Partner.objects.get_or_create(name=partner_name.strip(), defaults={"created_at": now})
        row = ApiKey.objects.create(
            partner=partner,
            prefix=prefix,
            secret_sha256=_digest(secret),
            scopes=[scope.value for scope in scopes],
            per_minute=per_minute,
            per_day=per_day,
            created_at=now,
        )
    return CreatedKey(key=_view(row), secret=f"sk_{prefix}_{secret}")


def list_keys() -> list[KeyView]:
    return [_view(row) for row in ApiKey.objects.select_related("partner")]


def revoke(*, prefix: str, now: datetime) -> KeyView:
    """Revoke a key at once for every process (already revoked: unchanged)."""
    prefix = prefix.removeprefix("sk_").split("_", 1)[0]
    ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).update(revoked_at=now)
    row = ApiKey.objects.select_related("partner").filter(prefix=prefix).first()
    if row is None:
        raise ApiKeyNotFound(field="prefix")
    return _view(row)


def authenticate(presented: PresentedKey) -> KeyView:
    """The key whose secret was presented (constant-time comparison), unless unknown or revoked."""
    row = ApiKey.objects.select_related("partner").filter(prefix=presented.prefix).first()
    # Unknown prefixes are hashed and compared too, so timing does not tell which prefixes exist.
    stored = row.secret_sha256 if row is not None else "0" * 64
    if not hmac.compare_digest(stored, _digest(presented.secret)) or row is None:
        raise ApiKeyRefused(field="X-API-Key")
    if row.revoked_at is not None:
        raise ApiKeyRevoked(field="X-API-Key")
    return _view(row)


def check_scope(key: KeyView, scope: Scope) -> None:
    if scope.value not in key.scopes:
        raise ScopeMissing(scope)


def admit(key: KeyView, *, now: datetime) -> None:
    """Count one request in the key's current minute and day, or raise `QuotaExceeded` with its Retry-After."""
    current = domain.windows(now)
    counted = (
        ApiKey.objects.filter(prefix=key.prefix, revoked_at__isnull=True)
        .exclude(Q(minute_window=current.minute) & Q(minute_count__gte=F("per_minute")))
        .exclude(Q(day_window=current.day) & Q(day_count__gte=F("per_day")))
        .update(
            minute_count=Case(When(minute_window=current.minute, then=F("minute_count") + 1), default=Value(1)),
            minute_window=current.minute,
            day_count=Case(When(day_window=current.day, then=F("day_count") + 1), default=Value(1)),
            day_window=current.day,
            last_used_at=now,
        )
    )
    if counted:
        return
    row = ApiKey.objects.filter(prefix=key.prefix).first()
    if row is None or row.revoked_at is not None:
        raise ApiKeyRevoked(field="X-API-Key")  # revoked between authentication and counting
    usage = domain.Usage(
        per_minute=row.per_minute,
        per_day=row.per_day,
        minute_window=row.minute_window,
        minute_count=row.minute_count,
        day_window=row.day_window,
        day_count=row.day_count,
    )
    raise domain.refusal(usage=usage, now=now)


def _view(row: ApiKey) -> KeyView:
    return KeyView(
        prefix=row.prefix,
        partner_id=row.partner.id,
        partner_name=row.partner.name,
        scopes=tuple(row.scopes),
        per_minute=row.per_minute,
        per_day=row.per_day,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
