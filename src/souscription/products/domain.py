"""A product is configuration: what to collect, how to check it, which decision graphs decide, what to produce.

This module reads a definition (already parsed from JSON) into typed values, refusing a malformed one with the
path of the fault, and checks a dossier's answers against it: types, ranges, formats, choices and conditional
fields. Pure: no Django, no I/O, no clock (dates are compared with the `today` given).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from souscription.kernel.errors import Problem

DECISIONS = ("eligibility", "referral", "pricing")
"""Every product names one JDM decision graph for each of these."""


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    CHOICE = "choice"
    EMAIL = "email"
    COUNTRY = "country"
    IBAN = "iban"


class Slice(StrEnum):
    """Which part of the dossier an answer belongs to, hence which department keeps it (seed 004).

    Contact data stays with customer service, health answers with Legal, bank details with Billing, and
    everything else (the risk described: vehicle, driver, profession, cover, payment frequency) with Sales."""

    CONTACT = "contact"
    COMMERCIAL = "commercial"
    HEALTH = "health"
    BANK = "bank"


class InvalidDefinition(ValueError):
    """A product file is wrong; the message names the file path and the key at fault."""


@dataclass(frozen=True)
class Condition:
    """`field` must hold one of `values` for the condition to hold (for conditional fields)."""

    field: str
    values: tuple[Any, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return answers.get(self.field) in self.values


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str
    required: bool = True
    required_if: Condition | None = None
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    hint: str = ""
    choices: tuple[str, ...] = ()
    sensitive: str | None = None  # "health" or "bank": who may see it is decided by the access policy

    def is_required(self, answers: Mapping[str, Any]) -> bool:
        return self.required_if.holds(answers) if self.required_if else self.required

    @property
    def slice(self) -> Slice:
        if self.sensitive == "health":
            return Slice.HEALTH
        if self.sensitive == "bank":
            return Slice.BANK
        return Slice.CONTACT if self.name.startswith("customer.") else Slice.COMMERCIAL


@dataclass(frozen=True)
class StepSpec:
    id: str
    label: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class ProductDefinition:
    product: str
    version: str
    label: str
    effective_from: date
    steps: tuple[StepSpec, ...]
    decisions: Mapping[str, str]
    documents: tuple[str, ...]
    billing_frequencies: tuple[str, ...]
    offer_validity_days: int
    health_underwritten: bool

    @property
    def key(self) -> str:
        return f"{self.product}/{self.version}"

    def fields(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for step in self.steps for spec in step.fields)

    def step(self, step_id: str) -> StepSpec | None:
        return next((step for step in self.steps if step.id == step_id), None)

    def field(self, name: str) -> FieldSpec | None:
        return next((spec for spec in self.fields() if spec.name == name), None)

    def split_by_slice(self, answers: Mapping[str, Any]) -> dict[Slice, dict[str, Any]]:
        """The answers grouped by the department slice that keeps them (unknown names are dropped)."""
        slices: dict[Slice, dict[str, Any]] = {}
        for spec in self.fields():
            if spec.name in answers:
                slices.setdefault(spec.slice, {})[spec.name] = answers[spec.name]
        return slices


def parse_definition(data: Mapping[str, Any], *, source: str) -> ProductDefinition:
    """Read a product definition; raise `InvalidDefinition` naming `source` and the key at fault."""
    where = _Where(source)
    try:
        steps = tuple(_parse_step(step, where.at(f"steps[{i}]")) for i, step in enumerate(data["steps"]))
        decisions = {name: str(data["decisions"][name]) for name in DECISIONS}
        definition = ProductDefinition(
            product=str(data["product"]),
            version=str(data["version"]),
            label=str(data["label"]),
            effective_from=date.fromisoformat(str(data["effective_from"])),
            steps=steps,
            decisions=decisions,
            documents=tuple(str(d) for d in data.get("documents", ())),
            billing_frequencies=tuple(str(f) for f in data["billing"]["frequencies"]),
            offer_validity_days=int(data.get("offer_validity_days", 30)),
            health_underwritten=bool(data.get("health_underwritten", False)),
        )
    except KeyError as missing:
        raise InvalidDefinition(f"{where.path}: clé obligatoire absente : {missing.args[0]}") from None
    except (TypeError, ValueError) as error:
        if isinstance(error, InvalidDefinition):
            raise
        raise InvalidDefinition(f"{where.path}: {error}") from None
    _check_unique_fields(definition, where)
    return definition


def check_answers(definition: ProductDefinition, answers: Mapping[str, Any], *, today: date) -> list[Problem]:
    """Type, range, format and choice problems of the answers given (missing ones are completeness's business)."""
    specs = {spec.name: spec for spec in definition.fields()}
    problems = [
        Problem("unknown_field", "Ce champ n'existe pas pour ce produit.", name)
        for name in answers
        if name not in specs
    ]
    for name, value in answers.items():
        if name in specs and value not in (None, ""):
            problem = _check_value(specs[name], value, today)
            if problem:
                problems.append(problem)
    return problems


def check_step(
    definition: ProductDefinition,
    step_id: str,
    answers: Mapping[str, Any],
    *,
    known: Mapping[str, Any],
    today: date,
) -> list[Problem]:
    """Problems of one step's submission: fields of another step, wrong values, and the step's required fields
    left empty (conditions judged on what is already known merged with this submission)."""
    step = definition.step(step_id)
    if step is None:
        steps = ", ".join(s.id for s in definition.steps)
        return [Problem("unknown_step", f"Étape inconnue pour ce produit. Étapes : {steps}.", "step")]
    names = {spec.name for spec in step.fields}
    problems = [
        Problem("unknown_field", f"Ce champ n'appartient pas à l'étape « {step.label} ».", name)
        for name in answers
        if name not in names
    ]
    problems += [p for p in check_answers(definition, answers, today=today) if p.field in names]
    merged = {**known, **answers}
    problems += [
        Problem("required", f"« {spec.label} » est obligatoire.", spec.name)
        for spec in step.fields
        if spec.is_required(merged) and answers.get(spec.name) in (None, "")
    ]
    return problems


def missing_steps(definition: ProductDefinition, answers: Mapping[str, Any]) -> tuple[str, ...]:
    """Steps that still have a required field without an answer, in the order of the form."""
    missing = set(missing_fields(definition, answers))
    return tuple(step.id for step in definition.steps if any(spec.name in missing for spec in step.fields))


def missing_fields(definition: ProductDefinition, answers: Mapping[str, Any]) -> tuple[str, ...]:
    """Required fields (conditional ones included, when their condition holds) that have no answer."""
    return tuple(
        spec.name for spec in definition.fields() if spec.is_required(answers) and answers.get(spec.name) in (None, "")
    )


def _check_value(spec: FieldSpec, value: Any, today: date) -> Problem | None:
    checker = _CHECKERS[spec.type]
    message = checker(spec, value, today)
    return Problem(f"invalid_{spec.type.value}", message, spec.name) if message else None


def _check_string(spec: FieldSpec, value: Any, today: date) -> str | None:
    if not isinstance(value, str):
        return "Un texte est attendu."
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        return f"Format non valide{' : ' + spec.hint if spec.hint else ''}."
    return None


def _check_integer(spec: FieldSpec, value: Any, today: date) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "Un nombre entier est attendu."
    if spec.minimum is not None and value < spec.minimum:
        return f"La valeur doit être au moins {spec.minimum}."
    if spec.maximum is not None and value > spec.maximum:
        return f"La valeur doit être au plus {spec.maximum}."
    return None


def _check_boolean(spec: FieldSpec, value: Any, today: date) -> str | None:
    return None if isinstance(value, bool) else "Répondez par oui (true) ou non (false)."


def _check_date(spec: FieldSpec, value: Any, today: date) -> str | None:
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        return "Une date au format AAAA-MM-JJ est attendue."
    if parsed > today:
        return "Cette date ne peut pas être dans le futur."
    return None


def _check_choice(spec: FieldSpec, value: Any, today: date) -> str | None:
    return None if value in spec.choices else f"Valeur non acceptée. Valeurs possibles : {', '.join(spec.choices)}."


def _check_email(spec: FieldSpec, value: Any, today: date) -> str | None:
    ok = isinstance(value, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", value) is not None
    return None if ok else "Adresse e-mail invalide (exemple : prenom.nom@exemple.fr)."


def _check_country(spec: FieldSpec, value: Any, today: date) -> str | None:
    ok = isinstance(value, str) and re.fullmatch(r"[A-Z]{2}", value) is not None
    return None if ok else "Code pays ISO 3166-1 à deux lettres attendu (exemple : FR)."


def _check_iban(spec: FieldSpec, value: Any, today: date) -> str | None:
    if not isinstance(value, str):
        return "Un IBAN est attendu (exemple : FR76 3000 6000 0112 3456 7890 189)."
    try:
        IBAN(value)
    except SchwiftyException as error:
        return f"IBAN non valide ({_IBAN_REASONS.get(type(error).__name__, 'format incorrect')})."
    return None


_IBAN_REASONS = {
    "InvalidChecksumDigits": "clé de contrôle incorrecte",
    "InvalidLength": "longueur incorrecte pour ce pays",
    "InvalidCountryCode": "code pays inconnu",
    "InvalidStructure": "structure incorrecte pour ce pays",
    "InvalidBankCode": "code banque inconnu",
}


_CHECKERS = {
    FieldType.STRING: _check_string,
    FieldType.INTEGER: _check_integer,
    FieldType.BOOLEAN: _check_boolean,
    FieldType.DATE: _check_date,
    FieldType.CHOICE: _check_choice,
    FieldType.EMAIL: _check_email,
    FieldType.COUNTRY: _check_country,
    FieldType.IBAN: _check_iban,
}


class _Where:
    def __init__(self, path: str) -> None:
        self.path = path

    def at(self, key: str) -> _Where:
        return _Where(f"{self.path}:{key}")


def _parse_step(data: Mapping[str, Any], where: _Where) -> StepSpec:
    fields = tuple(_parse_field(spec, where.at(f"fields[{i}]")) for i, spec in enumerate(data["fields"]))
    return StepSpec(id=str(data["id"]), label=str(data["label"]), fields=fields)


def _parse_field(data: Mapping[str, Any], where: _Where) -> FieldSpec:
    try:
        field_type = FieldType(data["type"])
    except ValueError:
        raise InvalidDefinition(
            f"{where.path}: type « {data['type']} » inconnu ({', '.join(t.value for t in FieldType)})"
        ) from None
    condition = data.get("required_if")
    spec = FieldSpec(
        name=str(data["name"]),
        type=field_type,
        label=str(data["label"]),
        required=bool(data.get("required", True)),
        required_if=Condition(str(condition["field"]), tuple(condition["in"])) if condition else None,
        minimum=data.get("min"),
        maximum=data.get("max"),
        pattern=data.get("pattern"),
        hint=str(data.get("hint", "")),
        choices=tuple(str(c) for c in data.get("choices", ())),
        sensitive=data.get("sensitive"),
    )
    if spec.type is FieldType.CHOICE and not spec.choices:
        raise InvalidDefinition(f"{where.path}: un champ « choice » doit lister ses « choices »")
    if spec.sensitive not in (None, "health", "bank"):
        raise InvalidDefinition(f"{where.path}: « sensitive » vaut health ou bank")
    return spec


def _check_unique_fields(definition: ProductDefinition, where: _Where) -> None:
    names = [spec.name for spec in definition.fields()]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidDefinition(f"{where.path}: champs en double : {', '.join(duplicates)}")
    known = set(names)
    for spec in definition.fields():
        if spec.required_if and spec.required_if.field not in known:
            raise InvalidDefinition(f"{where.path}: {spec.name} dépend d'un champ inconnu {spec.required_if.field}")
