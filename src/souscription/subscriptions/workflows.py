"""The dossier's orchestration: DBOS workflows whose steps are each one local transaction in one database.

A workflow's id is derived from the dossier and what triggered it (`quote:SUB-…:r3`), so starting it twice
runs it once; after a crash DBOS resumes it at the first step that had not completed. Every step is written
to be replayed safely (a step that committed but whose completion was not yet recorded runs again): rows are
keyed by the dossier, transitions check the stage and revision they expect. Step results carry no health or
bank data, since DBOS records them in the workflow database."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from dbos import DBOS, SetWorkflowID
from django.db import transaction
from django.utils import timezone

from souscription.audit.context import Actor, record_action
from souscription.audit.domain import WORKFLOW_SOURCE, Action, applicant_actor
from souscription.billing import services as billing
from souscription.billing import vendor_payments
from souscription.connectors import calls, registry
from souscription.identity.domain import Role
from souscription.platform import prepared, workflows
from souscription.products.catalog import ProductVersion
from souscription.products.domain import missing_fields
from souscription.products.pricing import price_breakdown
from souscription.products.rules import Decision
from souscription.products.runtime import engine
from souscription.sales import services as sales
from souscription.subscriptions import (
    connected,
    e_signature,
    follow_up,  # noqa: F401 - registers Customer service's consumer
    outbox,
    paperwork,
    payments,
    services,
)
from souscription.subscriptions.domain import ActivationChecks, Quote, Stage, Verdict
from souscription.subscriptions.models import DecisionRecord
from souscription.underwriting import health_products
from souscription.underwriting import services as underwriting

DATABASE = services.DATABASE
__all__ = ["outbox"]  # imported for its relay loop, started with DBOS
INVESTIGATION_DAYS, ESTIMATION_DAYS, CONTRACT_DAYS = 5, 3, 2
"""Due dates of the underwriting tasks, in calendar days from their opening (seed 003's service levels)."""
_DECIDED = {Stage.VALIDATED, Stage.PRICED, Stage.REFERRED}
"""The stages a revision has once `decide` validated it (until the applicant accepts, or an estimate)."""


# -- quoting: decide, price, refer -----------------------------------------------------------------------------


@DBOS.workflow()
def quote_dossier(subscription_id: str, revision: int) -> str:
    return quote(subscription_id, revision)


@workflows.step()
def quote(subscription_id: str, revision: int) -> str:
    """Decide, issue the offer, price, and open the underwriting of a referred dossier: one step, since each part
    finds what an earlier run of it committed (the step run again after a kill -9 carries on from there), and
    each step costs the workflow database a check and a record. The workflow database keeps only the stage."""
    outcome = decide(subscription_id, revision)
    if outcome["stage"] != Stage.VALIDATED:
        return str(outcome["stage"])
    if not outcome["referred"]:
        if outcome["health"]:
            keep_health_offer(subscription_id, revision, 0, outcome["valid_until"])
        issue_offer(subscription_id, revision, 0, outcome["valid_until"])
    stage = price_and_refer(subscription_id, revision, outcome)
    if stage == Stage.REFERRED:
        open_underwriting(subscription_id, revision)
    return stage


def decide(subscription_id: str, revision: int) -> dict[str, Any]:
    """Completeness, eligibility, price and referral, each recorded with its trace; validated or declined.

    The answers are gathered and the rules run before the dossier's write lock is taken: a revision's answers do not
    change (an edit makes a new revision, which is checked again under the lock), and every other writer of the
    dossier database would wait while they run. A revision already decided (validated, priced or referred: the
    step ran before and the process died) gets the same outcome again, rebuilt from the recorded decisions."""
    now = timezone.now()
    row, dossier = services.load(subscription_id)
    evaluated = _evaluate(row, now) if row.revision == revision and dossier.stage is Stage.DRAFT else None
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        if row.decision_due is not None and row.decision_due <= revision:
            row.decision_due = None  # this workflow runs: the sweeper need not start it
            prepared.update_all(row, fields=("decision_due",))
        if row.revision == revision and dossier.stage in _DECIDED:
            return _decided_before(row, revision, now)  # this step committed, then the process died: same outcome
        if row.revision != revision or dossier.stage is not Stage.DRAFT:
            return {"stage": "superseded"}
        evaluated = evaluated or _evaluate(row, now)
        recorder = _Recorder(row, revision, evaluated.version.definition, evaluated.health_id, now)
        recorder.completeness(evaluated.missing)
        if evaluated.missing:
            return {"stage": Stage.DRAFT.value}
        eligibility, pricing, referral = evaluated.decisions
        for decision in evaluated.decisions:
            recorder.record(decision)
        refusals = tuple(str(r["reason"]) for r in eligibility.result.get("refusals") or [])
        if refusals and recorder.health_product:
            refusals = (health_products.WITHHELD_REFUSAL,)
        dossier.validate(eligibility=Verdict(not refusals, refusals), completeness=Verdict(True), now=now)
        if refusals:
            row.closing_reason = " ; ".join(refusals)
        services.save(row, dossier, now=now)
        record_action(
            database=DATABASE,
            action=Action.DECIDE,
            record_type="dossier",
            record_id=subscription_id,
            details={
                "revision": revision,
                "rule_sets": [d.rule_set for d in evaluated.decisions],
                "stage": dossier.stage.value,
            },
        )
    breakdown = price_breakdown(pricing.result, frequency=str(evaluated.answers["billing.frequency"]))
    return {
        "stage": dossier.stage.value,
        "health": recorder.health_product,
        "referred": bool(referral.result.get("referrals")),
        "total_cents": breakdown.total_cents,
        "currency": breakdown.currency,
        "valid_until": services.offer_validity(evaluated.version, now).isoformat(),
    }


@dataclass(frozen=True)
class _Evaluated:
    """A revision's answers and what the rules made of them (eligibility, pricing, referral), not yet recorded."""

    version: ProductVersion
    answers: dict[str, Any]
    missing: tuple[str, ...]
    health_id: uuid.UUID | None
    decisions: tuple[Decision, ...]


def _evaluate(row: Any, now: datetime) -> _Evaluated:
    version = services.product_version(row)
    answers = services.answers_of(row)
    missing = missing_fields(version.definition, answers)
    health_product = services.has_health_fields(version.definition)
    health = underwriting.latest_health_declaration(row.subscription_id) if health_product else None
    decisions: tuple[Decision, ...] = ()
    if not missing:
        rules, today = engine(), now.date()
        decisions = tuple(
            rules.decide(version, name, answers, today=today) for name in ("eligibility", "pricing", "referral")
        )
    return _Evaluated(version, answers, missing, health[0] if health else None, decisions)


def _decided_before(row: Any, revision: int, now: datetime) -> dict[str, Any]:
    """The outcome `decide` returned for this revision, rebuilt from the decisions it recorded."""
    version = services.product_version(row)
    frequency = str(sales.dossier_answers(row.subscription_id)["billing.frequency"])
    breakdown = price_breakdown(_decision_result(row, revision, "pricing"), frequency=frequency)
    return {
        "stage": Stage.VALIDATED.value,
        "health": services.has_health_fields(version.definition),
        "referred": bool(_decision_result(row, revision, "referral").get("referrals")),
        "total_cents": breakdown.total_cents,
        "currency": breakdown.currency,
        "valid_until": services.offer_validity(version, now).isoformat(),
    }


@workflows.step()
def keep_health_offer(subscription_id: str, revision: int, adjustment_pct: int, valid_until: str) -> None:
    """Legal keeps a health product's detailed offer (breakdown and PDF): its factors reveal health answers."""
    now = timezone.now()
    row, _dossier = services.load(subscription_id)
    breakdown = _breakdown(row, revision, adjustment_pct)
    pdf = _offer_pdf(row, breakdown, valid_until, now)
    health_products.keep_offer_copy(
        offer_id=_offer_id(subscription_id, revision),
        subscription_id=subscription_id,
        breakdown=breakdown,
        pdf=pdf,
        at=now,
    )


@workflows.step()
def issue_offer(subscription_id: str, revision: int, adjustment_pct: int, valid_until: str) -> None:
    """Sales issues the offer: with its breakdown and PDF (a page merged with the general conditions), or, for a
    health product, its totals only (Legal keeps the rest)."""
    now = timezone.now()
    row, _dossier = services.load(subscription_id)
    version = services.product_version(row)
    breakdown = _breakdown(row, revision, adjustment_pct)
    if services.has_health_fields(version.definition):
        breakdown, pdf = _totals(breakdown), b""
    else:
        pdf = _offer_pdf(row, breakdown, valid_until, now)
    until = datetime.fromisoformat(valid_until)
    sales.issue_offer(_terms(subscription_id, revision, breakdown, until), document=pdf, at=now)


def price_and_refer(subscription_id: str, revision: int, outcome: dict[str, Any]) -> str:
    now = timezone.now()
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        if row.revision == revision and dossier.stage in {Stage.PRICED, Stage.REFERRED}:
            return dossier.stage.value  # this step committed, then the process died: the workflow goes on
        if row.revision != revision or dossier.stage is not Stage.VALIDATED:
            return "superseded"
        valid_until = datetime.fromisoformat(outcome["valid_until"])
        dossier.price(Quote(int(outcome["total_cents"]), str(outcome["currency"]), valid_until), now=now)
        if outcome["referred"]:
            reasons = (
                (health_products.WITHHELD_REFERRAL,) if outcome["health"] else tuple(_referral_reasons(row, revision))
            )
            dossier.refer(Verdict(True, reasons), now=now)
        else:
            row.offer_id = _offer_id(subscription_id, revision)  # priced: `save` keeps the offer of a quote
        services.save(row, dossier, now=now)
    return dossier.stage.value


def open_underwriting(subscription_id: str, revision: int) -> None:
    """Legal: an investigation for the enquêteur; straight to estimation when a report already exists (the
    applicant answered an information request). The task carries the referral's reasons, read from the decision."""
    now = timezone.now()
    row, _dossier = services.load(subscription_id)
    investigated = bool(underwriting.investigation_reports(subscription_id))
    kind, role, days = (
        ("estimation", Role.ESTIMATOR, ESTIMATION_DAYS)
        if investigated
        else ("investigation", Role.INVESTIGATOR, INVESTIGATION_DAYS)
    )
    underwriting.open_task(
        task_id=uuid.uuid5(uuid.NAMESPACE_URL, f"task:{row.id}:r{row.revision}:{kind}"),
        subscription_id=subscription_id,
        kind=kind,
        role=role.value,
        reasons=tuple(_referral_reasons(row, revision)),
        due_on=_due(now, days),
        at=now,
    )


@workflows.scheduled(name="start_undecided_quotes", cron="*/15 * * * * *")
@DBOS.workflow()
def start_undecided_quotes(scheduled_time: datetime, context: Any) -> int:
    """The outbox of the workflows a request starts after committing: a step that completed a dossier's answers
    commits `decision_due` with them, an acceptance `conclusion_due`, a withdrawal `withdrawal_due`, an estimate
    Legal's `workflow_due`; if the process died before starting the workflow, this starts it (its id makes a second
    start a no-op)."""
    due = due_workflows(scheduled_time.isoformat())
    for dossier_id, subscription_id, revision in due["undecided"]:
        start(f"quote:{dossier_id}:r{revision}", quote_dossier, subscription_id, revision)
    for dossier_id, subscription_id, revision in due["unconcluded"]:
        start(f"conclude:{dossier_id}:r{revision}", conclude, subscription_id)
    for task_id in due["estimated"]:
        start(f"estimate:{task_id}", apply_estimate, task_id)
    for dossier_id, subscription_id, _revision in due["withdrawn"]:
        start(f"withdrawn:{dossier_id}", after_withdrawal, subscription_id)
    return sum(len(started) for started in due.values())


@workflows.step()
def due_workflows(now: str) -> dict[str, list[Any]]:
    """What the sweeper starts: complete revisions not yet quoted, accepted offers not yet concluded, estimates
    recorded in Legal but not yet applied (the estimateur's request died before starting the workflow), withdrawn
    dossiers whose open tasks and signature request were not yet cancelled."""
    older_than = datetime.fromisoformat(now) - timedelta(seconds=10)
    return {
        "undecided": services.undecided(older_than=older_than),
        "unconcluded": services.unconcluded(older_than=older_than),
        "estimated": [str(task_id) for task_id in underwriting.estimates_due(older_than=older_than)],
        "withdrawn": services.unwithdrawn(older_than=older_than),
    }


# -- underwriting decisions ------------------------------------------------------------------------------------


@DBOS.workflow()
def apply_estimate(task_id: str) -> str:
    """The estimateur's decision, recorded in Legal by the request that made it: the workflow gets only its id."""
    terms = estimate_terms(task_id)
    subscription_id = str(terms["subscription_id"])
    if terms["decision"] != "approve":
        return close_on_estimate(subscription_id, task_id)
    revision, adjustment = int(terms["revision"]), int(terms["premium_adjustment_pct"])
    if terms["health"]:
        keep_health_offer(subscription_id, revision, adjustment, terms["valid_until"])
    issue_offer(subscription_id, revision, adjustment, terms["valid_until"])
    return underwrite(subscription_id, revision, terms["valid_until"])


@workflows.step()
def estimate_terms(task_id: str) -> dict[str, Any]:
    found = health_products.estimate_of_task(uuid.UUID(task_id))
    if found is None:
        raise RuntimeError(f"task {task_id}: no estimate recorded")
    underwriting.estimate_taken(uuid.UUID(task_id))  # this workflow runs: the sweeper need not start it
    subscription_id, _estimator, estimate = found
    row, _dossier = services.load(subscription_id)
    version = services.product_version(row)
    return {
        "subscription_id": subscription_id,
        "decision": estimate.decision,
        "premium_adjustment_pct": estimate.premium_adjustment_pct,
        "revision": row.revision,
        "health": services.has_health_fields(version.definition),
        "valid_until": services.offer_validity(version, timezone.now()).isoformat(),
    }


@workflows.step()
def underwrite(subscription_id: str, revision: int, valid_until: str) -> str:
    """Underwritten at the offer's price; the exclusions stay in Legal's estimate, which the contract reads."""
    now = timezone.now()
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        if dossier.stage is not Stage.REFERRED or row.revision != revision:
            return dossier.stage.value
        offer = sales.offer_terms(_offer_id(subscription_id, revision))
        if offer is None:
            raise RuntimeError(f"{subscription_id}: underwritten without an offer")
        estimate = underwriting.latest_estimate(subscription_id)
        health = services.has_health_fields(services.product_version(row).definition)
        exclusions = () if health or estimate is None else estimate.exclusions
        dossier.underwrite(
            premium_cents=offer.premium_cents,
            exclusions=exclusions,
            valid_until=datetime.fromisoformat(valid_until),
            now=now,
        )
        row.exclusions, row.offer_id = list(exclusions), offer.offer_id  # underwritten: a quote, so `save` keeps it
        services.save(row, dossier, now=now)
    return dossier.stage.value


@workflows.step()
def close_on_estimate(subscription_id: str, task_id: str) -> str:
    now = timezone.now()
    found = health_products.estimate_of_task(uuid.UUID(task_id))
    if found is None:
        raise RuntimeError(f"task {task_id}: no estimate recorded")
    decision, note = found[2].decision, found[2].note
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        if dossier.stage is not Stage.REFERRED:
            return dossier.stage.value
        if services.has_health_fields(services.product_version(row).definition):
            note = (
                health_products.WITHHELD_REQUEST
                if decision == "request_information"
                else health_products.WITHHELD_DECISION
            )
        if decision == "request_information":
            if dossier.information_requested is None:
                dossier.request_information(note, now=now)
        elif decision == "decline":
            dossier.decline(note, now=now)
            row.closing_reason = note
        else:
            dossier.reject(note, now=now)
            row.closing_reason = note
        services.save(row, dossier, now=now)
    return dossier.stage.value


def _breakdown(row: Any, revision: int, adjustment_pct: int) -> dict[str, Any]:
    """The revision's price from its pricing decision, with the estimateur's adjustment as one more factor."""
    result = _decision_result(row, revision, "pricing")
    if adjustment_pct:
        multiplier = str((Decimal(100 + adjustment_pct) / 100).normalize())
        result["factors"] = [
            *result.get("factors", []),
            {"name": "Ajustement de souscription", "multiplier": multiplier},
        ]
    frequency = str(sales.dossier_answers(row.subscription_id)["billing.frequency"])
    return price_breakdown(result, frequency=frequency).as_dict()


def _totals(breakdown: dict[str, Any]) -> dict[str, Any]:
    """What Sales keeps of a health product's breakdown: amounts and tax, no base nor factors."""
    keep = ("currency", "premium_before_tax_cents", "tax", "total_cents", "frequency", "instalment_cents")
    return {key: breakdown[key] for key in keep}


def _offer_pdf(row: Any, breakdown: dict[str, Any], valid_until: str, now: datetime) -> bytes:
    return paperwork.offer_pdf(
        services.product_version(row),
        subscription_id=row.subscription_id,
        answers=services.answers_of(row),
        breakdown=breakdown,
        valid_until=datetime.fromisoformat(valid_until).date(),
        issued_on=now.date(),
    )


def _decision_result(row: Any, revision: int, name: str) -> dict[str, Any]:
    """A decision's result: from Legal for a health product, else from the platform's record."""
    record = prepared.first(
        DecisionRecord, where={"dossier_id": row.id, "revision": revision, "name": name}, order_by=("-id",)
    )
    if record is None:
        raise RuntimeError(f"{row.subscription_id}: no {name} decision for revision {revision}")
    if record.legal_trace_id is None:
        return dict(record.result)
    result = health_products.decision_result(row.subscription_id, revision, name)
    if result is None:
        raise RuntimeError(f"{row.subscription_id}: Legal has no {name} trace for revision {revision}")
    return result


def _referral_reasons(row: Any, revision: int) -> list[str]:
    return [str(r["reason"]) for r in _decision_result(row, revision, "referral").get("referrals") or []]


# -- contract: drafted, sent for signature -----------------------------------------------------------------------


@DBOS.workflow()
def conclude(subscription_id: str) -> str:
    """After acceptance: a straight-through contract is drafted by the platform and sent for signature; a
    referred dossier's contract goes to the juriste's queue."""
    return signature_requested(subscription_id, contract_after_acceptance(subscription_id))


@workflows.step()
def contract_after_acceptance(subscription_id: str) -> str:
    """The offer marked accepted, then the juriste's task (referred) or the contract drafted and sent: one step,
    each part finding what an earlier run committed (the drafted copy is kept once, the stage moves once)."""
    if mark_accepted(subscription_id):
        open_contract_task(subscription_id)
        return Stage.ACCEPTED.value
    draft_contract(subscription_id, "")
    return send_for_signature(subscription_id, None)


@DBOS.workflow()
def jurist_drafts(subscription_id: str, task_id: str, jurist_id: int) -> str:
    draft_contract(subscription_id, task_id, jurist_id)
    return signature_requested(subscription_id, send_for_signature(subscription_id, Role.JURIST.value))


def signature_requested(subscription_id: str, stage: str) -> str:
    """With an e-signature vendor, the contract awaiting signature is sent to it (the embedded signature waits for
    the applicant's code instead)."""
    if stage == Stage.AWAITING_SIGNATURE.value and registry.uses_vendor("signature"):
        e_signature.request_signature(subscription_id, connected.dossier_key(subscription_id))
    return stage


def mark_accepted(subscription_id: str) -> bool:
    row, _dossier = services.load(subscription_id)
    if row.offer_id:
        sales.mark_offer_accepted(row.offer_id)
    if row.conclusion_due is not None:  # this workflow runs: the sweeper need not start it
        services.clear_due(row.pk, "conclusion_due")
    return row.referred


def open_contract_task(subscription_id: str) -> None:
    now = timezone.now()
    row, _dossier = services.load(subscription_id)
    underwriting.open_task(
        task_id=uuid.uuid5(uuid.NAMESPACE_URL, f"task:{row.id}:contract"),
        subscription_id=subscription_id,
        kind="contract",
        role=Role.JURIST.value,
        reasons=(),
        due_on=_due(now, CONTRACT_DAYS),
        at=now,
    )


@workflows.step()
def draft_contract(subscription_id: str, task_id: str, jurist_id: int | None = None) -> None:
    """Legal keeps the drafted contract (particular conditions merged with the general conditions)."""
    now = timezone.now()
    row, _dossier = services.load(subscription_id)
    version = services.product_version(row)
    terms = sales.offer_terms(row.offer_id) if row.offer_id else None
    if terms is None or row.offer_id is None:
        raise RuntimeError(f"{subscription_id}: accepted without an offer")
    breakdown = terms.breakdown
    if services.has_health_fields(version.definition):
        breakdown = health_products.offer_breakdown(row.offer_id) or breakdown
    estimate = underwriting.latest_estimate(subscription_id) if row.referred else None
    pdf = paperwork.contract_pdf(
        version,
        subscription_id=subscription_id,
        answers=services.answers_of(row),
        breakdown=breakdown,
        exclusions=list(estimate.exclusions) if estimate and estimate.decision == "approve" else [],
        drafted_by="le service juridique" if jurist_id else "souscription automatique (modèle validé)",
        effective_on=now.date() + timedelta(days=1),
        issued_on=now.date(),
    )
    drafted_by = f"jurist:{jurist_id}" if jurist_id else "platform"
    underwriting.keep_contract_copy(
        subscription_id=subscription_id, kind="drafted", pdf=pdf, drafted_by=drafted_by, at=now
    )
    if task_id:
        underwriting.close_contract_task(task_id=uuid.UUID(task_id), jurist_id=jurist_id or 0, at=now)


@workflows.step()
def send_for_signature(subscription_id: str, by: str | None) -> str:
    now = timezone.now()
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        if dossier.stage is Stage.ACCEPTED:
            dossier.draft_contract(by=Role(by) if by else None, now=now)
        if dossier.stage is Stage.CONTRACT_DRAFTED:
            dossier.send_for_signature(now=now)
            row.signature_status = "ongoing"
        services.save(row, dossier, now=now)
    return dossier.stage.value


# -- signature, mandate, first invoice ---------------------------------------------------------------------------


@DBOS.workflow()
def sign_and_bill(subscription_id: str, signer_name: str) -> str:
    sign_contract(subscription_id, signer_name)
    invoice_id = set_up_billing(subscription_id)
    mandate_at_vendor(subscription_id)
    return signed_and_billed(subscription_id, invoice_id)


@DBOS.workflow()
def signed_at_vendor(subscription_id: str, request_id: str) -> str:
    """The vendor says the customer signed: Legal keeps the vendor's signed copy, then as `sign_and_bill`."""
    key = f"signed:{connected.dossier_key(subscription_id)}"
    calls.run("signature.keep_signed", key=key, subscription_id=subscription_id, args=(subscription_id, request_id))
    stage = mark_signed(subscription_id)
    if stage != Stage.SIGNED.value:  # withdrawn between the vendor's `done` and now: nothing to bill
        return stage
    invoice_id = set_up_billing(subscription_id)
    mandate_at_vendor(subscription_id)
    return billing_ready(subscription_id, invoice_id)


@workflows.step()
def sign_contract(subscription_id: str, signer_name: str) -> None:
    """Legal keeps the PAdES-signed copy, its seal checked before it is kept."""
    now = timezone.now()
    drafted = underwriting.contract_copy(subscription_id, "drafted")
    if drafted is None:
        raise RuntimeError(f"{subscription_id}: no drafted contract to sign")
    signed = paperwork.sign_contract(drafted, signer_name=signer_name, signed_at=now)
    if not paperwork.seal_added(drafted, signed):
        raise RuntimeError(f"{subscription_id}: the signed contract's seal does not verify")
    underwriting.keep_contract_copy(subscription_id=subscription_id, kind="signed", pdf=signed, drafted_by="", at=now)


@workflows.step()
def mark_signed(subscription_id: str) -> str:
    now = timezone.now()
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        if _signed(row, dossier, now):
            services.save(row, dossier, now=now)
    return dossier.stage.value


@workflows.step()
def set_up_billing(subscription_id: str) -> str:
    """Billing records the SEPA mandate signed with the contract and drafts the first instalment's invoice."""
    now = timezone.now()
    row, _dossier = services.load(subscription_id)
    terms = sales.offer_terms(row.offer_id) if row.offer_id else None
    if terms is None or row.customer_id is None:
        raise RuntimeError(f"{subscription_id}: signed without an offer or a customer")
    with transaction.atomic(using=billing.DATABASE):
        billing.record_mandate(subscription_id=subscription_id, customer_id=row.customer_id, signed_on=now.date())
        invoice_id = billing.draft_first_invoice(
            subscription_id=subscription_id,
            customer_id=row.customer_id,
            amount_cents=terms.instalment_cents,
            issued_on=now.date(),
        )
    return str(invoice_id)


@workflows.step()
def billing_ready(subscription_id: str, invoice_id: str) -> str:
    now = timezone.now()
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        _billed(row, invoice_id)
        services.save(row, dossier, now=now)
    return dossier.stage.value


@workflows.step()
def signed_and_billed(subscription_id: str, invoice_id: str) -> str:
    """The embedded signature's last step: signed, with the mandate and the first invoice Billing holds, in one
    transaction of the dossier's database (its Legal and Billing parts are already kept)."""
    now = timezone.now()
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        _signed(row, dossier, now)
        _billed(row, invoice_id)
        services.save(row, dossier, now=now)
    return dossier.stage.value


def _signed(row: Any, dossier: Any, now: datetime) -> bool:
    """The transition to signed, audited as the applicant's act; False when the dossier no longer awaits it."""
    if dossier.stage is not Stage.AWAITING_SIGNATURE:
        return False
    dossier.sign(now=now)
    row.signature_status = "done"
    record_action(
        database=DATABASE,
        action=Action.SIGN,
        record_type="dossier",
        record_id=row.subscription_id,
        actor=Actor(applicant_actor(row.subscription_id), "", WORKFLOW_SOURCE),
    )
    return True


def _billed(row: Any, invoice_id: str) -> None:
    row.mandate_status = vendor_payments.mandate_status(row.subscription_id)
    row.invoice_status, row.invoice_id = "drafted", uuid.UUID(invoice_id)
    row.erp_sync = "ready"


# -- first invoice validated, posted to the ERP, contract active ---------------------------------------------------


@DBOS.workflow()
def validate_and_activate(subscription_id: str, invoice_id: str, accountant_id: int) -> str:
    validate_and_post(subscription_id, invoice_id, accountant_id)
    connected.sync_erp(subscription_id, invoice_id)
    stage = activate(subscription_id)
    if registry.uses_vendor("payment") and stage == Stage.ACTIVE.value:
        payments.collect_first_instalment(subscription_id, connected.dossier_key(subscription_id), invoice_id)
    return stage


def mandate_at_vendor(subscription_id: str) -> None:
    """With a payment provider, the mandate Billing recorded is set up there too (the embedded debit needs none)."""
    if registry.uses_vendor("payment"):
        payments.set_up_mandate(subscription_id, connected.dossier_key(subscription_id))


@workflows.step()
def validate_and_post(subscription_id: str, invoice_id: str, accountant_id: int) -> str:
    """Billing, in one transaction: the invoice validated by the second person, then posted as a balanced ledger
    entry, the embedded ERP sync (both idempotent per invoice)."""
    row, _dossier = services.load(subscription_id)
    terms = sales.offer_terms(row.offer_id) if row.offer_id else None
    tax_rate = Decimal(str(terms.breakdown["tax"]["rate"])) if terms else Decimal(0)
    now = timezone.now()
    with transaction.atomic(using=billing.DATABASE):
        billing.validate_invoice(invoice_id=uuid.UUID(invoice_id), by=accountant_id, at=now)
        return billing.post_invoice_to_ledger(invoice_id=uuid.UUID(invoice_id), tax_rate=tax_rate, at=now)


@workflows.step()
def activate(subscription_id: str) -> str:
    now = timezone.now()
    with transaction.atomic(using=DATABASE):
        row, dossier = services.load(subscription_id, for_update=True)
        if dossier.stage is Stage.SIGNED:
            row.invoice_status, row.erp_sync, row.payment_status = "validated", "synced", "scheduled"
            checks = ActivationChecks(mandate_valid=True, first_invoice_validated=True, erp_synced=True)
            dossier.activate(checks, now=now)
            services.save(row, dossier, now=now)
    return dossier.stage.value


# -- compensation ------------------------------------------------------------------------------------------------


@DBOS.workflow()
def after_withdrawal(subscription_id: str) -> None:
    cancel_underwriting(subscription_id)
    if registry.uses_vendor("signature"):
        e_signature.cancel_request(subscription_id, connected.dossier_key(subscription_id))


@workflows.step()
def cancel_underwriting(subscription_id: str) -> None:
    row, _dossier = services.load(subscription_id)
    if row.withdrawal_due is not None:  # this workflow runs: the sweeper need not start it
        services.clear_due(row.pk, "withdrawal_due")
    underwriting.cancel_open_tasks(subscription_id, at=timezone.now())


# -- starting them ----------------------------------------------------------------------------------------------


def start(workflow_id: str, function: Any, *args: Any) -> Any:
    """Start (or join, when it already ran or runs) the workflow with this id; returns its handle."""
    with SetWorkflowID(workflow_id):
        return DBOS.start_workflow(function, *args)


def _terms(subscription_id: str, revision: int, breakdown: dict[str, Any], valid_until: datetime) -> sales.OfferTerms:
    return sales.OfferTerms(
        offer_id=_offer_id(subscription_id, revision),
        subscription_id=subscription_id,
        revision=revision,
        premium_cents=int(breakdown["total_cents"]),
        instalment_cents=int(breakdown["instalment_cents"]),
        currency=str(breakdown["currency"]),
        frequency=str(breakdown["frequency"]),
        breakdown=breakdown,
        valid_until=valid_until,
    )


def _offer_id(subscription_id: str, revision: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"offer:{subscription_id}:r{revision}")


def _due(now: datetime, days: int) -> date:
    return now.date() + timedelta(days=days)


class _Recorder:
    """Writes a revision's decisions with their traces; health and bank inputs are cited, never copied."""

    def __init__(self, row: Any, revision: int, definition: Any, health_id: uuid.UUID | None, now: datetime) -> None:
        self.row, self.revision, self.health_id, self.now = row, revision, health_id, now
        self.sensitive = [spec.name.split(".") for spec in definition.fields() if spec.sensitive]
        self.key = definition.key
        self.health_product = any(spec.sensitive == "health" for spec in definition.fields())

    def completeness(self, missing: tuple[str, ...]) -> None:
        self._keep(
            DecisionRecord(
                dossier=self.row,
                revision=self.revision,
                name="completeness",
                rule_set=f"{self.key}/completeness",
                result={"missing": list(missing)},
                fired=[
                    {"node": "champs obligatoires", "rule": name, "description": "sans réponse"} for name in missing
                ],
                inputs={"answered_fields": list(self.row.answered_fields)},
                decided_at=self.now,
            )
        )

    def record(self, decision: Any) -> None:
        """A health product's result and fired rows go to Legal (written first: a replay rewrites nothing)."""
        trace, name = decision.as_trace(), decision.rule_set.rsplit("/", 1)[-1]
        result, fired, legal_trace_id = decision.result, trace["fired"], None
        if self.health_product:
            legal_trace_id = uuid.uuid5(uuid.NAMESPACE_URL, f"decision:{self.row.id}:r{self.revision}:{name}")
            health_products.keep_decision_trace(
                trace_id=legal_trace_id,
                subscription_id=self.row.subscription_id,
                revision=self.revision,
                name=name,
                rule_set=decision.rule_set,
                result=result,
                fired=fired,
                decided_at=self.now,
            )
            result, fired = {}, []
        self._keep(
            DecisionRecord(
                dossier=self.row,
                revision=self.revision,
                name=name,
                rule_set=decision.rule_set,
                result=result,
                fired=fired,
                inputs=_without(trace["inputs"], self.sensitive),
                health_declaration_id=self.health_id,
                legal_trace_id=legal_trace_id,
                decided_at=self.now,
            )
        )

    @staticmethod
    def _keep(record: DecisionRecord) -> None:
        prepared.insert(record, using=DATABASE)  # three or four per revision: compiled once, not per record


def _without(inputs: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    """A copy of the decision inputs without the sensitive answers (cited by reference instead)."""
    cleaned = copy.deepcopy(inputs)
    for *parents, leaf in paths:
        node: Any = cleaned
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(leaf, None)
            if not node and parents:
                _drop_empty(cleaned, parents)
    return cleaned


def _drop_empty(tree: dict[str, Any], path: list[str]) -> None:
    *parents, leaf = path
    node: Any = tree
    for part in parents:
        node = node[part]
    if not node[leaf]:
        del node[leaf]
        if parents:
            _drop_empty(tree, parents)
