"""Staff logins, successful or not, written to the platform database's log as Django signals them.

Django writes the session before it sends `user_logged_in`, outside any transaction of ours: the entry gets its
own transaction, right after. The address is the one the WSGI server saw (`REMOTE_ADDR`): behind a proxy, the
proxy's, until the platform trusts a forwarded header.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from souscription.audit import services
from souscription.audit.domain import Action
from souscription.platform.databases import PLATFORM_DATABASE


def source_of(request: HttpRequest | None) -> str:
    if request is None:
        return "console"
    return str(request.META.get("REMOTE_ADDR") or "inconnue")


@receiver(user_logged_in, dispatch_uid="audit_login")
def _logged_in(sender: object, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    with transaction.atomic(using=PLATFORM_DATABASE):
        services.record(
            database=PLATFORM_DATABASE,
            actor=f"customer:{user.pk}" if getattr(user, "is_customer", False) else str(user.pk),
            role=str(getattr(user, "role", "") or ""),
            action=Action.LOGIN,
            record_type="user",
            record_id=str(user.pk),
            source=source_of(request),
        )


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _login_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already replaced the password by stars; the login typed is kept masked (`j***@exemple.fr`).
    typed = credentials.get("username") or credentials.get("email") or ""
    with transaction.atomic(using=PLATFORM_DATABASE):
        services.record(
            database=PLATFORM_DATABASE,
            actor="anonymous",
            role="",
            action=Action.LOGIN_FAILED,
            record_type="user",
            record_id="",
            source=source_of(request),
            details={"username": str(typed)},
        )
