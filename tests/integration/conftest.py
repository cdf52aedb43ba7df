from __future__ import annotations

import pytest

from souscription.identity.models import User

PASSWORD = "Parapluie-Tulipe-2026"


@pytest.fixture
def staff_member(django_db_blocker: object):
    """A factory of signed-in-able staff members: `staff_member("jurist")`."""

    def make(role: str, email: str | None = None) -> User:
        return User.objects.create_user(email or f"{role}@assureur.test", PASSWORD, role=role, first_name="Alex")

    return make
