from __future__ import annotations

import pytest

from souscription.identity.domain import Department, Role, UnknownRole


def test_every_role_belongs_to_a_department_and_has_a_french_label() -> None:
    for role in Role:
        assert isinstance(role.department, Department)
        assert role.label
        assert role.label[0].isupper()


@pytest.mark.parametrize(
    ("role", "department"),
    [
        (Role.JURIST, Department.LEGAL),
        (Role.ESTIMATOR, Department.LEGAL),
        (Role.INVESTIGATOR, Department.LEGAL),
        (Role.ACCOUNTANT, Department.BILLING),
        (Role.ACCOUNTING_ASSISTANT, Department.BILLING),
        (Role.CUSTOMER_ADVISOR, Department.CUSTOMER_SERVICE),
        (Role.SALES_REP, Department.SALES),
    ],
)
def test_roles_sit_in_the_departments_of_seed_004(role: Role, department: Department) -> None:
    assert role.department is department


def test_an_unknown_role_is_refused_with_the_accepted_values() -> None:
    with pytest.raises(UnknownRole) as caught:
        Role.parse("stagiaire")
    assert "stagiaire" in str(caught.value)
    assert "jurist" in str(caught.value)
