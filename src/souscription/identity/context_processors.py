from __future__ import annotations

from django.http import HttpRequest


def staff(request: HttpRequest) -> dict[str, object]:
    """The signed-in member's role, for the layout (role badge, navigation)."""
    user = getattr(request, "user", None)
    role = getattr(user, "staff_role", None) if user is not None and user.is_authenticated else None
    return {"staff_role": role}
