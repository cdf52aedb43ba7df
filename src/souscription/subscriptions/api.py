"""Dossier and underwriting endpoints of `/api/v1` (thin: check the caller, call a service, return the status).

Callers: the applicant, with the bearer token returned when the dossier is opened (`Authorization: Bearer …`),
or a signed-in staff member whose role allows the action, or, on the endpoints a broker needs (open, answer a
step, read the status and the documents), a partner's API key (`partners.auth.PartnerKey`): the partner then acts
for the applicant, on the dossiers it opened only. Actions that start work across departments wait
briefly for it (`WAIT_SECONDS`) so the answer usually shows the dossier's new stage; otherwise the status says
what is still running (`next_action.owner == "platform"`)."""

from __future__ import annotations

import concurrent.futures
import uuid
from datetime import timedelta
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Status

from souscription.access.policy import Permission, document_category, readable
from souscription.billing import services as billing
from souscription.identity.domain import Role
from souscription.kernel.errors import DomainError, PermissionDenied
from souscription.partners.auth import PartnerCaller, PartnerKey
from souscription.partners.domain import Scope
from souscription.platform.schemas import ErrorsOut
from souscription.subscriptions import e_signature, services, signature_codes, workflows
from souscription.subscriptions.callers import Caller, caller_of, check_may_write_step, front_office, granted, reader
from souscription.subscriptions.schemas import (
    DossierStatusOut,
    EstimateIn,
    OpenedOut,
    OpenIn,
    QueueOut,
    ReportIn,
    SignatureCodeOut,
    SignatureIn,
    StepIn,
    TaskDoneOut,
    WithdrawalIn,
)
from souscription.subscriptions.status import dossier_status
from souscription.underwriting import health_products
from souscription.underwriting import services as underwriting

router = Router(tags=["dossiers"])
WAIT_SECONDS = 10.0
ERRORS: dict[int, type[ErrorsOut]] = {401: ErrorsOut, 403: ErrorsOut, 404: ErrorsOut, 409: ErrorsOut, 422: ErrorsOut}
PARTNER_ERRORS: dict[int, type[ErrorsOut]] = {**ERRORS, 429: ErrorsOut}


def _other_callers(request: HttpRequest) -> bool:
    """No partner key: the endpoint judges the session or the applicant's token itself (`_caller`)."""
    return True


def _partner_or(scope: Scope) -> dict[str, Any]:
    """A partner's key with `scope` as one more accepted credential. Ninja lists the key as the operation's
    security; the empty requirement appended to it says, as OpenAPI does, that the key is optional."""
    return {"auth": [PartnerKey(scope), _other_callers], "openapi_extra": {"security": [{}]}}


def _wait(handle: Any) -> None:
    """Wait a little for a workflow started by this request; it goes on regardless if it takes longer."""
    future = getattr(handle, "future", None)
    if isinstance(future, concurrent.futures.Future):
        concurrent.futures.wait([future], timeout=WAIT_SECONDS)
        if future.done() and future.exception() is not None:
            error = future.exception()
            if isinstance(error, DomainError):
                raise error


def status_json_schema() -> dict[str, Any]:
    """The unified status as JSON Schema (draft 2020-12), version 1: published, and committed in `docs/schemas/`."""
    schema = DossierStatusOut.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://souscription.example/api/v1/schemas/dossier-status.json",
        "version": "1",
        **schema,
    }


@router.get("/schemas/dossier-status.json", response={200: dict[str, Any]}, summary="Contrat du statut (JSON Schema)")
def status_schema(request: HttpRequest) -> dict[str, Any]:
    return status_json_schema()


# -- dossiers -------------------------------------------------------------------------------------------------


