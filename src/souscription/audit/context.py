"""Who is acting, and from where, for the entries written while a request is served.

The web entry points set it once per request (`AuditActorMiddleware`; the API narrows it to the applicant when the
dossier's token is the credential); services then write entries with `record_action` without each threading the
actor through its arguments. A workflow step runs in DBOS's own threads, where nothing is set: the platform is the
actor there, unless the step names the person it acts for (`actor=`), as the invoice validation does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from souscription.audit import services
from souscription.audit.domain import PLATFORM_ACTOR, WORKFLOW_SOURCE, Action, applicant_actor, mask_text
from souscription.audit.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    source: str


PLATFORM = Actor(PLATFORM_ACTOR, "", WORKFLOW_SOURCE)
_current: ContextVar[Actor | None] = ContextVar("souscription_audit_actor", default=None)


def current() -> Actor:
    return _current.get() or PLATFORM


def act_as_applicant(subscription_id: str) -> None:
    """The request's credential is the dossier's applicant token: entries name the applicant, from the same place."""
    _current.set(Actor(applicant_actor(subscription_id), "", current().source))


def act_as_partner(partner_id: object) -> None:
    """The request's credential is a partner's API key: entries name the partner, from the same place."""
    _current.set(Actor(f"partner:{partner_id}", "", current().source))


def record_action(
    *,
    database: str,
    action: Action,
    record_type: str,
    record_id: object,
    details: Mapping[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEntry:
    """`services.record` for the acting person (or `actor`), in the caller's transaction on `database`."""
    who = actor or current()
    return services.record(
        database=database,
        actor=who.id,
        role=who.role,
        action=action,
        record_type=record_type,
        record_id=str(record_id),
        source=who.source,
        details=details,
    )


def record_refused_access(*, path: str, method: str, code: str) -> None:
    """A refused request (401/403) in the platform's log: who tried what, from where. Its own transaction, since the
    refused action wrote nothing."""
    with transaction.atomic(using="default"):
        record_action(
            database="default",
            action=Action.ACCESS_DENIED,
            record_type="request",
            record_id=mask_text(f"{method} {path}")[:200],  # a path may name a customer by email
            details={"code": code},
        )


class AuditActorMiddleware:
    """Sets the acting person for the request: the signed-in staff member, else anonymous, with the client address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        source = str(request.META.get("REMOTE_ADDR") or "inconnue")
        if user.is_authenticated and getattr(user, "is_customer", False):
            actor = Actor(f"customer:{user.pk}", "", source)
        elif user.is_authenticated:
            actor = Actor(str(user.pk), str(getattr(user, "role", "") or ""), source)
        else:
            actor = Actor("anonymous", "", source)
        token = _current.set(actor)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
