"""The dossier's use cases: open, answer step by step, read the one status, accept, withdraw.

Each department's slice is written through that department's services, in its own database; the dossier row
(database `default`) keeps references and the stage. Work that spans departments after an answer (decide,
price, refer, draft, sign, bill) runs as DBOS workflows (`workflows.py`), one local transaction per step."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from souscription.audit.context import record_action
from souscription.audit.domain import Action
from souscription.billing import services as billing
from souscription.connectors import registry
from souscription.consents import services as consents
from souscription.consents.domain import Purpose
from souscription.customers import services as customers
from souscription.kernel.errors import InvalidInput, NotFound, Problem
from souscription.platform import prepared
from souscription.platform.databases import without_flush
from souscription.products.catalog import ProductVersion
from souscription.products.domain import Slice, check_step, missing_steps
from souscription.products.runtime import catalog
from souscription.sales import services as sales
from souscription.subscriptions import domain
from souscription.subscriptions.domain import Dossier, Quote, Stage
from souscription.subscriptions.models import Dossier as DossierRow
from souscription.subscriptions.models import DossierEvent, SubscriptionSequence
from souscription.underwriting import health_products
from souscription.underwriting import services as underwriting

DATABASE = "default"


class DossierNotFound(NotFound):
    code = "dossier_not_found"
    message = "Dossier introuvable : vérifiez le numéro de souscription (SUB-AAAA-NNNNNN)."


@dataclass(frozen=True)
class Revised:
    """Which dossier row and revision an action left: workflow ids derive from them."""

    dossier_id: uuid.UUID
    revision: int
    missing_steps: tuple[str, ...] = ()  # after a step's answers: the steps still to answer, at that revision


@dataclass(frozen=True)
class Opened:
    subscription_id: str
    applicant_token: str


# -- opening and reading ------------------------------------------------------------------------------------


def open_dossier(
    *,
    product: str,
    created_by: int | None,
    now: datetime,
    partner_id: uuid.UUID | None = None,
    customer_account_id: int | None = None,
    request_key: tuple[str, str] | None = None,
) -> Opened:
    """A new draft on the product version in force today, with a fresh subscription id and applicant token; opened
    by a signed-in portal customer (`customer_account_id`), it is theirs.

    With `request_key` (the request's Idempotency-Key: its keyed digest and the client's own value) the dossier is
    bound to the key in its own transaction, and the token derives from the client's key, so opening again with the
    same key gives the same dossier and token, even after a crash that lost the first answer."""
    version = catalog().effective(product, on=now.date())
    token = _token_for(request_key[1]) if request_key else secrets.token_urlsafe(32)
    with transaction.atomic(using=DATABASE):
        if request_key:
            existing = prepared.one(
                DossierRow, by="opened_with", value=request_key[0], only=("subscription_id",), using=DATABASE
            )
            if existing is not None:
                return Opened(existing.subscription_id, token)
        subscription_id = domain.format_subscription_id(year=now.year, sequence=_next_number(now.year))
        dossier = Dossier.open(
            subscription_id=subscription_id, product=product, product_version=version.definition.version, now=now
        )
        row = DossierRow(
            subscription_id=subscription_id,
            product=product,
            product_version=version.definition.version,
            created_by=created_by,
            partner_id=partner_id,
            customer_account_id=customer_account_id,
            applicant_token_sha256=_digest(token),
            opened_with=request_key[0] if request_key else None,
            created_at=now,
        )
        save(row, dossier, now=now)
        record_action(
            database=DATABASE,
            action=Action.CREATE,
            record_type="dossier",
            record_id=subscription_id,
            details={"product": product, "product_version": version.definition.version},
        )
    return Opened(subscription_id, token)


def _next_number(year: int) -> int:
    """The year's next dossier number, taken in the opening transaction: a rollback gives it back (no gaps)."""
    taken = prepared.increment(SubscriptionSequence, key=year, field="last", using=DATABASE)
    if taken is None:  # the year's first dossier
        prepared.get_or_create(SubscriptionSequence, where={"year": year}, defaults={"last": 0}, using=DATABASE)
        taken = prepared.increment(SubscriptionSequence, key=year, field="last", using=DATABASE)
    if taken is None:
        raise RuntimeError(f"no numbering row for {year}")
    return taken