@router.post(
    "/dossiers",
    response={201: OpenedOut, **PARTNER_ERRORS},
    summary="Ouvrir un dossier de souscription",
    **_partner_or(Scope.DOSSIERS_WRITE),
)
def open_dossier(request: HttpRequest, payload: OpenIn) -> Status[Any]:
    """Ouvert par le demandeur (sans compte), par le personnel du service client ou des ventes, ou par un
    partenaire avec sa clé d'API (portée `dossiers:write`)."""
    user = request.user
    opener, customer_account_id = Caller(user_id=None, role=None), None
    if isinstance(getattr(request, "auth", None), PartnerCaller):
        opener = caller_of(request)
    elif getattr(user, "is_customer", False):
        caller_of(request)  # the session's CSRF check; the customer opens it as its applicant, and it is theirs
        customer_account_id = user.pk
    elif user.is_authenticated:
        opener = granted(request, Permission.ACT_ON_DOSSIER)
    opened = services.open_dossier(
        product=payload.product,
        created_by=opener.user_id,
        partner_id=opener.partner_id,
        customer_account_id=customer_account_id,
        now=timezone.now(),
        request_key=_request_key(request),
    )
    body = {
        "subscription_id": opened.subscription_id,
        # A partner acts for the applicant but is not them: the consent and the signature stay the applicant's, so
        # the token goes to the applicant's own address (`services.send_applicant_access`), never to the partner.
        "applicant_token": None if opener.partner_id else opened.applicant_token,
        "status": dossier_status(opened.subscription_id, viewer=opener.viewer),
    }
    return Status(201, body)


@router.get(
    "/dossiers/{subscription_id}",
    response={200: DossierStatusOut, **PARTNER_ERRORS},
    summary="Statut unifié",
    **_partner_or(Scope.DOSSIERS_READ),
)
def read_status(request: HttpRequest, subscription_id: str) -> dict[str, Any]:
    caller = reader(request, subscription_id)
    return dossier_status(subscription_id, viewer=caller.viewer)


@router.post(
    "/dossiers/{subscription_id}/steps/{step_id}",
    response={200: DossierStatusOut, **PARTNER_ERRORS},
    summary="Répondre à une étape du formulaire",
    **_partner_or(Scope.DOSSIERS_WRITE),
)
def submit_step(request: HttpRequest, subscription_id: str, step_id: str, payload: StepIn) -> dict[str, Any]:
    """Tous les champs faux sont signalés d'un coup (code stable, message, champ) et rien n'est enregistré ;
    modifier un dossier déjà tarifé le remet en brouillon. Quand toutes les étapes sont remplies, le dossier est
    vérifié, tarifé et, si les règles l'exigent, transmis au service juridique."""
    caller = front_office(request, subscription_id)
    check_may_write_step(caller, subscription_id, payload.answers)
    complete, row = services.submit_step(subscription_id, step_id, payload.answers, now=timezone.now())
    if caller.partner_id and "customer.email" in payload.answers:
        services.send_applicant_access(subscription_id, now=timezone.now())
    if complete:
        handle = workflows.start(
            f"quote:{row.dossier_id}:r{row.revision}", workflows.quote_dossier, subscription_id, row.revision
        )
        _wait(handle)
    return dossier_status(subscription_id, viewer=caller.viewer, answered=row)


@router.post(
    "/dossiers/{subscription_id}/acceptance",
    response={200: DossierStatusOut, **ERRORS},
    summary="Accepter l'offre",
)
def accept(request: HttpRequest, subscription_id: str) -> dict[str, Any]:
    caller = front_office(request, subscription_id)
    row = services.accept_offer(subscription_id, now=timezone.now())
    _wait(workflows.start(f"conclude:{row.dossier_id}:r{row.revision}", workflows.conclude, subscription_id))
    return dossier_status(subscription_id, viewer=caller.viewer)


@router.post(
    "/dossiers/{subscription_id}/signature-code",
    response={200: SignatureCodeOut, **ERRORS, 429: ErrorsOut},
    summary="Recevoir le code de signature (le demandeur)",
)
def signature_code(request: HttpRequest, subscription_id: str) -> dict[str, Any]:
    """Un code à 6 chiffres est envoyé à l'adresse e-mail du dossier ; il confirme la signature (10 minutes, 5 essais,
    un seul usage)."""
    caller = caller_of(request, subscription_id)
    if not caller.is_applicant or caller.partner_id is not None:
        raise PermissionDenied("Seul le demandeur reçoit le code de signature.", field="Authorization")
    e_signature.check_signed_here()
    sent = signature_codes.send_code(subscription_id, now=timezone.now())
    return {"sent_to": sent.sent_to, "expires_at": sent.expires_at}


