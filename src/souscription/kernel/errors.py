"""The one error model: a stable machine code, a French message for people, the field at fault.

Every context raises subclasses of `DomainError` next to the code that raises them; the entry points (API,
views, commands) translate them at the boundary into the same shape: `{"code", "message", "field"}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: `code` for machines, `message` (French) for people."""

    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class DomainError(Exception):
    """Base of every business error. Subclasses set `code` and `message`; `field` names the input at fault."""

    code: str = "domain_error"
    message: str = "La demande ne peut pas être traitée."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or type(self).message
        self.field = field
        super().__init__(self.message)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return (Problem(self.code, self.message, self.field),)


class InvalidInput(DomainError):
    """One or more fields are wrong; carries every problem so a form can show them all at once."""

    code = "invalid_input"
    message = "Certaines informations sont incorrectes."

    def __init__(self, problems: Iterable[Problem]) -> None:
        self._problems = tuple(problems)
        if not self._problems:
            raise ValueError("InvalidInput needs at least one problem")
        first = self._problems[0]
        super().__init__(first.message, field=first.field)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self._problems

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._problems)


class NotFound(DomainError):
    code = "not_found"
    message = "Cette ressource n'existe pas ou ne vous est pas accessible."


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    message = "Identifiez-vous pour accéder à cette ressource."


class PermissionDenied(DomainError):
    code = "permission_denied"
    message = "Votre rôle ne vous permet pas cette action."


class Conflict(DomainError):
    """The request contradicts the current state (a transition not allowed, a reused idempotency key)."""

    code = "conflict"
    message = "Cette action n'est pas possible dans l'état actuel."


class RateLimited(DomainError):
    """Too many requests for the caller's quota; `retry_after_seconds` says when the window frees."""

    code = "rate_limited"
    message = "Trop de requêtes : réessayez plus tard."

    def __init__(self, message: str | None = None, *, retry_after_seconds: int, field: str | None = None) -> None:
        self.retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(message, field=field)
