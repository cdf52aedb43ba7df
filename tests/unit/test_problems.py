"""The one error model at the edge: validation errors become stable codes, French messages and dotted fields."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from souscription.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from souscription.platform.problems import problems_from_validation, status_for


class Vehicle(BaseModel):
    registration: str = Field(min_length=7)
    power_hp: int = Field(ge=1, le=2000)


class Applicant(BaseModel):
    email: str
    vehicle: Vehicle


def problems_for(data: object) -> list[Problem]:
    with pytest.raises(ValidationError) as caught:
        Applicant.model_validate(data)
    errors = [{**error, "loc": ("body", "payload", *error["loc"])} for error in caught.value.errors()]
    return problems_from_validation(errors)


def test_a_missing_field_is_named_with_its_path_and_a_french_message() -> None:
    assert problems_for({"vehicle": {"registration": "AB-123-CD", "power_hp": 90}}) == [
        Problem("required", "Ce champ est obligatoire.", "email")
    ]


def test_nested_fields_are_dotted_and_limits_are_quoted() -> None:
    problems = problems_for({"email": "a@b.fr", "vehicle": {"registration": "AB", "power_hp": 0}})
    assert [(p.code, p.field) for p in problems] == [
        ("too_short", "vehicle.registration"),
        ("too_small", "vehicle.power_hp"),
    ]
    assert "7" in problems[0].message
    assert "1" in problems[1].message


def test_a_wrong_type_says_what_is_expected() -> None:
    problems = problems_for({"email": "a@b.fr", "vehicle": {"registration": "AB-123-CD", "power_hp": "beaucoup"}})
    assert problems == [Problem("invalid_number", "Un nombre entier est attendu.", "vehicle.power_hp")]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput([Problem("x", "y", "z")]), 422),
        (NotFound(), 404),
        (PermissionDenied(), 403),
        (Conflict(), 409),
    ],
)
def test_each_error_family_has_one_http_status(error: Exception, status: int) -> None:
    assert status_for(error) == status  # type: ignore[arg-type]


def test_invalid_input_keeps_every_problem() -> None:
    error = InvalidInput([Problem("a", "A", "f1"), Problem("b", "B", "f2")])
    assert [p.field for p in error.problems] == ["f1", "f2"]
    with pytest.raises(ValueError):
        InvalidInput([])