@router.post(
    "/dossiers/{subscription_id}/signature",
    response={200: DossierStatusOut, **ERRORS},
    summary="Signer le contrat (le demandeur)",
)
def sign(request: HttpRequest, subscription_id: str, payload: SignatureIn) -> dict[str, Any]:
    """Signature électronique intégrée (PAdES) ; puis mandat SEPA et première facture."""
    caller = caller_of(request, subscription_id)
    if not caller.is_applicant or caller.partner_id is not None:
        raise PermissionDenied("Seul le demandeur signe son contrat.", field="Authorization")
    e_signature.check_signed_here()
    row = services.check_can_sign(subscription_id)
    signature_codes.confirm(subscription_id, payload.code, now=timezone.now())
    handle = workflows.start(f"sign:{row.dossier_id}", workflows.sign_and_bill, subscription_id, payload.signer_name)
    _wait(handle)
    return dossier_status(subscription_id, viewer=caller.viewer)


@router.post(
    "/dossiers/{subscription_id}/withdrawal",
    response={200: DossierStatusOut, **ERRORS},
    summary="Retirer le dossier",
)
def withdraw(request: HttpRequest, subscription_id: str, payload: WithdrawalIn) -> dict[str, Any]:
    caller = front_office(request, subscription_id)
    row = services.withdraw(subscription_id, reason=payload.reason, now=timezone.now())
    _wait(workflows.start(f"withdrawn:{row.dossier_id}", workflows.after_withdrawal, subscription_id))
    return dossier_status(subscription_id, viewer=caller.viewer)


@router.get(
    "/dossiers/{subscription_id}/documents/{kind}",
    response={200: None, **PARTNER_ERRORS},
    summary="Télécharger l'offre ou le contrat (PDF)",
    **_partner_or(Scope.DOSSIERS_READ),
)
def document(request: HttpRequest, subscription_id: str, kind: Literal["offer", "contract", "signed-contract"]) -> Any:
    caller = reader(request, subscription_id)
    category = document_category(kind, health_product=services.is_health_product(subscription_id))
    if not readable(caller.viewer, category):
        raise PermissionDenied("Ce document appartient à un autre département.", field="kind")
    pdf = services.document(subscription_id, kind)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{subscription_id}-{kind}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


# -- underwriting -----------------------------------------------------------------------------------------------

underwriting_router = Router(tags=["souscription médicale"])


@underwriting_router.get("/underwriting/queue", response={200: QueueOut, **ERRORS}, summary="Ma file de travail")
def my_queue(request: HttpRequest) -> dict[str, Any]:
    caller = granted(request, Permission.VIEW_UNDERWRITING_QUEUE)
    role = caller.role.value if caller.role else ""
    tasks = underwriting.queue(role)
    return {"role": role, "tasks": [_task_out(task) for task in tasks]}


@underwriting_router.post(
    "/underwriting/tasks/{task_id}/report", response={200: TaskDoneOut, **ERRORS}, summary="Rapport d'enquête"
)
def file_report(request: HttpRequest, task_id: uuid.UUID, payload: ReportIn) -> dict[str, Any]:
    caller = granted(request, Permission.FILE_INVESTIGATION_REPORT)
    task = underwriting.check_task_open_for(task_id, role=Role.INVESTIGATOR.value, kind="investigation")
    row, _dossier = services.load(task.subscription_id)
    now = timezone.now()
    underwriting.complete_investigation(
        task_id=task_id,
        customer_id=row.customer_id or uuid.UUID(int=0),
        author_id=caller.user_id or 0,
        findings=payload.findings,
        next_task_id=uuid.uuid5(uuid.NAMESPACE_URL, f"task:{task_id}:estimation"),
        estimation_due_on=now.date() + timedelta(days=workflows.ESTIMATION_DAYS),
        at=now,
    )
    return {"task_id": task_id, "status": dossier_status(task.subscription_id, viewer=caller.viewer)}


