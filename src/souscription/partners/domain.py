"""Partners' API keys: their format, scopes and quota windows. Pure: no Django, no clock (`now` is given).

A key reads `sk_<prefix>_<secret>`: the prefix is public (it names the key in lists, logs and revocation), the
secret is shown once at creation and only its SHA-256 digest is kept. The secret is 256 random bits, so a fast
hash is enough: nobody can guess it, and the digest of a stolen table opens nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from souscription.kernel.errors import NotAuthenticated, PermissionDenied, RateLimited

KEY_PATTERN = re.compile(r"sk_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")
MINUTE = 60
DAY = 86_400


class Scope(StrEnum):
    DOSSIERS_WRITE = "dossiers:write"
    DOSSIERS_READ = "dossiers:read"

    @classmethod
    def parse_many(cls, value: str) -> tuple[Scope, ...]:
        """`dossiers:write,dossiers:read` into scopes; `UnknownScope` names the accepted values."""
        scopes: list[Scope] = []
        for part in filter(None, (piece.strip() for piece in value.split(","))):
            try:
                scopes.append(cls(part))
            except ValueError:
                raise UnknownScope(part) from None
        return tuple(dict.fromkeys(scopes))


class UnknownScope(ValueError):
    code = "unknown_scope"

    def __init__(self, value: str) -> None:
        super().__init__(f"Portée inconnue « {value} ». Portées acceptées : {', '.join(s.value for s in Scope)}.")


class ApiKeyRefused(NotAuthenticated):
    code = "api_key_invalid"
    message = "Clé d'API inconnue ou mal formée : vérifiez l'en-tête X-API-Key (sk_…)."


class ApiKeyRevoked(NotAuthenticated):
    code = "api_key_revoked"
    message = "Cette clé d'API a été révoquée : demandez une nouvelle clé à l'assureur."


class ScopeMissing(PermissionDenied):
    code = "api_key_scope_missing"

    def __init__(self, scope: Scope) -> None:
        super().__init__(f"Cette clé d'API n'a pas la portée « {scope.value} » qu'exige cette action.", field="scope")


class QuotaExceeded(RateLimited):
    code = "api_key_quota_exceeded"

    def __init__(self, *, per: str, retry_after_seconds: int) -> None:
        window = "la minute" if per == "minute" else "la journée"
        super().__init__(
            f"Quota de requêtes de {window} atteint pour cette clé : réessayez dans {retry_after_seconds} s.",
            retry_after_seconds=retry_after_seconds,
        )


@dataclass(frozen=True)
class PresentedKey:
    prefix: str
    secret: str


def parse_key(value: str) -> PresentedKey | None:
    match = KEY_PATTERN.fullmatch(value.strip())
    return PresentedKey(match["prefix"], match["secret"]) if match else None


@dataclass(frozen=True)
class Windows:
    """The fixed windows `now` falls in: whole minutes and whole UTC days since the epoch."""

    minute: int
    day: int


def windows(now: datetime) -> Windows:
    seconds = int(now.timestamp())
    return Windows(minute=seconds // MINUTE, day=seconds // DAY)


@dataclass(frozen=True)
class Usage:
    per_minute: int
    per_day: int
    minute_window: int
    minute_count: int
    day_window: int
    day_count: int


def refusal(*, usage: Usage, now: datetime) -> QuotaExceeded:
    """Why a request over quota was refused, and in how many seconds its window frees (the day's first)."""
    current = windows(now)
    elapsed = now.timestamp()
    if usage.day_window == current.day and usage.day_count >= usage.per_day:
        return QuotaExceeded(per="day", retry_after_seconds=_ceil((current.day + 1) * DAY - elapsed))
    if usage.minute_window == current.minute and usage.minute_count >= usage.per_minute:
        return QuotaExceeded(per="minute", retry_after_seconds=_ceil((current.minute + 1) * MINUTE - elapsed))
    # The window turned between the refused count and this read: the next request is admitted.
    return QuotaExceeded(per="minute", retry_after_seconds=1)


def _ceil(seconds: float) -> int:
    return max(1, int(-(-seconds // 1)))