def _token_for(client_key: str) -> str:
    """The applicant token of a dossier opened with this Idempotency-Key: only its client knows the key, which must
    itself be unguessable when the request carries no credential (`platform.idempotency`)."""
    mac = hmac.new(settings.SECRET_KEY.encode(), b"applicant-token\0" + client_key.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def load(subscription_id: str, *, for_update: bool = False) -> tuple[DossierRow, Dossier]:
    row = prepared.one(DossierRow, by="subscription_id", value=subscription_id, for_update=for_update)
    if row is None:
        raise DossierNotFound(field="subscription_id")
    return row, to_domain(row)


def send_applicant_access(subscription_id: str, *, now: datetime) -> None:
    """A new applicant token, sent to the email of the dossier's contact (a dossier a partner opened): the previous
    token, if any, stops working."""
    row, _dossier = load(subscription_id)
    contact = customers.contact_of(row.customer_id) if row.customer_id else None
    if contact is None or not contact.email:
        return
    token = secrets.token_urlsafe(32)
    DossierRow.objects.filter(pk=row.pk).update(applicant_token_sha256=_digest(token))
    customers.send_message(
        recipient=contact.email,
        subject=f"Votre dossier de souscription {subscription_id}",
        body=(
            f"Bonjour,\n\nVotre courtier a ouvert le dossier {subscription_id} pour vous. Votre jeton d'accès, "
            f"personnel, pour suivre le dossier, donner vos consentements et signer : {token}"
        ),
        at=now,
    )


def applicant_holds(subscription_id: str, token: str) -> bool:
    """Whether `token` is the applicant's token of this dossier (constant-time comparison)."""
    row = prepared.one(DossierRow, by="subscription_id", value=subscription_id, only=("applicant_token_sha256",))
    return (
        row is not None
        and bool(row.applicant_token_sha256)
        and hmac.compare_digest(row.applicant_token_sha256, _digest(token))
    )


def partner_holds(subscription_id: str, partner_id: uuid.UUID) -> bool:
    """Whether the partner opened this dossier (a partner reaches only its own)."""
    where = {"subscription_id": subscription_id, "partner_id": partner_id}
    return prepared.first(DossierRow, where=where, only=("id",), using=DATABASE) is not None


def customer_holds(subscription_id: str, account_id: int) -> bool:
    """Whether the portal customer opened this dossier (a customer reaches only their own)."""
    where = {"subscription_id": subscription_id, "customer_account_id": account_id}
    return prepared.first(DossierRow, where=where, only=("id",), using=DATABASE) is not None


def customer_dossiers(account_id: int) -> list[tuple[str, str, str]]:
    """The customer's dossiers, newest first: (subscription id, product, stage)."""
    rows = DossierRow.objects.filter(customer_account_id=account_id).order_by("-created_at")
    return list(rows.values_list("subscription_id", "product", "stage"))


def product_version(row: DossierRow) -> ProductVersion:
    return catalog().version(row.product, row.product_version)


def slices_of(subscription_id: str, answers: Mapping[str, Any]) -> set[Slice]:
    """Which departments' slices these answers belong to, by the dossier's product definition."""
    row, _dossier = load(subscription_id)
    return set(product_version(row).definition.split_by_slice(answers))


def has_health_fields(definition: Any) -> bool:
    """Whether the product collects health answers: its price factors and offer then reveal health data."""
    return any(spec.sensitive == "health" for spec in definition.fields())


def is_health_product(subscription_id: str) -> bool:
    row, _dossier = load(subscription_id)
    return has_health_fields(product_version(row).definition)


def answers_of(row: DossierRow) -> dict[str, Any]:
    """The dossier's answers, gathered from each department's slice (the dossier itself holds none). A department
    is asked only when the dossier has answered fields it keeps: a car dossier never reads Legal's health
    declarations, and no step before the bank details unseals an IBAN."""
    definition = product_version(row).definition
    answered = definition.split_by_slice(dict.fromkeys(row.answered_fields))
    answers: dict[str, Any] = {}
    if row.customer_id and Slice.CONTACT in answered:
        contact = customers.contact_of(row.customer_id)
        if contact:
            answers.update(
                {
                    "customer.first_name": contact.first_name,
                    "customer.last_name": contact.last_name,
                    "customer.email": contact.email,
                    "customer.phone": contact.phone,
                    "customer.country": contact.country,
                    "customer.street": contact.street,
                    "customer.postcode": contact.postcode,
                    "customer.city": contact.city,
                }
            )
    if Slice.COMMERCIAL in answered:
        answers.update(sales.dossier_answers(row.subscription_id))
    if Slice.HEALTH in answered:
        declaration = underwriting.latest_health_declaration(row.subscription_id)
        if declaration:
            answers.update(declaration[1])
    if Slice.BANK in answered:
        answers.update(billing.bank_answers(row.subscription_id))
    wanted = {name for fields in answered.values() for name in fields}
    return {name: value for name, value in answers.items() if name in wanted}


# -- answering ----------------------------------------------------------------------------------------------


def submit_step(
    subscription_id: str, step_id: str, answers: Mapping[str, Any], *, now: datetime
) -> tuple[bool, Revised]:
    """Check and keep one step's answers; returns whether every step now has its answers, and the new revision.

    Nothing is written when a field is wrong (every problem is reported at once, with its field). A dossier
    past draft returns to draft and loses its price; one whose contract is drafted refuses the edit."""
    row, dossier = load(subscription_id)
    dossier.check_is_editable()
    version = product_version(row)
    known = answers_of(row)
    problems = check_step(version.definition, step_id, answers, known=known, today=now.date())
    slices = version.definition.split_by_slice(answers)
    problems = [*problems, *_missing_consents(version, subscription_id, slices)]
    if problems:
        raise InvalidInput(problems)
    customer_id = row.customer_id
    if Slice.CONTACT in slices:
        customer_id = customers.record_contact(_contact(slices[Slice.CONTACT]))
    if Slice.COMMERCIAL in slices:
        sales.record_dossier_answers(
            subscription_id=subscription_id,
            product=row.product,
            customer_id=customer_id,
            answers=slices[Slice.COMMERCIAL],
            at=now,
        )
    if Slice.HEALTH in slices:
        underwriting.declare_health(
            declaration_id=uuid.uuid4(), subscription_id=subscription_id, answers=slices[Slice.HEALTH], at=now
        )
    if Slice.BANK in slices:
        bank = slices[Slice.BANK]
        billing.record_bank_details(
            subscription_id=subscription_id,
            holder=str(bank.get("billing.account_holder", "")),
            iban=str(bank["billing.iban"]),
            at=now,
        )
    with transaction.atomic(using=DATABASE):
        row, dossier = load(subscription_id, for_update=True)
        was_referred = dossier.stage is Stage.REFERRED
        dossier.edit(dict(answers), now=now)
        row.customer_id = customer_id
        row.answered_fields = sorted({*row.answered_fields, *answers})
        row.revision += 1
        missing = missing_steps(version.definition, {**known, **answers})
        complete = not missing
        row.decision_due = row.revision if complete else None
        save(row, dossier, now=now)
        # Which fields were answered, never their values (health and bank values stay in their departments).
        record_action(
            database=DATABASE,
            action=Action.CHANGE,
            record_type="dossier",
            record_id=subscription_id,
            details={"step": step_id, "fields": sorted(answers), "revision": row.revision},
        )
    if was_referred:
        underwriting.cancel_open_tasks(subscription_id, at=now)
    return complete, Revised(row.id, row.revision, missing)


def undecided(*, older_than: datetime, limit: int = 100) -> list[tuple[str, str, int]]:
    """Complete revisions whose quote workflow never started (the process died in between): (dossier row id,
    subscription id, revision)."""
    return _due("decision_due", older_than, limit)


def unconcluded(*, older_than: datetime, limit: int = 100) -> list[tuple[str, str, int]]:
    """Accepted offers whose `conclude` workflow never started, as `undecided`."""
    return _due("conclusion_due", older_than, limit)


def unwithdrawn(*, older_than: datetime, limit: int = 100) -> list[tuple[str, str, int]]:
    """Withdrawn dossiers whose `after_withdrawal` workflow never started, as `undecided`."""
    return _due("withdrawal_due", older_than, limit)


def clear_due(dossier_pk: uuid.UUID, field: str) -> None:
    """The workflow a flag waits for runs. Not flushed to disk: if a power cut loses it, the sweeper starts the
    workflow again, and its id makes that start a no-op."""
    with without_flush(DATABASE), transaction.atomic(using=DATABASE):
        prepared.update_where(DossierRow, where={"id": dossier_pk}, values={field: None}, using=DATABASE)


def _due(field: str, older_than: datetime, limit: int) -> list[tuple[str, str, int]]:
    rows = DossierRow.objects.filter(**{f"{field}__isnull": False, "updated_at__lt": older_than})
    return [
        (str(row.id), row.subscription_id, int(getattr(row, field)))
        for row in rows.order_by("updated_at").only("id", "subscription_id", field)[:limit]
    ]


def _missing_consents(
    version: ProductVersion, subscription_id: str, slices: Mapping[Slice, Mapping[str, Any]]
) -> list[Problem]:
    """Health answers of a health-underwritten product need the applicant's explicit consent on the text in force
    (GDPR art. 9(2)(a)); without it they are refused like a wrong field, and nothing of the step is kept."""
    if Slice.HEALTH not in slices or not version.definition.health_underwritten:
        return []
    problem = consents.missing_consent(subscription_id=subscription_id, purpose=Purpose.HEALTH_DATA)
    return [problem] if problem else []


def _contact(values: Mapping[str, Any]) -> customers.Contact:
    return customers.Contact(
        first_name=str(values.get("customer.first_name", "")),
        last_name=str(values.get("customer.last_name", "")),
        email=str(values.get("customer.email", "")),
        phone=str(values.get("customer.phone", "")),
        country=str(values.get("customer.country", "")),
        street=str(values.get("customer.street") or ""),
        postcode=str(values.get("customer.postcode") or ""),
        city=str(values.get("customer.city") or ""),
    )


# -- the applicant's decisions ------------------------------------------------------------------------------


def accept_offer(subscription_id: str, *, now: datetime) -> Revised:
    with transaction.atomic(using=DATABASE):
        row, dossier = load(subscription_id, for_update=True)
        dossier.accept_offer(now=now)
        row.conclusion_due = row.revision
        save(row, dossier, now=now)
        record_action(
            database=DATABASE,
            action=Action.DECIDE,
            record_type="dossier",
            record_id=subscription_id,
            details={"decision": "offer_accepted", "premium_cents": row.premium_cents},
        )
    return Revised(row.id, row.revision)


def check_can_sign(subscription_id: str) -> Revised:
    row, dossier = load(subscription_id)
    dossier.check_can_move_to(Stage.SIGNED)
    return Revised(row.id, row.revision)


def withdraw(subscription_id: str, *, reason: str, now: datetime) -> Revised:
    with transaction.atomic(using=DATABASE):
        row, dossier = load(subscription_id, for_update=True)
        dossier.withdraw(reason, now=now)
        row.closing_reason = reason
        row.withdrawal_due = row.revision
        save(row, dossier, now=now)
        record_action(
            database=DATABASE,
            action=Action.CHANGE,
            record_type="dossier",
            record_id=subscription_id,
            details={"stage": "withdrawn"},
        )
    return Revised(row.id, row.revision)


class DocumentNotReady(NotFound):
    code = "document_not_ready"
    message = "Ce document n'existe pas encore à cette étape du dossier."


def document(subscription_id: str, kind: str) -> bytes:
    """The offer, the drafted contract or the signed contract of a dossier, as PDF."""
    row, _dossier = load(subscription_id)
    pdf: bytes | None = None
    if kind == "offer" and row.offer_id:
        # A health product's offer is Legal's (its breakdown reveals health answers); Sales keeps its totals only.
        pdf = sales.offer_document(row.offer_id) or health_products.offer_pdf(row.offer_id)
    elif kind in {"contract", "signed-contract"}:
        pdf = underwriting.contract_copy(subscription_id, "drafted" if kind == "contract" else "signed")
    if pdf is None:
        raise DocumentNotReady(field="kind")
    return pdf


# -- persistence of the domain object -----------------------------------------------------------------------


def to_domain(row: DossierRow) -> Dossier:
    quote = None
    if row.premium_cents is not None and row.offer_valid_until is not None:
        quote = Quote(premium_cents=row.premium_cents, currency=row.currency, valid_until=row.offer_valid_until)
    return Dossier(
        subscription_id=row.subscription_id,
        product=row.product,
        product_version=row.product_version,
        stage=Stage(row.stage) if row.stage else Stage.DRAFT,
        quote=quote,
        information_requested=row.information_requested or None,
        referred=row.referred,
    )


def save(row: DossierRow, dossier: Dossier, *, now: datetime) -> None:
    """Write the dossier's state and its new events in the caller's transaction."""
    row.stage = dossier.stage.value
    row.referred = dossier.referred
    row.information_requested = dossier.information_requested or ""
    if dossier.quote is None:
        row.premium_cents, row.offer_valid_until, row.offer_id = None, None, None
    else:
        row.premium_cents, row.offer_valid_until = dossier.quote.premium_cents, dossier.quote.valid_until
        row.currency = dossier.quote.currency
    if registry.vendor_of("crm") == "embedded":  # else the CRM's own answer, recorded by `connected.sync_crm`
        row.crm_status = domain.crm_status_for(dossier.stage)
    row.updated_at = now
    if row._state.adding:
        prepared.insert(row, using=DATABASE)
    else:
        prepared.update_all(row)
    for event in dossier.collect_events():  # mostly one: a compiled insert each, cheaper than compiling a bulk one
        prepared.insert(
            DossierEvent(dossier=row, name=event.name, version=event.version, payload=event.payload(), occurred_at=now),
            using=DATABASE,
        )


def offer_validity(version: ProductVersion, now: datetime) -> datetime:
    return now + timedelta(days=version.definition.offer_validity_days)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
