"""Translate every failure at the edge into the one error model: `{"errors": [{code, message, field}]}`.

Pydantic's validation errors become French messages with stable codes, so an API client and a person
both learn which field is wrong and how to fix it. Nothing here decides business rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from souscription.kernel.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Problem,
    RateLimited,
)

_STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (Conflict, 409),
    (RateLimited, 429),
)

_PYDANTIC_MESSAGES: Mapping[str, tuple[str, str]] = {
    "missing": ("required", "Ce champ est obligatoire."),
    "string_too_short": ("too_short", "Ce texte est trop court (au moins {min_length} caractères)."),
    "string_too_long": ("too_long", "Ce texte est trop long (au plus {max_length} caractères)."),
    "string_pattern_mismatch": ("invalid_format", "Le format n'est pas valide."),
    "string_type": ("invalid_type", "Une chaîne de caractères est attendue."),
    "int_parsing": ("invalid_number", "Un nombre entier est attendu."),
    "int_type": ("invalid_number", "Un nombre entier est attendu."),
    "float_parsing": ("invalid_number", "Un nombre est attendu."),
    "decimal_parsing": ("invalid_number", "Un nombre décimal est attendu."),
    "bool_parsing": ("invalid_boolean", "Répondez par vrai ou faux."),
    "greater_than_equal": ("too_small", "La valeur doit être au moins {ge}."),
    "greater_than": ("too_small", "La valeur doit être supérieure à {gt}."),
    "less_than_equal": ("too_large", "La valeur doit être au plus {le}."),
    "less_than": ("too_large", "La valeur doit être inférieure à {lt}."),
    "date_parsing": ("invalid_date", "Une date au format AAAA-MM-JJ est attendue."),
    "date_from_datetime_parsing": ("invalid_date", "Une date au format AAAA-MM-JJ est attendue."),
    "datetime_parsing": ("invalid_datetime", "Une date et heure ISO 8601 est attendue."),
    "uuid_parsing": ("invalid_id", "Identifiant invalide : un UUID est attendu."),
    "enum": ("invalid_choice", "Valeur non acceptée. Valeurs possibles : {expected}."),
    "literal_error": ("invalid_choice", "Valeur non acceptée. Valeurs possibles : {expected}."),
    "value_error": ("invalid_value", "{msg}"),
    "json_invalid": ("invalid_json", "Le corps de la requête n'est pas du JSON valide."),
    "model_attributes_type": ("invalid_body", "Un objet JSON est attendu."),
    "dict_type": ("invalid_body", "Un objet JSON est attendu."),
    "extra_forbidden": ("unknown_field", "Ce champ n'est pas accepté."),
}
_LOCATION_ROOTS = {"body", "query", "path", "header", "cookie", "form", "payload"}


def status_for(error: DomainError) -> int:
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 422


def problems_body(problems: Iterable[Problem]) -> dict[str, list[dict[str, str | None]]]:
    return {"errors": [problem.as_dict() for problem in problems]}


def problems_from_validation(errors: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Pydantic error dicts (as django-ninja passes them) to our problems, field paths dotted."""
    return [_problem_from(error) for error in errors]


def _problem_from(error: Mapping[str, Any]) -> Problem:
    kind = str(error.get("type", ""))
    code, template = _PYDANTIC_MESSAGES.get(kind, ("invalid_value", "Valeur invalide."))
    context = dict(error.get("ctx") or {})
    context.setdefault("msg", str(error.get("msg", "Valeur invalide.")).removeprefix("Value error, "))
    try:
        message = template.format(**context)
    except (KeyError, IndexError):
        message = "Valeur invalide."
    return Problem(code=code, message=message, field=_field_path(error.get("loc", ())))


def _field_path(location: Sequence[Any]) -> str | None:
    parts = [str(part) for part in location]
    while parts and parts[0] in _LOCATION_ROOTS:
        parts = parts[1:]
    return ".".join(parts) or None
