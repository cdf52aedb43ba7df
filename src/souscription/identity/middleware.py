"""One place where a session is judged, staff's or a customer's: both factors, not idle too long, not too old.

Runs after django-otp's `OTPMiddleware` (which tells whether the session's second factor was verified). A session
past its idle or absolute limit is ended. A staff session that passed the password but not yet the second factor is
anonymous to the API and is sent to the second-factor pages by every page, so no view has to remember the rule.
A customer session is signed in only once its emailed code is accepted (the portal keeps the password step outside
the session's login until then): one without that mark is ended, and a customer's pages are the portal's only, so
no staff page ever renders for a customer account."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from souscription.identity import customers
from souscription.identity.second_factor import is_verified

SIGNED_IN_AT, SEEN_AT = "souscription_signed_in_at", "souscription_seen_at"
PORTAL_PREFIX = "/espace-client/"
SEEN_REFRESH_SECONDS = 60
"""A session's last-seen time is written at most once a minute: writing it on every request would cost a database
write per API call for a precision nobody needs."""


def start_session_clock(request: HttpRequest) -> None:
    """Called when the password is accepted: the absolute limit counts from here."""
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[SEEN_AT] = now


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            if self._expired(request):
                logout(request)
            elif getattr(user, "is_customer", False):
                return self._customer(request)
            elif not is_verified(user, session=request.session):
                if request.path_info.startswith("/api/"):
                    request.user = AnonymousUser()
                elif request.path_info not in self.open_paths() and not request.path_info.startswith("/static/"):
                    target = reverse("web:second_factor")
                    return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _customer(self, request: HttpRequest) -> HttpResponse:
        if not customers.is_signed_in(request.user, session=request.session):
            logout(request)
        elif not request.path_info.startswith((PORTAL_PREFIX, "/api/", "/static/")):
            return HttpResponseRedirect(reverse("portal:home"))
        return self.get_response(request)

    def open_paths(self) -> frozenset[str]:
        if self._open_paths is None:
            names = ("web:login", "web:logout", "web:second_factor", "web:enrol", "web:sso_start", "web:sso_callback")
            self._open_paths = frozenset(reverse(name) for name in names)
        return self._open_paths

    @staticmethod
    def _expired(request: HttpRequest) -> bool:
        now = int(time.time())
        signed_in_at = request.session.get(SIGNED_IN_AT)
        seen_at = request.session.get(SEEN_AT)
        if not isinstance(signed_in_at, int) or not isinstance(seen_at, int):
            return True  # a session from before these limits, or forged: sign in again
        if now - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS or now - seen_at > settings.SESSION_IDLE_SECONDS:
            return True
        if now - seen_at >= SEEN_REFRESH_SECONDS:
            request.session[SEEN_AT] = now
        return False
