"""The dossier's lifecycle as a pure state machine (PRODUCT.md, "The dossier").

draft → validated → priced → [referred → underwritten] → accepted → contract_drafted → awaiting_signature
→ signed → active; exits: declined (reopenable), rejected (final), withdrawn, expired.

Only a draft is editable. Editing a validated, priced, referred, underwritten or accepted dossier returns it to
draft and discards its price; once a contract is drafted the dossier is locked (withdraw it instead, so the
contract and signature request are compensated). Every transition checks named guards, raises a
`TransitionRefused` with a stable code and a French message when one fails, and records one event.
No Django, no I/O, no clock: the caller passes `now` and the rules' verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from souscription.identity.domain import Role
from souscription.kernel.errors import Conflict, PermissionDenied
from souscription.subscriptions import events as ev


class Stage(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"
    PRICED = "priced"
    REFERRED = "referred"
    UNDERWRITTEN = "underwritten"
    ACCEPTED = "accepted"
    CONTRACT_DRAFTED = "contract_drafted"
    AWAITING_SIGNATURE = "awaiting_signature"
    SIGNED = "signed"
    ACTIVE = "active"
    DECLINED = "declined"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


def final_stages() -> frozenset[Stage]:
    return frozenset({Stage.ACTIVE, Stage.REJECTED, Stage.WITHDRAWN, Stage.EXPIRED})


def resettable_stages() -> frozenset[Stage]:
    """Stages an edit sends back to draft (their price, if any, is discarded)."""
    return frozenset({Stage.VALIDATED, Stage.PRICED, Stage.REFERRED, Stage.UNDERWRITTEN, Stage.ACCEPTED})


def withdrawable_stages() -> frozenset[Stage]:
    return frozenset(Stage) - final_stages() - {Stage.SIGNED}


def expirable_stages() -> frozenset[Stage]:
    return frozenset(
        {Stage.DRAFT, Stage.VALIDATED, Stage.PRICED, Stage.REFERRED, Stage.UNDERWRITTEN, Stage.AWAITING_SIGNATURE}
    )


TRANSITIONS: Mapping[Stage, frozenset[Stage]] = {
    Stage.DRAFT: frozenset({Stage.VALIDATED, Stage.DECLINED}),
    Stage.VALIDATED: frozenset({Stage.PRICED}),
    Stage.PRICED: frozenset({Stage.REFERRED, Stage.ACCEPTED}),
    Stage.REFERRED: frozenset({Stage.UNDERWRITTEN, Stage.DECLINED, Stage.REJECTED}),
    Stage.UNDERWRITTEN: frozenset({Stage.ACCEPTED}),
    Stage.ACCEPTED: frozenset({Stage.CONTRACT_DRAFTED}),
    Stage.CONTRACT_DRAFTED: frozenset({Stage.AWAITING_SIGNATURE}),
    Stage.AWAITING_SIGNATURE: frozenset({Stage.SIGNED, Stage.DECLINED}),
    Stage.SIGNED: frozenset({Stage.ACTIVE}),
    Stage.DECLINED: frozenset({Stage.DRAFT}),
}
"""Forward transitions; edits (back to draft), withdrawal and expiry are the cross-cutting ones above."""

_SUBSCRIPTION_ID = re.compile(r"^SUB-(\d{4})-(\d{6})$")


class TransitionRefused(Conflict):
    code = "transition_refused"
    message = "Cette action n'est pas possible à cette étape du dossier."


class DossierLocked(Conflict):
    code = "dossier_locked"
    message = "Le contrat est rédigé : le dossier ne peut plus être modifié. Retirez-le pour en ouvrir un nouveau."


class OfferExpired(Conflict):
    code = "offer_expired"
    message = "L'offre a expiré : modifiez le dossier pour obtenir un nouveau tarif."


class OnlyJuristDraftsContracts(PermissionDenied):
    code = "only_jurist_drafts_contracts"
    message = "Seul un juriste peut rédiger le contrat."


class ContractNeedsJurist(PermissionDenied):
    code = "contract_needs_jurist"
    message = "Ce dossier est passé en souscription médicale : son contrat est rédigé par un juriste."


class ActivationNotReady(Conflict):
    code = "activation_not_ready"
    message = (
        "Le contrat ne peut pas être activé : mandat valide, première facture validée et synchronisation ERP requis."
    )


def format_subscription_id(*, year: int, sequence: int) -> str:
    if not (1 <= sequence <= 999_999 and 2000 <= year <= 9999):
        raise ValueError(f"no subscription id for year {year}, sequence {sequence}")
    return f"SUB-{year:04d}-{sequence:06d}"


def is_subscription_id(value: str) -> bool:
    return _SUBSCRIPTION_ID.match(value) is not None


@dataclass(frozen=True)
class Verdict:
    """What a rule set decided (eligibility, completeness, referral): passed or not, and the reasons why."""

    passed: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Quote:
    premium_cents: int
    currency: str
    valid_until: datetime


@dataclass(frozen=True)
class ActivationChecks:
    mandate_valid: bool
    first_invoice_validated: bool
    erp_synced: bool

    def missing(self) -> tuple[str, ...]:
        names = {
            "mandate_valid": self.mandate_valid,
            "first_invoice_validated": self.first_invoice_validated,
            "erp_synced": self.erp_synced,
        }
        return tuple(name for name, ok in names.items() if not ok)


@dataclass
class Dossier:
    subscription_id: str
    product: str
    product_version: str
    stage: Stage = Stage.DRAFT
    answers: dict[str, Any] = field(default_factory=dict)
    quote: Quote | None = None
    information_requested: str | None = None
    referred: bool = False
    pending_events: list[ev.DossierEvent] = field(default_factory=list)

    @classmethod
    def open(cls, *, subscription_id: str, product: str, product_version: str, now: datetime) -> Dossier:
        if not is_subscription_id(subscription_id):
            raise ValueError(f"malformed subscription id {subscription_id!r}")
        dossier = cls(subscription_id=subscription_id, product=product, product_version=product_version)
        dossier._record(ev.DossierCreated, now, product=product, product_version=product_version)
        return dossier

    # -- guards -------------------------------------------------------------------------------------------------

    def check_can_move_to(self, target: Stage) -> None:
        if target not in TRANSITIONS.get(self.stage, frozenset()):
            raise TransitionRefused(
                f"Passage de l'étape « {self.stage.value} » à « {target.value} » impossible.", field="stage"
            )

    def check_is_editable(self) -> None:
        if self.stage in final_stages() or self.stage in {Stage.DECLINED}:
            raise TransitionRefused(f"Un dossier à l'étape « {self.stage.value} » ne se modifie plus.", field="stage")
        if self.stage not in resettable_stages() | {Stage.DRAFT}:
            raise DossierLocked(field="stage")

    def check_offer_is_valid(self, now: datetime) -> None:
        if self.quote is None or now > self.quote.valid_until:
            raise OfferExpired(field="quote")

    # -- transitions --------------------------------------------------------------------------------------------

    def edit(self, changes: Mapping[str, Any], *, now: datetime) -> None:
        self.check_is_editable()
        if self.stage is not Stage.DRAFT:
            previous, discarded = self.stage, self.quote is not None
            self.stage, self.quote, self.information_requested = Stage.DRAFT, None, None
            self.referred = False
            self._record(ev.DossierReturnedToDraft, now, previous_stage=previous.value, price_discarded=discarded)
        self.answers.update(changes)
        self._record(ev.DossierEdited, now, fields=tuple(sorted(changes)))

    def validate(self, *, eligibility: Verdict, completeness: Verdict, now: datetime) -> None:
        """Complete and eligible: validated. Complete but not eligible: declined. Incomplete: stays a draft."""
        self.check_can_move_to(Stage.VALIDATED)
        if not completeness.passed:
            raise TransitionRefused("Le dossier est incomplet : " + " ; ".join(completeness.reasons), field="answers")
        if not eligibility.passed:
            self._close(Stage.DECLINED, " ; ".join(eligibility.reasons), now)
            return
        self._move(Stage.VALIDATED, ev.DossierValidated, now)

    def price(self, quote: Quote, *, now: datetime) -> None:
        self.check_can_move_to(Stage.PRICED)
        self.quote = quote
        self._move(Stage.PRICED, ev.DossierPriced, now, premium_cents=quote.premium_cents, currency=quote.currency)

    def refer(self, referral: Verdict, *, now: datetime) -> None:
        """Underwriting referral rules fired (`passed` means "needs a person"): send to Legal."""
        if not referral.passed:
            raise ValueError("refer() needs a referral verdict that fired")
        self.check_can_move_to(Stage.REFERRED)
        self.referred = True
        self._move(Stage.REFERRED, ev.DossierReferred, now, reasons=referral.reasons)

    def request_information(self, question: str, *, now: datetime) -> None:
        """The estimator needs more: the applicant's answer is an edit, which returns the dossier to draft."""
        if self.stage is not Stage.REFERRED:
            raise TransitionRefused("Seul un dossier en souscription peut faire l'objet d'une demande.", field="stage")
        self.information_requested = question
        self._record(ev.InformationRequested, now, question=question)

    def underwrite(
        self, *, premium_cents: int, exclusions: tuple[str, ...], valid_until: datetime, now: datetime
    ) -> None:
        self.check_can_move_to(Stage.UNDERWRITTEN)
        currency = self.quote.currency if self.quote else "EUR"
        self.quote = Quote(premium_cents=premium_cents, currency=currency, valid_until=valid_until)
        self._move(Stage.UNDERWRITTEN, ev.DossierUnderwritten, now, premium_cents=premium_cents, exclusions=exclusions)

    def decline(self, reason: str, *, now: datetime) -> None:
        self.check_can_move_to(Stage.DECLINED)
        self._close(Stage.DECLINED, reason, now)

    def reject(self, reason: str, *, now: datetime) -> None:
        self.check_can_move_to(Stage.REJECTED)
        self._close(Stage.REJECTED, reason, now)

    def accept_offer(self, *, now: datetime) -> None:
        self.check_can_move_to(Stage.ACCEPTED)
        self.check_offer_is_valid(now)
        self._move(Stage.ACCEPTED, ev.OfferAccepted, now)

    def draft_contract(self, *, by: Role | None, now: datetime) -> None:
        """A referred dossier's contract is drafted by a juriste and nobody else (seed 003). A straight-through
        one is produced by the platform (`by=None`) from the contract template Legal approved for the product
        version; a juriste may still draft it, no other role may."""
        if by is not None and by is not Role.JURIST:
            raise OnlyJuristDraftsContracts(field="role")
        if by is None and self.referred:
            raise ContractNeedsJurist(field="role")
        self.check_can_move_to(Stage.CONTRACT_DRAFTED)
        drafted_by = by.value if by else "platform"
        self._move(Stage.CONTRACT_DRAFTED, ev.ContractDrafted, now, drafted_by_role=drafted_by)

    def send_for_signature(self, *, now: datetime) -> None:
        self.check_can_move_to(Stage.AWAITING_SIGNATURE)
        self._move(Stage.AWAITING_SIGNATURE, ev.SentForSignature, now)

    def sign(self, *, now: datetime) -> None:
        self.check_can_move_to(Stage.SIGNED)
        self._move(Stage.SIGNED, ev.DossierSigned, now)

    def activate(self, checks: ActivationChecks, *, now: datetime) -> None:
        self.check_can_move_to(Stage.ACTIVE)
        if checks.missing():
            raise ActivationNotReady(field=checks.missing()[0])
        self._move(Stage.ACTIVE, ev.DossierActivated, now)

    def withdraw(self, reason: str, *, now: datetime) -> None:
        if self.stage not in withdrawable_stages():
            raise TransitionRefused(
                f"Un dossier à l'étape « {self.stage.value} » ne peut pas être retiré.", field="stage"
            )
        self._close(Stage.WITHDRAWN, reason, now)

    def expire(self, *, now: datetime) -> None:
        if self.stage not in expirable_stages():
            raise TransitionRefused(f"Un dossier à l'étape « {self.stage.value} » n'expire pas.", field="stage")
        self._close(Stage.EXPIRED, "délai dépassé", now)

    def reopen(self, *, now: datetime) -> None:
        self.check_can_move_to(Stage.DRAFT)
        self.quote = None
        self._move(Stage.DRAFT, ev.DossierReopened, now)

    # -- bookkeeping --------------------------------------------------------------------------------------------

    def collect_events(self) -> list[ev.DossierEvent]:
        collected, self.pending_events = self.pending_events, []
        return collected

    def _close(self, stage: Stage, reason: str, now: datetime) -> None:
        self._move(stage, ev.DossierClosed, now, reason=reason)

    def _move(self, stage: Stage, event: type[ev.DossierEvent], now: datetime, **data: Any) -> None:
        self.stage = stage
        self._record(event, now, **data)

    def _record(self, event: type[ev.DossierEvent], now: datetime, **data: Any) -> None:
        self.pending_events.append(
            event(occurred_at=now, subscription_id=self.subscription_id, stage=self.stage.value, **data)
        )


