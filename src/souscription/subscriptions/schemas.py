"""The request and answer shapes of the dossier endpoints, the unified status's among them (version 1 of the data
contract, published as JSON Schema)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from ninja import Field, Schema


class CustomerOut(Schema):
    email: str | None
    country: str | None


class NextActionOut(Schema):
    code: str
    label: str
    owner: str = Field(description="Rôle du personnel, `applicant` (le demandeur) ou `platform` (automatique)")


class OfferOut(Schema):
    premium_cents: int
    instalment_cents: int
    frequency: str
    currency: str
    valid_until: datetime
    breakdown: dict[str, Any] | None = Field(
        description="Détail du prix ; null quand il est réservé à un autre département"
    )


class TaskOut(Schema):
    id: uuid.UUID
    kind: str
    role: str
    status: str
    due_on: date


class DossierStatusOut(Schema):
    """The unified status of a dossier, version 1 of the data contract (seed 000)."""

    subscription_id: str = Field(pattern=r"^SUB-\d{4}-\d{6}$", examples=["SUB-2026-001245"])
    customer: CustomerOut
    product: str
    product_version: str
    stage: Literal[
        "draft",
        "validated",
        "priced",
        "referred",
        "underwritten",
        "accepted",
        "contract_drafted",
        "awaiting_signature",
        "signed",
        "active",
        "declined",
        "rejected",
        "withdrawn",
        "expired",
    ]
    crm_status: str
    signature_status: str
    mandate_status: str
    invoice_status: str
    payment_status: str
    erp_sync: str
    next_action: NextActionOut | None
    missing_steps: list[str]
    offer: OfferOut | None
    exclusions: list[str]
    information_requested: str | None
    closing_reason: str | None
    tasks: list[TaskOut]
    invoice_id: uuid.UUID | None
    revision: int
    updated_at: datetime
    withheld: list[str] = Field(
        default_factory=list,
        description="Champs réservés à un autre département pour ce lecteur (vides ou null dans cette réponse)",
    )


class OpenIn(Schema):
    product: str = Field(min_length=1, max_length=64, examples=["garantie_automobile"])


class OpenedOut(Schema):
    subscription_id: str
    applicant_token: str | None = Field(
        description=(
            "Jeton du demandeur, montré une seule fois : à garder. Null quand un partenaire ouvre le dossier : le "
            "jeton est alors envoyé au demandeur, à l'adresse e-mail de ses coordonnées, quand elles sont saisies."
        )
    )
    status: DossierStatusOut


class StepIn(Schema):
    answers: dict[str, Any] = Field(examples=[{"vehicle.make": "Renault", "vehicle.mileage_km": 130000}])


class SignatureIn(Schema):
    signer_name: str = Field(min_length=2, max_length=140, examples=["Léa Martin"])
    code: str = Field(pattern=r"^\d{6}$", description="Le code reçu par e-mail (POST …/signature-code)")


class SignatureCodeOut(Schema):
    sent_to: str = Field(examples=["l***@exemple.fr"])
    expires_at: datetime


class WithdrawalIn(Schema):
    reason: str = Field(min_length=2, max_length=500, examples=["Le client a trouvé une autre offre"])


class ReportIn(Schema):
    findings: str = Field(min_length=10, max_length=20000)


class EstimateIn(Schema):
    risk_class: Literal["standard", "aggravated", "high"]
    premium_adjustment_pct: int = Field(ge=-50, le=300)
    exclusions: list[str] = Field(default_factory=list, max_length=20)
    decision: Literal["approve", "request_information", "decline", "reject"]
    note: str = Field(min_length=2, max_length=5000)


class QueueOut(Schema):
    role: str
    tasks: list[TaskOut]


class TaskDoneOut(Schema):
    task_id: uuid.UUID
    status: DossierStatusOut
