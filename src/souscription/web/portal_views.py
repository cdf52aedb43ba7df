"""The customer portal's pages (`/espace-client/`): register, verify the address, sign in with the emailed code,
reset a forgotten password. Thin: a form, one call to `identity.customers`, the answer; the rules are there."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from souscription.customers.services import send_message
from souscription.identity import customers
from souscription.identity.portal_session import sign_in_session
from souscription.identity.services import end_every_session
from souscription.kernel.errors import DomainError
from souscription.subscriptions.services import customer_dossiers


class RegistrationForm(forms.Form):
    first_name = forms.CharField(label=_("Prénom"), max_length=150)
    last_name = forms.CharField(label=_("Nom"), max_length=150)
    email = forms.CharField(label=_("Adresse e-mail"), max_length=254)
    password = forms.CharField(label=_("Mot de passe (12 caractères au moins)"), max_length=128)


class SignInForm(forms.Form):
    email = forms.CharField(label=_("Adresse e-mail"), max_length=254)
    password = forms.CharField(label=_("Mot de passe"), max_length=128)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code à 6 chiffres"), max_length=12)


class EmailForm(forms.Form):
    email = forms.CharField(label=_("Adresse e-mail"), max_length=254)


class TokenForm(forms.Form):
    token = forms.CharField(max_length=200, widget=forms.HiddenInput)


class NewPasswordForm(TokenForm):
    password = forms.CharField(label=_("Nouveau mot de passe (12 caractères au moins)"), max_length=128)


def _fail(form: forms.Form, error: DomainError) -> None:
    """Each problem on its field (or on the form when it names none the form has), as typed."""
    for problem in error.problems:
        form.add_error(problem.field if problem.field in form.fields else None, problem.message)


def _signed_in_customer(request: HttpRequest) -> Any:
    user = request.user
    return user if user.is_authenticated and getattr(user, "is_customer", False) else None


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    user = _signed_in_customer(request)
    rows = customer_dossiers(int(user.pk)) if user is not None else []
    return render(request, "portal/home.html", {"customer": user, "dossiers": rows})


@never_cache
def register(request: HttpRequest) -> HttpResponse:
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customers.register(
                **form.cleaned_data,
                verification_page=request.build_absolute_uri(reverse("portal:verify")),
                send=send_message,
                now=timezone.now(),
            )
        except DomainError as error:
            _fail(form, error)
        else:
            return render(request, "portal/sent.html", {"title": gettext("Vérifiez votre adresse e-mail")})
    return render(request, "portal/register.html", {"form": form})


@never_cache
def verify(request: HttpRequest) -> HttpResponseBase:
    """The link opens a page with one button: a link checker fetching it does not use the single-use token."""
    form = TokenForm(request.POST or None, initial={"token": request.GET.get("jeton", "")})
    if request.method == "POST" and form.is_valid():
        try:
            customers.verify_email(token=form.cleaned_data["token"], now=timezone.now())
        except DomainError as error:
            _fail(form, error)
        else:
            messages.success(request, gettext("Votre adresse e-mail est vérifiée : vous pouvez vous connecter."))
            return redirect("portal:sign_in")
    return render(request, "portal/verify.html", {"form": form})


@never_cache
def sign_in(request: HttpRequest) -> HttpResponseBase:
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        now = timezone.now()
        try:
            user = customers.check_password(
                request=request, email=form.cleaned_data["email"], password=form.cleaned_data["password"], now=now
            )
            customers.send_sign_in_code(user=user, send=send_message, now=now)
        except DomainError as error:
            _fail(form, error)
        else:
            customers.start_pending(request.session, user=user)
            return redirect("portal:code")
    return render(request, "portal/sign_in.html", {"form": form})


@never_cache
def code(request: HttpRequest) -> HttpResponseBase:
    user = customers.pending_account(request.session)
    if user is None:
        messages.info(request, customers.NoPendingSignIn.message)
        return redirect("portal:sign_in")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customers.confirm_code(user=user, code=form.cleaned_data["code"], now=timezone.now())
        except DomainError as error:
            _fail(form, error)
        else:
            sign_in_session(request, user)
            return redirect("portal:home")
    return render(request, "portal/code.html", {"form": form})


@never_cache
@require_POST
def new_code(request: HttpRequest) -> HttpResponseBase:
    user = customers.pending_account(request.session)
    if user is None:
        return redirect("portal:sign_in")
    try:
        customers.send_sign_in_code(user=user, send=send_message, now=timezone.now())
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.info(request, gettext("Un nouveau code vient d'être envoyé ; le précédent ne sert plus."))
    return redirect("portal:code")


@never_cache
def forgot_password(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customers.request_password_reset(
            email=form.cleaned_data["email"],
            reset_page=request.build_absolute_uri(reverse("portal:new_password")),
            send=send_message,
            now=timezone.now(),
        )
        return render(request, "portal/sent.html", {"title": gettext("Consultez vos messages")})
    return render(request, "portal/forgot_password.html", {"form": form})


@never_cache
def new_password(request: HttpRequest) -> HttpResponseBase:
    form = NewPasswordForm(request.POST or None, initial={"token": request.GET.get("jeton", "")})
    if request.method == "POST" and form.is_valid():
        try:
            customers.reset_password(
                token=form.cleaned_data["token"], password=form.cleaned_data["password"], now=timezone.now()
            )
        except DomainError as error:
            _fail(form, error)
        else:
            messages.success(
                request,
                gettext("Mot de passe changé. Connectez-vous : un code vous sera envoyé, comme à chaque connexion."),
            )
            return redirect("portal:sign_in")
    return render(request, "portal/new_password.html", {"form": form})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponseBase:
    """As for staff, signing out ends every session of the account (a shared or lost device)."""
    if request.user.is_authenticated:
        end_every_session(request.user)
    logout(request)
    return redirect("portal:sign_in")
