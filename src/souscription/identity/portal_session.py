"""Signing a customer's session in, once the emailed code is accepted (the portal's pages and API alike)."""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest

from souscription.identity import customers
from souscription.identity.middleware import start_session_clock
from souscription.identity.models import User

BACKEND = "django.contrib.auth.backends.ModelBackend"


def sign_in_session(request: HttpRequest, user: User) -> None:
    """A new session id (Django's `login`, whose signal writes the audit entry), the session's idle and absolute
    clock started, and the customer's second factor marked for this account."""
    login(request, user, backend=BACKEND)
    start_session_clock(request)
    customers.mark_signed_in(request.session, user=user)
