"""Accounts API: who am I, and staff account creation by the IT manager."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.security import django_auth
from pydantic import Field

from souscription.identity import second_factor
from souscription.identity.domain import Role
from souscription.identity.services import create_staff_user, disable_staff_user, staff_user
from souscription.kernel.errors import PermissionDenied
from souscription.platform.schemas import ErrorsOut

router = Router(tags=["identité"])


class MeOut(Schema):
    email: str
    full_name: str
    role: Role | None
    role_label: str | None
    department: str | None


class StaffUserIn(Schema):
    email: str = Field(max_length=254, examples=["juriste@assureur.fr"])
    role: Role
    password: str = Field(min_length=12, max_length=128)
    first_name: str = Field(default="", max_length=150)
    last_name: str = Field(default="", max_length=150)


class StaffUserOut(Schema):
    id: int
    email: str
    role: Role


def _role_of(request: HttpRequest) -> Role | None:
    return getattr(request.user, "staff_role", None)


@router.get("/me", response={200: MeOut, 401: ErrorsOut}, auth=django_auth, summary="Mon compte")
def me(request: HttpRequest) -> dict[str, object]:
    role = _role_of(request)
    user = request.user
    return {
        "email": getattr(user, "email", ""),
        "full_name": user.get_full_name() if hasattr(user, "get_full_name") else "",
        "role": role,
        "role_label": role.label if role else None,
        "department": role.department.value if role else None,
    }


@router.post(
    "/staff-users",
    response={201: StaffUserOut, 401: ErrorsOut, 403: ErrorsOut, 409: ErrorsOut, 422: ErrorsOut},
    auth=django_auth,
    summary="Créer un compte du personnel (responsable informatique)",
)
def create_staff(request: HttpRequest, payload: StaffUserIn) -> Status[Any]:
    if _role_of(request) is not Role.IT_MANAGER:
        raise PermissionDenied("Seul le responsable informatique crée des comptes du personnel.")
    user = create_staff_user(
        email=payload.email,
        password=payload.password,
        role=payload.role.value,
        first_name=payload.first_name,
        last_name=payload.last_name,
    )
    return Status(201, {"id": user.pk, "email": user.email, "role": Role(user.role)})


@router.post(
    "/staff-users/{user_id}/deactivation",
    response={200: StaffUserOut, 401: ErrorsOut, 403: ErrorsOut, 404: ErrorsOut},
    auth=django_auth,
    summary="Désactiver un compte du personnel (ses sessions prennent fin)",
)
def deactivate_staff(request: HttpRequest, user_id: int) -> dict[str, Any]:
    _check_it_manager(request)
    user = disable_staff_user(user_id=user_id)
    return {"id": user.pk, "email": user.email, "role": Role(user.role)}


@router.post(
    "/staff-users/{user_id}/second-factor-reset",
    response={200: StaffUserOut, 401: ErrorsOut, 403: ErrorsOut, 404: ErrorsOut},
    auth=django_auth,
    summary="Réinitialiser le second facteur (téléphone perdu) : réenrôlement à la prochaine connexion",
)
def reset_second_factor(request: HttpRequest, user_id: int) -> dict[str, Any]:
    _check_it_manager(request)
    user = staff_user(user_id=user_id)
    second_factor.reset_second_factor(user)
    return {"id": user.pk, "email": user.email, "role": Role(user.role)}


def _check_it_manager(request: HttpRequest) -> None:
    if _role_of(request) is not Role.IT_MANAGER:
        raise PermissionDenied("Seul le responsable informatique gère les comptes du personnel.")