@underwriting_router.post(
    "/underwriting/tasks/{task_id}/estimate", response={200: TaskDoneOut, **ERRORS}, summary="Estimation du risque"
)
def estimate(request: HttpRequest, task_id: uuid.UUID, payload: EstimateIn) -> dict[str, Any]:
    """Décision de l'estimateur : accepter (avec ajustement de prime et exclusions), demander des informations au
    demandeur, refuser (réexaminable) ou rejeter définitivement."""
    caller = granted(request, Permission.ESTIMATE_RISK)
    try:
        task = underwriting.check_task_open_for(task_id, role=Role.ESTIMATOR.value, kind="estimation")
    except underwriting.TaskNotOpen:
        # This estimateur's request recorded the estimate but ended before starting its workflow: start it now.
        recorded = health_products.estimate_of_task(task_id)
        if recorded is None or recorded[1] != (caller.user_id or 0):
            raise
        _wait(workflows.start(f"estimate:{task_id}", workflows.apply_estimate, str(task_id)))
        return {"task_id": task_id, "status": dossier_status(recorded[0], viewer=caller.viewer)}
    # Legal records the estimate here, in its own database; the workflow gets the task's id only, so exclusions
    # and notes never reach the workflow database.
    underwriting.record_estimate(
        task_id=task_id,
        estimator_id=caller.user_id or 0,
        estimate=underwriting.Estimate(
            risk_class=payload.risk_class,
            premium_adjustment_pct=payload.premium_adjustment_pct,
            exclusions=tuple(payload.exclusions),
            decision=payload.decision,
            note=payload.note,
        ),
        at=timezone.now(),
    )
    _wait(workflows.start(f"estimate:{task_id}", workflows.apply_estimate, str(task_id)))
    return {"task_id": task_id, "status": dossier_status(task.subscription_id, viewer=caller.viewer)}


@underwriting_router.post(
    "/underwriting/tasks/{task_id}/contract", response={200: TaskDoneOut, **ERRORS}, summary="Rédiger le contrat"
)
def draft_contract(request: HttpRequest, task_id: uuid.UUID) -> dict[str, Any]:
    """Réservé au juriste : le contrat d'un dossier passé en souscription médicale n'est rédigé que par lui."""
    caller = granted(request, Permission.DRAFT_CONTRACT)
    task = underwriting.check_task_open_for(task_id, role=Role.JURIST.value, kind="contract")
    _wait(
        workflows.start(
            f"contract:{task_id}",
            workflows.jurist_drafts,
            task.subscription_id,
            str(task_id),
            caller.user_id or 0,
        )
    )
    return {"task_id": task_id, "status": dossier_status(task.subscription_id, viewer=caller.viewer)}


# -- billing --------------------------------------------------------------------------------------------------

billing_router = Router(tags=["facturation"])


@billing_router.post(
    "/invoices/{invoice_id}/validation",
    response={200: DossierStatusOut, **ERRORS},
    summary="Valider une facture (seconde personne)",
)
def validate_invoice(request: HttpRequest, invoice_id: uuid.UUID) -> dict[str, Any]:
    """Un comptable ou le lead facturation qui n'a pas rédigé la facture la valide ; elle part alors à l'ERP et
    le contrat devient actif."""
    caller = granted(request, Permission.VALIDATE_INVOICE)
    invoice = billing.check_can_validate(invoice_id, by=caller.user_id or 0)
    row, _dossier = services.load(invoice.subscription_id)
    _wait(
        workflows.start(
            f"activate:{row.id}",
            workflows.validate_and_activate,
            invoice.subscription_id,
            str(invoice_id),
            caller.user_id or 0,
        )
    )
    return dossier_status(invoice.subscription_id, viewer=caller.viewer)


def _request_key(request: HttpRequest) -> tuple[str, str] | None:
    digest, secret = getattr(request, "idempotency_digest", None), getattr(request, "idempotency_secret", None)
    return (str(digest), str(secret)) if digest and secret else None


def _task_out(task: underwriting.Task) -> dict[str, Any]:
    return {"id": task.id, "kind": task.kind, "role": task.role, "status": task.status, "due_on": task.due_on}
