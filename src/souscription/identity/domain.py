"""Staff roles and the departments they belong to (PRODUCT.md, "People and roles"). Pure: no Django."""

from __future__ import annotations

from enum import StrEnum


class Department(StrEnum):
    CUSTOMER_SERVICE = "customer_service"
    SALES = "sales"
    LEGAL = "legal"
    BILLING = "billing"
    IT = "it"
    MANAGEMENT = "management"
    COMPLIANCE = "compliance"


class Role(StrEnum):
    """A staff member's role. The value is stable (stored, used in the API); the label is French UI text."""

    CUSTOMER_ADVISOR = "customer_advisor"
    SALES_REP = "sales_rep"
    SALES_LEAD = "sales_lead"
    INVESTIGATOR = "investigator"
    ESTIMATOR = "estimator"
    JURIST = "jurist"
    LEGAL_LEAD = "legal_lead"
    ACCOUNTING_ASSISTANT = "accounting_assistant"
    ACCOUNTANT = "accountant"
    BILLING_LEAD = "billing_lead"
    IT_MANAGER = "it_manager"
    DIRECTOR = "director"
    AUDITOR = "auditor"

    @property
    def department(self) -> Department:
        return _DEPARTMENT_OF[self]

    @property
    def label(self) -> str:
        """French label, as the insurer's staff name the role (marked for translation by the UI layer)."""
        return _LABELS[self]

    @classmethod
    def parse(cls, value: str) -> Role:
        """Parse a role from its value; raises `UnknownRole` naming the accepted values."""
        try:
            return cls(value)
        except ValueError:
            raise UnknownRole(value) from None


class UnknownRole(ValueError):
    code = "unknown_role"

    def __init__(self, value: str) -> None:
        accepted = ", ".join(role.value for role in Role)
        super().__init__(f"Rôle inconnu « {value} ». Rôles acceptés : {accepted}.")


_DEPARTMENT_OF: dict[Role, Department] = {
    Role.CUSTOMER_ADVISOR: Department.CUSTOMER_SERVICE,
    Role.SALES_REP: Department.SALES,
    Role.SALES_LEAD: Department.SALES,
    Role.INVESTIGATOR: Department.LEGAL,
    Role.ESTIMATOR: Department.LEGAL,
    Role.JURIST: Department.LEGAL,
    Role.LEGAL_LEAD: Department.LEGAL,
    Role.ACCOUNTING_ASSISTANT: Department.BILLING,
    Role.ACCOUNTANT: Department.BILLING,
    Role.BILLING_LEAD: Department.BILLING,
    Role.IT_MANAGER: Department.IT,
    Role.DIRECTOR: Department.MANAGEMENT,
    Role.AUDITOR: Department.COMPLIANCE,
}

_LABELS: dict[Role, str] = {
    Role.CUSTOMER_ADVISOR: "Conseiller service client",
    Role.SALES_REP: "Commercial",
    Role.SALES_LEAD: "Lead vente",
    Role.INVESTIGATOR: "Enquêteur",
    Role.ESTIMATOR: "Estimateur",
    Role.JURIST: "Juriste",
    Role.LEGAL_LEAD: "Lead légal",
    Role.ACCOUNTING_ASSISTANT: "Assistant comptable",
    Role.ACCOUNTANT: "Comptable",
    Role.BILLING_LEAD: "Lead facturation",
    Role.IT_MANAGER: "Responsable informatique",
    Role.DIRECTOR: "Direction",
    Role.AUDITOR: "Auditeur / DPO",
}