# -- the unified status: who must act next ------------------------------------------------------------------

APPLICANT = "applicant"
PLATFORM = "platform"


@dataclass(frozen=True)
class NextAction:
    code: str
    label: str
    owner: str  # a staff role's value, APPLICANT (the prospect or customer) or PLATFORM (automatic work)


def next_action(
    *,
    stage: Stage,
    referred: bool,
    missing_steps: tuple[str, ...],
    open_tasks: tuple[str, ...],
    information_requested: bool,
    invoice_status: str,
) -> NextAction | None:
    """The one thing that moves the dossier on, and who owns it; None when nothing will (a closed dossier)."""
    if stage is Stage.DRAFT:
        if missing_steps:
            return NextAction("complete_answers", f"Compléter l'étape « {missing_steps[0]} »", APPLICANT)
        return NextAction("check_answers", "Vérification et tarification en cours", PLATFORM)
    if stage is Stage.REFERRED:
        if information_requested:
            return NextAction("answer_information_request", "Répondre à la demande de l'estimateur", APPLICANT)
        for kind, action in _TASK_ACTIONS.items():
            if kind in open_tasks:
                return action
        return NextAction("open_underwriting", "Ouverture de l'enquête en cours", PLATFORM)
    if stage is Stage.ACCEPTED and referred:
        return NextAction("draft_contract", "Rédiger le contrat", Role.JURIST.value)
    if stage is Stage.SIGNED and invoice_status == "drafted":
        return NextAction("validate_first_invoice", "Valider la première facture", Role.ACCOUNTANT.value)
    if stage is Stage.DECLINED:
        return NextAction("review_declined", "Réexaminer ou rouvrir le dossier", Role.SALES_REP.value)
    return _STAGE_ACTIONS.get(stage)


