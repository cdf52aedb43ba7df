"""Thin views: sign in (password then the second factor, or single sign-on), sign out, the role's home page."""

from __future__ import annotations

from typing import Any

import django_otp
from django import forms
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from souscription.identity import second_factor, sso
from souscription.identity.middleware import start_session_clock
from souscription.identity.oidc import SsoRefused, SsoUnavailable
from souscription.identity.services import end_every_session
from souscription.kernel.errors import DomainError
from souscription.web.home import home_for


class StaffSignInForm(AuthenticationForm):
    """Django's password form, with the per-account limit on wrong passwords checked before the password is."""

    def clean(self) -> dict[str, Any]:
        name = str(self.cleaned_data.get("username") or "")
        try:
            second_factor.check_sign_in_allowed(name, now=timezone.now())
        except second_factor.TooManyAttempts as error:
            raise ValidationError(error.message, code=error.code) from None
        try:
            cleaned = super().clean()
        except ValidationError:
            second_factor.record_failed_sign_in(name, now=timezone.now())
            raise
        second_factor.record_successful_sign_in(name)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if getattr(user, "is_customer", False):
            # A customer account signs in on the portal only; here it fails exactly like a wrong password.
            raise self.get_invalid_login_error()


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code à 6 chiffres"), max_length=12)


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    form_class = StaffSignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        start_session_clock(self.request)
        return response

    def get_success_url(self) -> str:
        return f"{reverse('web:second_factor')}?{urlencode({'next': self.get_redirect_url() or reverse('web:home')})}"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "sso_enabled": sso.configured_client() is not None}


class LogoutView(auth_views.LogoutView):
    """Signing out ends every session of the account, on every device (PRODUCT.md: a shared or lost device)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            end_every_session(request.user)
        return super().post(request, *args, **kwargs)


@never_cache
def second_factor_view(request: HttpRequest) -> HttpResponseBase:
    if not request.user.is_authenticated:
        return redirect("web:login")
    if second_factor.is_verified(request.user, session=request.session):
        return HttpResponseRedirect(_next(request))
    user = request.user
    if second_factor.confirmed_device(user) is None:
        return HttpResponseRedirect(f"{reverse('web:enrol')}?{urlencode({'next': _next(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = second_factor.verify_code(user, form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", error.message)
        else:
            return _verified(request, device)
    return render(request, "registration/second_factor.html", {"form": form, "next": _next(request)})


@never_cache
def enrol_view(request: HttpRequest) -> HttpResponseBase:
    if not request.user.is_authenticated:
        return redirect("web:login")
    user = request.user
    if second_factor.confirmed_device(user) is not None:
        return HttpResponseRedirect(f"{reverse('web:second_factor')}?{urlencode({'next': _next(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = second_factor.confirm_enrolment(user, form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", error.message)
        else:
            return _verified(request, device)
    enrolment = second_factor.pending_enrolment(user) or second_factor.start_enrolment(user)
    return render(request, "registration/enrol.html", {"form": form, "enrolment": enrolment, "next": _next(request)})


@never_cache
@require_POST
def sso_start(request: HttpRequest) -> HttpResponseBase:
    try:
        url = sso.begin(session=request.session, redirect_uri=_sso_redirect_uri(request), next_url=_next(request))
    except SsoRefused as error:
        return _sso_refused(request, error)
    return HttpResponseRedirect(url)


@never_cache
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponseBase:
    try:
        signed_in = sso.complete(
            session=request.session, params=request.GET.dict(), redirect_uri=_sso_redirect_uri(request)
        )
    except SsoRefused as error:
        return _sso_refused(request, error)
    login(request, signed_in.user, backend="django.contrib.auth.backends.ModelBackend")  # a new session id
    start_session_clock(request)
    target = signed_in.next_url
    if not (target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})):
        target = reverse("web:home")
    if signed_in.second_factor_proven:
        second_factor.mark_verified_by_provider(request.session, user=signed_in.user)
        return HttpResponseRedirect(target)
    # MFA not required and not proven by the provider: our own second factor is still asked.
    return HttpResponseRedirect(f"{reverse('web:second_factor')}?{urlencode({'next': target})}")


def _sso_redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("web:sso_callback"))


def _sso_refused(request: HttpRequest, error: SsoRefused) -> HttpResponse:
    sso.record_refusal(request, error)
    status = 503 if isinstance(error, SsoUnavailable) else 403
    return render(request, "registration/sso_error.html", {"error": error}, status=status)


def _verified(request: HttpRequest, device: Any) -> HttpResponseRedirect:
    request.session.cycle_key()  # a new session id once both factors are proven
    django_otp.login(request, device)
    return HttpResponseRedirect(_next(request))


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("web:home")


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    role = getattr(request.user, "staff_role", None)
    if role is None:
        return render(request, "web/no_role.html", status=403)
    page = home_for(role)
    figures = [(figure.label, figure.value()) for figure in page.figures]
    return render(request, "web/home.html", {"role": role, "missions": page.missions, "figures": figures})
