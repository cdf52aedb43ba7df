"""Use cases on accounts. Services validate and save; entry points only translate."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F

from souscription.identity.domain import Role, UnknownRole
from souscription.identity.models import User
from souscription.kernel.errors import Conflict, InvalidInput, NotFound, Problem


class EmailAlreadyUsed(Conflict):
    code = "email_already_used"
    message = "Un compte existe déjà avec cette adresse e-mail."


def create_staff_user(
    *, email: str, password: str, role: str, first_name: str = "", last_name: str = "", update: bool = False
) -> User:
    """Create a staff account with a role; with `update`, an existing account gets the new role and password."""
    problems: list[Problem] = []
    email = email.strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        problems.append(
            Problem("invalid_email", "Adresse e-mail invalide (exemple : prenom.nom@assureur.fr).", "email")
        )
    try:
        parsed_role = Role.parse(role)
    except UnknownRole as error:
        problems.append(Problem(UnknownRole.code, str(error), "role"))
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as error:
        problems.append(Problem("weak_password", " ".join(error.messages), "password"))
    if problems:
        raise InvalidInput(problems)

    with transaction.atomic(using="default"):
        user = User.objects.select_for_update().filter(email=email).first()
        if user is not None and (not update or user.is_customer):
            raise EmailAlreadyUsed(field="email")  # a customer account never becomes staff
        user = user or candidate
        user.first_name = first_name or user.first_name
        user.last_name = last_name or user.last_name
        user.role = parsed_role.value
        user.set_password(password)
        user.save()
    return user


def end_every_session(user: User) -> None:
    """End all of `user`'s sessions, on every device: each carries a hash of the session version, now stale."""
    User.objects.filter(pk=user.pk).update(session_version=F("session_version") + 1)


def staff_user(*, user_id: int) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise UnknownAccount(field="user_id")
    return user


def disable_staff_user(*, user_id: int) -> User:
    """Disable an account: it can no longer sign in, and its open sessions end at their next request."""
    with transaction.atomic(using="default"):
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise UnknownAccount(field="user_id")
        user.is_active = False
        user.session_version += 1
        user.save(update_fields=["is_active", "session_version"])
    return user


class UnknownAccount(NotFound):
    code = "unknown_account"
    message = "Ce compte n'existe pas : vérifiez son identifiant."
