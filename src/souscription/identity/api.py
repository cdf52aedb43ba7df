"""Who am I: the signed-in staff member's role and department, for clients that adapt to the role."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import django_auth

from souscription.platform.schemas import ErrorsOut

router = Router(tags=["identité"])


class MeOut(Schema):
    email: str
    full_name: str
    role: str | None
    role_label: str | None
    department: str | None


@router.get("/me", response={200: MeOut, 401: ErrorsOut}, auth=django_auth, summary="Mon compte")
def me(request: HttpRequest) -> dict[str, str | None]:
    user = request.user
    role = getattr(user, "staff_role", None)
    return {
        "email": getattr(user, "email", ""),
        "full_name": user.get_full_name() if hasattr(user, "get_full_name") else "",
        "role": role.value if role else None,
        "role_label": role.label if role else None,
        "department": role.department.value if role else None,
    }
