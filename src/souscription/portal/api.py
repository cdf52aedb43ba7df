"""Portal endpoints of `/api/v1/portal/...`: customer accounts, sign-in with the emailed code, password reset,
the customer's dossiers. Session-based, as staff's: the code step signs the session in (a new session id)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.utils import check_csrf
from pydantic import Field

from souscription.customers.services import send_message
from souscription.identity import customers
from souscription.identity.portal_session import sign_in_session
from souscription.identity.services import end_every_session
from souscription.kernel.errors import NotAuthenticated, PermissionDenied
from souscription.platform.schemas import ErrorsOut
from souscription.subscriptions.services import customer_dossiers

router = Router(tags=["espace client"])
SENT = "Si cette adresse peut recevoir un message, il vient de lui être envoyé : consultez vos messages."


class RegistrationIn(Schema):
    email: str = Field(max_length=254, examples=["lea.martin@exemple.fr"])
    password: str = Field(max_length=128)
    first_name: str = Field(max_length=150, examples=["Léa"])
    last_name: str = Field(max_length=150, examples=["Martin"])


class TokenIn(Schema):
    token: str = Field(min_length=1, max_length=200, description="Le jeton du lien reçu par message")


class SignInIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=128)


class CodeIn(Schema):
    code: str = Field(min_length=1, max_length=12, examples=["123456"])


class ResetRequestIn(Schema):
    email: str = Field(max_length=254)


class NewPasswordIn(Schema):
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(max_length=128)


class SentOut(Schema):
    message: str


class AccountOut(Schema):
    email: str
    first_name: str
    last_name: str
    email_verified: bool


class DossierOut(Schema):
    subscription_id: str
    product: str
    stage: str


class DossiersOut(Schema):
    dossiers: list[DossierOut]


@router.post("/portal/accounts", response={202: SentOut, 422: ErrorsOut}, summary="Créer mon espace client")
def register(request: HttpRequest, payload: RegistrationIn) -> Status[Any]:
    """La même réponse que l'adresse soit nouvelle ou déjà utilisée : son propriétaire reçoit alors un avis."""
    customers.register(
        email=payload.email,
        password=payload.password,
        first_name=payload.first_name,
        last_name=payload.last_name,
        verification_page=request.build_absolute_uri(reverse("portal:verify")),
        send=send_message,
        now=timezone.now(),
    )
    return Status(202, {"message": SENT})


@router.post(
    "/portal/accounts/verification", response={200: AccountOut, 422: ErrorsOut}, summary="Vérifier mon adresse"
)
def verify(request: HttpRequest, payload: TokenIn) -> dict[str, Any]:
    return _account(customers.verify_email(token=payload.token, now=timezone.now()))


@router.post(
    "/portal/sign-in",
    response={202: SentOut, 401: ErrorsOut, 422: ErrorsOut, 429: ErrorsOut},
    summary="Se connecter : mot de passe, puis le code reçu par message",
)
def sign_in(request: HttpRequest, payload: SignInIn) -> Status[Any]:
    now = timezone.now()
    user = customers.check_password(request=request, email=payload.email, password=payload.password, now=now)
    customers.send_sign_in_code(user=user, send=send_message, now=now)
    customers.start_pending(request.session, user=user)
    return Status(202, {"message": "Un code à 6 chiffres vient d'être envoyé à votre adresse e-mail."})


@router.post(
    "/portal/sign-in/new-code",
    response={202: SentOut, 401: ErrorsOut, 429: ErrorsOut},
    summary="Recevoir un nouveau code de connexion",
)
def new_code(request: HttpRequest) -> Status[Any]:
    user = _pending(request)
    customers.send_sign_in_code(user=user, send=send_message, now=timezone.now())
    return Status(202, {"message": "Un nouveau code vient d'être envoyé ; le précédent ne sert plus."})


@router.post(
    "/portal/sign-in/code",
    response={200: AccountOut, 401: ErrorsOut, 403: ErrorsOut, 422: ErrorsOut},
    summary="Confirmer la connexion avec le code reçu",
)
def confirm_code(request: HttpRequest, payload: CodeIn) -> dict[str, Any]:
    if check_csrf(request) is not None:  # the step that signs a session in: no sign-in forged by another site
        raise PermissionDenied("Jeton CSRF absent ou invalide.", field="csrf")
    user = _pending(request)
    customers.confirm_code(user=user, code=payload.code, now=timezone.now())
    sign_in_session(request, user)
    return _account(user)


@router.post("/portal/sign-out", response={204: None, 401: ErrorsOut, 403: ErrorsOut}, summary="Se déconnecter")
def sign_out(request: HttpRequest) -> Status[None]:
    user = _customer(request)
    if check_csrf(request) is not None:
        raise PermissionDenied("Jeton CSRF absent ou invalide.", field="csrf")
    end_every_session(user)
    logout(request)
    return Status(204, None)


@router.post("/portal/password-reset", response={202: SentOut, 422: ErrorsOut}, summary="Mot de passe oublié")
def request_reset(request: HttpRequest, payload: ResetRequestIn) -> Status[Any]:
    """La même réponse que l'adresse ait un compte ou non."""
    customers.request_password_reset(
        email=payload.email,
        reset_page=request.build_absolute_uri(reverse("portal:new_password")),
        send=send_message,
        now=timezone.now(),
    )
    return Status(202, {"message": SENT})


@router.post(
    "/portal/password-reset/confirmation",
    response={204: None, 422: ErrorsOut},
    summary="Choisir un nouveau mot de passe (toutes les sessions prennent fin ; pas de connexion)",
)
def reset(request: HttpRequest, payload: NewPasswordIn) -> Status[None]:
    customers.reset_password(token=payload.token, password=payload.password, now=timezone.now())
    return Status(204, None)


@router.get("/portal/account", response={200: AccountOut, 401: ErrorsOut}, summary="Mon espace client")
def account(request: HttpRequest) -> dict[str, Any]:
    return _account(_customer(request))


@router.get("/portal/dossiers", response={200: DossiersOut, 401: ErrorsOut}, summary="Mes dossiers")
def dossiers(request: HttpRequest) -> dict[str, Any]:
    rows = customer_dossiers(int(_customer(request).pk))
    return {"dossiers": [{"subscription_id": sid, "product": product, "stage": stage} for sid, product, stage in rows]}


class NotACustomer(NotAuthenticated):
    message = "Connectez-vous à votre espace client (e-mail, mot de passe, puis le code reçu)."


def _customer(request: HttpRequest) -> Any:
    """The signed-in customer (the middleware has already ended a session without its emailed code)."""
    user = request.user
    if not (user.is_authenticated and getattr(user, "is_customer", False)):
        raise NotACustomer
    return user


def _pending(request: HttpRequest) -> Any:
    user = customers.pending_account(request.session)
    if user is None:
        raise customers.NoPendingSignIn(field="code")
    return user


def _account(user: Any) -> dict[str, Any]:
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email_verified": user.email_verified_at is not None,
    }
