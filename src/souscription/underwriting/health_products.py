"""What Legal keeps of a health product's pricing and underwriting, because it reveals the health answers.

A health product's price factors ("Tabac"), referral reasons ("Maladie chronique déclarée."), refusal reasons, the
estimateur's exclusions and notes all say something about the applicant's health. They stay in Legal's database:
the platform's decision records cite Legal's traces by id, Sales keeps the offer's totals only, the dossier row
keeps neutral wording, and DBOS's workflow database (the step inputs and outputs) carries ids and amounts only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from souscription.underwriting.models import DecisionTrace, OfferCopy, RiskEstimate
from souscription.underwriting.services import DATABASE, Estimate

WITHHELD_REFUSAL = "Dossier non éligible : les motifs sont conservés par le service juridique."
WITHHELD_DECISION = "Décision de souscription médicale : la motivation est conservée par le service juridique."
WITHHELD_REQUEST = "Le service de souscription médicale demande des informations complémentaires."
WITHHELD_REFERRAL = "Questionnaire de santé à examiner (motifs conservés par le service juridique)."


def keep_decision_trace(
    *,
    trace_id: uuid.UUID,
    subscription_id: str,
    revision: int,
    name: str,
    rule_set: str,
    result: dict[str, Any],
    fired: list[dict[str, Any]],
    decided_at: datetime,
) -> None:
    """Idempotent on the id: a replayed decision step writes nothing twice."""
    with transaction.atomic(using=DATABASE):
        DecisionTrace.objects.get_or_create(
            id=trace_id,
            defaults={
                "subscription_id": subscription_id,
                "revision": revision,
                "name": name,
                "rule_set": rule_set,
                "result": result,
                "fired": fired,
                "decided_at": decided_at,
            },
        )


def decision_result(subscription_id: str, revision: int, name: str) -> dict[str, Any] | None:
    row = (
        DecisionTrace.objects.filter(subscription_id=subscription_id, revision=revision, name=name)
        .order_by("-decided_at")
        .only("result")
        .first()
    )
    return dict(row.result) if row else None


def decision_traces(subscription_id: str) -> list[dict[str, Any]]:
    """Right of access, and Legal's own reading of a dossier's decisions."""
    return [
        {
            "id": row.id,
            "revision": row.revision,
            "name": row.name,
            "rule_set": row.rule_set,
            "result": row.result,
            "fired": row.fired,
            "decided_at": row.decided_at,
        }
        for row in DecisionTrace.objects.filter(subscription_id=subscription_id)
    ]


def keep_offer_copy(
    *, offer_id: uuid.UUID, subscription_id: str, breakdown: dict[str, Any], pdf: bytes, at: datetime
) -> None:
    with transaction.atomic(using=DATABASE):
        OfferCopy.objects.get_or_create(
            id=offer_id,
            defaults={"subscription_id": subscription_id, "breakdown": breakdown, "pdf": pdf, "created_at": at},
        )


def offer_breakdown(offer_id: uuid.UUID) -> dict[str, Any] | None:
    row = OfferCopy.objects.filter(id=offer_id).only("breakdown").first()
    return dict(row.breakdown) if row else None


def offer_pdf(offer_id: uuid.UUID) -> bytes | None:
    row = OfferCopy.objects.filter(id=offer_id).only("pdf").first()
    return bytes(row.pdf) if row else None


def estimate_of_task(task_id: uuid.UUID) -> tuple[str, int, Estimate] | None:
    """The estimate recorded on a task (its id is the task's): the dossier it decides, its estimateur, itself."""
    row = RiskEstimate.objects.filter(id=task_id).first()
    if row is None:
        return None
    return (
        row.subscription_id,
        row.estimator_id,
        Estimate(row.risk_class, row.premium_adjustment_pct, tuple(row.exclusions), row.decision, row.note),
    )


@dataclass(frozen=True)
class UnderwritingTexts:
    exclusions: tuple[str, ...]
    information_requested: str | None
    closing_reason: str | None


def underwriting_texts(subscription_id: str, *, revision: int) -> UnderwritingTexts:
    """The texts the dossier row holds in neutral wording, as Legal wrote them: the last estimate's exclusions and
    note, or the refusals of the revision's eligibility decision."""
    estimate = RiskEstimate.objects.filter(subscription_id=subscription_id).order_by("-decided_at").first()
    refusals = (decision_result(subscription_id, revision, "eligibility") or {}).get("refusals") or []
    closing = " ; ".join(str(r["reason"]) for r in refusals) or None
    requested = None
    if estimate is not None:
        if estimate.decision == RiskEstimate.Decision.REQUEST_INFORMATION:
            requested = estimate.note
        elif estimate.decision in {RiskEstimate.Decision.DECLINE, RiskEstimate.Decision.REJECT}:
            closing = estimate.note
    exclusions = tuple(estimate.exclusions) if estimate and estimate.decision == "approve" else ()
    return UnderwritingTexts(exclusions, requested, closing)
