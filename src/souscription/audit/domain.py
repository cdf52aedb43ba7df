"""What an audit entry says, and how personal values are masked before one is written. Pure.

Masking happens in `masked_details`, which `services.record` always applies: a caller cannot store a raw email,
IBAN, name or health value by mistake. Health values are never stored at all, not even masked: the entry cites
the record (`record_type`, `record_id`) and that suffices to know what was read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from souscription.kernel.errors import DomainError


class Action(StrEnum):
    CREATE = "create"
    CHANGE = "change"
    DECIDE = "decide"
    SIGN = "sign"
    VALIDATE = "validate"
    EXPORT = "export"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    ACCESS_DENIED = "access_denied"
    READ_HEALTH = "read_health"
    ERASE = "erase"


PLATFORM_ACTOR = "platform"
WORKFLOW_SOURCE = "workflow"


def applicant_actor(subscription_id: object) -> str:
    return f"applicant:{subscription_id}"


class UnstorableDetails(DomainError):
    code = "audit_details_unstorable"
    message = "Les détails d'une entrée d'audit ne contiennent que du texte, des entiers, des booléens et des listes."


HEALTH_KEYS = frozenset({"health", "health_answers", "declaration", "medical", "diagnosis", "treatment"})
"""Keys whose value is dropped; any key starting with `health` is dropped too."""
PERSONAL_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "full_name",
        "birth_date",
        "phone",
        "address",
        "street",
        "email",
        "username",
        "login",
        "iban",
    }
)
"""Keys whose value is masked whatever it looks like: an email as `j***@exemple.fr`, an IBAN as `FR76 **** 0189`,
anything else reduced to its first character."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")


def mask_email(value: str) -> str:
    """`jeanne.dupont@exemple.fr` -> `j***@exemple.fr`."""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_iban(value: str) -> str:
    """`FR76 3000 6000 0112 3456 7890 189` -> `FR76 **** 0189`: country and check digits, the last four."""
    compact = value.replace(" ", "")
    return f"{compact[:4]} **** {compact[-4:]}"


def mask_text(value: str) -> str:
    """Every email and IBAN inside a free text, masked."""
    masked = _EMAIL.sub(lambda match: mask_email(match.group()), value)
    return _IBAN.sub(lambda match: mask_iban(match.group()), masked)


def masked_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `details` safe to keep forever: health values removed, personal values masked.

    Floats are refused: the leaf hash is computed over the canonical JSON read back from the database, and a float
    may not come back with the same digits (amounts are integer cents everywhere in the platform anyway)."""
    result: dict[str, Any] = {}
    for key, value in details.items():
        if not isinstance(key, str):
            raise UnstorableDetails(field=str(key))
        lowered = key.lower()
        if lowered in HEALTH_KEYS or lowered.startswith("health"):
            continue
        if lowered in PERSONAL_KEYS and isinstance(value, str):
            result[key] = _masked_personal(value)
        else:
            result[key] = _masked_value(key, value)
    return result


def _masked_personal(value: str) -> str:
    if _EMAIL.fullmatch(value.strip()):
        return mask_email(value.strip())
    if _IBAN.fullmatch(value.strip().upper()):
        return mask_iban(value.strip().upper())
    return f"{value[:1]}***" if value else ""


def _masked_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list | tuple):
        return [_masked_value(key, item) for item in value]
    if isinstance(value, Mapping):
        return masked_details(value)
    raise UnstorableDetails(field=key)
