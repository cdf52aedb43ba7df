"""Who calls a dossier endpoint, and whether the access policy lets them: the applicant (the dossier's bearer
token, or a portal customer on their own dossier), a partner's key (acting for the applicant on the dossiers it
opened), or a signed-in staff member with a role. One place, so that every endpoint judges callers alike."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from ninja.utils import check_csrf

from souscription.access.policy import Category, Permission, Viewer, may, readable, roles_granted, unwritable_slices
from souscription.audit import context as audit_context
from souscription.identity.domain import Role
from souscription.kernel.errors import NotAuthenticated, PermissionDenied
from souscription.partners.auth import PartnerCaller
from souscription.subscriptions import services


class ApplicantOrStaffOnly(NotAuthenticated):
    message = "Identifiez-vous : session du personnel ou jeton du demandeur (Authorization: Bearer …)."


@dataclass(frozen=True)
class Caller:
    user_id: int | None
    role: Role | None
    partner_id: uuid.UUID | None = None

    @property
    def is_applicant(self) -> bool:
        """The applicant, or a partner acting for it (a partner's key is accepted only where it may act)."""
        return self.user_id is None

    @property
    def viewer(self) -> Viewer:
        return Viewer(role=self.role, is_applicant=self.is_applicant)


def caller_of(request: HttpRequest, subscription_id: str | None = None) -> Caller:
    partner = getattr(request, "auth", None)
    if isinstance(partner, PartnerCaller):
        # Another partner's dossier does not exist for this one: 404, as for a wrong number.
        if subscription_id and not services.partner_holds(subscription_id, partner.partner_id):
            raise services.DossierNotFound(field="subscription_id")
        return Caller(user_id=None, role=None, partner_id=partner.partner_id)
    user = request.user
    if user.is_authenticated:
        if request.method == "POST" and check_csrf(request) is not None:
            raise PermissionDenied("Jeton CSRF absent ou invalide.", field="csrf")
        if subscription_id and getattr(user, "is_customer", False):
            # A portal customer acts as the applicant on their own dossiers; another's is a 404, as a wrong number.
            if not services.customer_holds(subscription_id, int(user.pk)):
                raise services.DossierNotFound(field="subscription_id")
            audit_context.act_as_applicant(subscription_id)
            return Caller(user_id=None, role=None)
        return Caller(user_id=int(user.pk), role=getattr(user, "staff_role", None))  # a customer: no role, no grant
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if subscription_id and scheme.lower() == "bearer" and token and services.applicant_holds(subscription_id, token):
        audit_context.act_as_applicant(subscription_id)
        return Caller(user_id=None, role=None)
    raise ApplicantOrStaffOnly(field="Authorization")


def front_office(request: HttpRequest, subscription_id: str) -> Caller:
    caller = caller_of(request, subscription_id)
    if not caller.is_applicant and not may(caller.role, Permission.ACT_ON_DOSSIER):
        raise PermissionDenied("Seuls le demandeur, le service client et les commerciaux agissent sur le dossier.")
    return caller


def reader(request: HttpRequest, subscription_id: str) -> Caller:
    """The applicant, or a staff member whose department works dossiers (access policy)."""
    caller = caller_of(request, subscription_id)
    if not readable(caller.viewer, Category.DOSSIER):
        raise PermissionDenied("Votre rôle ne donne pas accès aux dossiers des clients.", field="role")
    return caller


def check_may_write_step(caller: Caller, subscription_id: str, answers: Mapping[str, Any]) -> None:
    """A staff member answering for a customer writes only the fields their department may edit (access policy)."""
    if caller.is_applicant:
        return
    refused = unwritable_slices(caller.viewer, services.slices_of(subscription_id, answers))
    if refused:
        names = ", ".join(sorted(str(found) for found in refused))
        raise PermissionDenied(
            f"Votre rôle ne peut pas saisir ces réponses pour le client ({names}) : le demandeur les donne lui-même.",
            field="answers",
        )


def granted(request: HttpRequest, permission: Permission) -> Caller:
    caller = caller_of(request)
    if not may(caller.role, permission):
        names = ", ".join(role.label for role in roles_granted(permission))
        raise PermissionDenied(f"Action réservée : {names}.", field="role")
    return caller