_TASK_ACTIONS = {
    "investigation": NextAction("investigate", "Mener l'enquête et rédiger le rapport", Role.INVESTIGATOR.value),
    "estimation": NextAction("estimate_risk", "Estimer le risque et décider", Role.ESTIMATOR.value),
}

_STAGE_ACTIONS = {
    Stage.VALIDATED: NextAction("price", "Tarification en cours", PLATFORM),
    Stage.PRICED: NextAction("accept_offer", "Accepter l'offre", APPLICANT),
    Stage.UNDERWRITTEN: NextAction("accept_offer", "Accepter l'offre ajustée", APPLICANT),
    Stage.ACCEPTED: NextAction("draft_contract", "Rédaction du contrat en cours", PLATFORM),
    Stage.CONTRACT_DRAFTED: NextAction("send_for_signature", "Envoi en signature en cours", PLATFORM),
    Stage.AWAITING_SIGNATURE: NextAction("sign_contract", "Signer le contrat", APPLICANT),
    Stage.SIGNED: NextAction("set_up_billing", "Mandat et première facture en cours", PLATFORM),
}


def crm_status_for(stage: Stage) -> str:
    """The embedded CRM's pipeline stage for a dossier stage (the platform's own sales pipeline)."""
    return _CRM_STATUS.get(stage, "qualified")


_CRM_STATUS = {
    Stage.DRAFT: "lead",
    Stage.PRICED: "offer_sent",
    Stage.UNDERWRITTEN: "offer_sent",
    Stage.ACCEPTED: "offer_accepted",
    Stage.CONTRACT_DRAFTED: "offer_accepted",
    Stage.AWAITING_SIGNATURE: "offer_accepted",
    Stage.SIGNED: "won",
    Stage.ACTIVE: "won",
    Stage.DECLINED: "lost",
    Stage.REJECTED: "lost",
    Stage.WITHDRAWN: "lost",
    Stage.EXPIRED: "lost",
}
