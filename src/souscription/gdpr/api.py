"""GDPR endpoints of `/api/v1`: the consent register of a dossier, and the access export for the DPO.

Consents are given and withdrawn by the applicant (the dossier's token) or front-office staff, as every dossier
action; the export of everything held on a customer is the DPO's (`auditor`) and the IT manager's only."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from souscription.access.policy import Permission, may, roles_granted
from souscription.consents import services as consents
from souscription.consents.domain import TEXTS, current_text, parse_purpose
from souscription.gdpr import access
from souscription.gdpr.render import to_html
from souscription.kernel.errors import PermissionDenied
from souscription.platform.schemas import ErrorsOut
from souscription.subscriptions import services as dossiers
from souscription.subscriptions.callers import caller_of, front_office

router = Router(tags=["RGPD"])
ERRORS: dict[int, type[ErrorsOut]] = {401: ErrorsOut, 403: ErrorsOut, 404: ErrorsOut, 409: ErrorsOut, 422: ErrorsOut}


class ConsentTextOut(Schema):
    purpose: str
    version: str
    title: str
    text: str
    legal_basis: str


class ConsentIn(Schema):
    purpose: str = Field(examples=["health_data"])
    text_version: str = Field(min_length=1, max_length=16, description="Version du texte lu et accepté")


class ConsentOut(Schema):
    id: str
    purpose: str
    text_version: str
    given_at: datetime
    given_by: str
    withdrawn_at: datetime | None
    withdrawn_by: str
    in_force: bool


class ConsentsOut(Schema):
    subscription_id: str
    consents: list[ConsentOut]


@router.get("/consent-texts", response={200: list[ConsentTextOut]}, summary="Textes de consentement en vigueur")
def consent_texts(request: HttpRequest) -> list[dict[str, Any]]:
    """Le texte à montrer avant de demander un consentement, avec la version à renvoyer en l'acceptant."""
    texts = [current_text(purpose) for purpose in dict.fromkeys(text.purpose for text in TEXTS)]
    return [{**text.__dict__, "purpose": text.purpose.value} for text in texts]


@router.post(
    "/dossiers/{subscription_id}/consents",
    response={201: ConsentOut, **ERRORS},
    summary="Donner un consentement (par ex. au traitement des données de santé)",
)
def give_consent(request: HttpRequest, subscription_id: str, payload: ConsentIn) -> Status[Any]:
    """Consentement explicite sur le texte en vigueur (`GET /consent-texts`) ; sans lui, les réponses du
    questionnaire de santé sont refusées (`health_data_consent_required`)."""
    front_office(request, subscription_id)
    row, _dossier = dossiers.load(subscription_id)
    given = consents.give_consent(
        subscription_id=subscription_id,
        purpose=parse_purpose(payload.purpose),
        text_version=payload.text_version,
        customer_id=row.customer_id,
        now=timezone.now(),
    )
    return Status(201, _out(given))


@router.get("/dossiers/{subscription_id}/consents", response={200: ConsentsOut, **ERRORS}, summary="Consentements")
def list_consents(request: HttpRequest, subscription_id: str) -> dict[str, Any]:
    front_office(request, subscription_id)
    dossiers.load(subscription_id)
    return {"subscription_id": subscription_id, "consents": [_out(c) for c in consents.consents_of(subscription_id)]}


@router.post(
    "/dossiers/{subscription_id}/consents/{purpose}/withdrawal",
    response={200: ConsentOut, **ERRORS},
    summary="Retirer un consentement",
)
def withdraw_consent(request: HttpRequest, subscription_id: str, purpose: str) -> dict[str, Any]:
    """Le retrait vaut pour l'avenir (RGPD art. 7(3)) : une nouvelle réponse de santé est refusée ; ce qui a été
    décidé avant lui reste valable."""
    front_office(request, subscription_id)
    dossiers.load(subscription_id)
    withdrawn = consents.withdraw_consent(
        subscription_id=subscription_id, purpose=parse_purpose(purpose), now=timezone.now()
    )
    return _out(withdrawn)


@router.get(
    "/customers/{customer_id}/data-export",
    response={200: None, **ERRORS},
    summary="Export des données d'un client (droit d'accès)",
)
def data_export(request: HttpRequest, customer_id: str, format: Literal["json", "html"] = "json") -> HttpResponse:
    """Tout ce que chaque département détient sur le client (santé et IBAN déchiffrés), avec les entrées du journal
    d'audit qui le concernent. Réservé à l'auditeur / DPO et au responsable informatique ; l'export est journalisé."""
    caller = caller_of(request)
    if not may(caller.role, Permission.EXPORT_CUSTOMER_DATA):
        names = ", ".join(role.label for role in roles_granted(Permission.EXPORT_CUSTOMER_DATA))
        raise PermissionDenied(f"Export réservé : {names}.", field="role")
    found = access.resolve_customer(customer_id)
    export = access.export_customer(customer_id=found, output_format=format, actor=None, now=timezone.now())
    if format == "html":
        response = HttpResponse(to_html(export), content_type="text/html; charset=utf-8")
    else:
        response = HttpResponse(access.to_json(export), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="donnees-{found}.{format}"'
    return response


def _out(consent: consents.ConsentView) -> dict[str, Any]:
    return {**consent.__dict__, "id": str(consent.id), "in_force": consent.in_force}
