"""Specification of the dossier lifecycle: every transition, every guard, the reset rule, one event each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from souscription.identity.domain import Role
from souscription.subscriptions import events as ev
from souscription.subscriptions.domain import (
    ActivationChecks,
    ActivationNotReady,
    ContractNeedsJurist,
    Dossier,
    DossierLocked,
    OfferExpired,
    OnlyJuristDraftsContracts,
    Quote,
    Stage,
    TransitionRefused,
    Verdict,
    final_stages,
    format_subscription_id,
    is_subscription_id,
    resettable_stages,
)

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
YES, NO = Verdict(True), Verdict(False, ("âge hors limites",))
READY = ActivationChecks(mandate_valid=True, first_invoice_validated=True, erp_synced=True)


# The lifecycle of PRODUCT.md, written out here independently of the code's own table.
S = Stage
EXPECTED_FORWARD_MOVES = {
    (S.DRAFT, S.VALIDATED),
    (S.DRAFT, S.DECLINED),
    (S.VALIDATED, S.PRICED),
    (S.PRICED, S.REFERRED),
    (S.PRICED, S.ACCEPTED),
    (S.REFERRED, S.UNDERWRITTEN),
    (S.REFERRED, S.DECLINED),
    (S.REFERRED, S.REJECTED),
    (S.UNDERWRITTEN, S.ACCEPTED),
    (S.ACCEPTED, S.CONTRACT_DRAFTED),
    (S.CONTRACT_DRAFTED, S.AWAITING_SIGNATURE),
    (S.AWAITING_SIGNATURE, S.SIGNED),
    (S.AWAITING_SIGNATURE, S.DECLINED),
    (S.SIGNED, S.ACTIVE),
    (S.DECLINED, S.DRAFT),
}


def quote(valid_days: int = 30) -> Quote:
    return Quote(premium_cents=4_200, currency="EUR", valid_until=NOW + timedelta(days=valid_days))


def new_dossier() -> Dossier:
    dossier = Dossier.open(
        subscription_id="SUB-2026-000001", product="garantie_automobile", product_version="1", now=NOW
    )
    dossier.edit({"vehicle.registration": "AB-123-CD"}, now=NOW)
    return dossier


# Each step moves a dossier one stage along a path; walking the steps reaches any stage.
STEPS: dict[Stage, Callable[[Dossier], None]] = {
    Stage.VALIDATED: lambda d: d.validate(eligibility=YES, completeness=YES, now=NOW),
    Stage.PRICED: lambda d: d.price(quote(), now=NOW),
    Stage.REFERRED: lambda d: d.refer(Verdict(True, ("fumeur",)), now=NOW),
    Stage.UNDERWRITTEN: lambda d: d.underwrite(premium_cents=5_000, exclusions=("dos",), valid_until=LATER, now=NOW),
    Stage.ACCEPTED: lambda d: d.accept_offer(now=NOW),
    Stage.CONTRACT_DRAFTED: lambda d: d.draft_contract(by=Role.JURIST, now=NOW),
    Stage.AWAITING_SIGNATURE: lambda d: d.send_for_signature(now=NOW),
    Stage.SIGNED: lambda d: d.sign(now=NOW),
    Stage.ACTIVE: lambda d: d.activate(READY, now=NOW),
    Stage.DECLINED: lambda d: d.decline("hors appétit", now=NOW),
    Stage.REJECTED: lambda d: d.reject("fraude avérée", now=NOW),
    Stage.DRAFT: lambda d: d.reopen(now=NOW),
}
PATHS: dict[Stage, tuple[Stage, ...]] = {
    Stage.DRAFT: (),
    Stage.VALIDATED: (Stage.VALIDATED,),
    Stage.PRICED: (Stage.VALIDATED, Stage.PRICED),
    Stage.REFERRED: (Stage.VALIDATED, Stage.PRICED, Stage.REFERRED),
    Stage.UNDERWRITTEN: (Stage.VALIDATED, Stage.PRICED, Stage.REFERRED, Stage.UNDERWRITTEN),
    Stage.ACCEPTED: (Stage.VALIDATED, Stage.PRICED, Stage.ACCEPTED),
    Stage.CONTRACT_DRAFTED: (Stage.VALIDATED, Stage.PRICED, Stage.ACCEPTED, Stage.CONTRACT_DRAFTED),
    Stage.AWAITING_SIGNATURE: (
        Stage.VALIDATED,
        Stage.PRICED,
        Stage.ACCEPTED,
        Stage.CONTRACT_DRAFTED,
        Stage.AWAITING_SIGNATURE,
    ),
    Stage.SIGNED: (
        Stage.VALIDATED,
        Stage.PRICED,
        Stage.ACCEPTED,
        Stage.CONTRACT_DRAFTED,
        Stage.AWAITING_SIGNATURE,
        Stage.SIGNED,
    ),
    Stage.ACTIVE: (
        Stage.VALIDATED,
        Stage.PRICED,
        Stage.ACCEPTED,
        Stage.CONTRACT_DRAFTED,
        Stage.AWAITING_SIGNATURE,
        Stage.SIGNED,
        Stage.ACTIVE,
    ),
    Stage.DECLINED: (Stage.VALIDATED, Stage.PRICED, Stage.REFERRED, Stage.DECLINED),
    Stage.REJECTED: (Stage.VALIDATED, Stage.PRICED, Stage.REFERRED, Stage.REJECTED),
}


def dossier_at(stage: Stage) -> Dossier:
    dossier = new_dossier()
    if stage is Stage.WITHDRAWN:
        dossier.withdraw("changement d'avis", now=NOW)
    elif stage is Stage.EXPIRED:
        dossier.expire(now=NOW)
    else:
        for step in PATHS[stage]:
            STEPS[step](dossier)
    assert dossier.stage is stage
    dossier.collect_events()
    return dossier


@pytest.mark.parametrize("source", list(Stage))
@pytest.mark.parametrize("target", list(STEPS))
def test_each_forward_move_happens_exactly_where_the_lifecycle_allows_it(source: Stage, target: Stage) -> None:
    dossier = dossier_at(source)
    allowed = (source, target) in EXPECTED_FORWARD_MOVES
    if allowed:
        STEPS[target](dossier)
        assert dossier.stage is target
        assert len(dossier.collect_events()) == 1
    else:
        with pytest.raises((TransitionRefused, ValueError)):
            STEPS[target](dossier)
        assert dossier.stage is source
        assert dossier.collect_events() == []


@pytest.mark.parametrize("stage", sorted(resettable_stages()))
def test_editing_a_later_stage_returns_it_to_draft_and_discards_the_price(stage: Stage) -> None:
    dossier = dossier_at(stage)
    had_price = dossier.quote is not None
    dossier.edit({"vehicle.mileage": 42_000}, now=LATER)
    assert dossier.stage is Stage.DRAFT
    assert dossier.quote is None
    assert dossier.answers["vehicle.mileage"] == 42_000
    returned, edited = dossier.collect_events()
    assert isinstance(returned, ev.DossierReturnedToDraft)
    assert returned.previous_stage == stage.value
    assert returned.price_discarded is had_price
    assert isinstance(edited, ev.DossierEdited)
    assert edited.fields == ("vehicle.mileage",)


def test_a_draft_is_edited_in_place_without_a_reset() -> None:
    dossier = dossier_at(Stage.DRAFT)
    dossier.edit({"driver.age": 31}, now=NOW)
    assert [type(e) for e in dossier.collect_events()] == [ev.DossierEdited]


@pytest.mark.parametrize("stage", [Stage.CONTRACT_DRAFTED, Stage.AWAITING_SIGNATURE, Stage.SIGNED])
def test_a_dossier_with_a_drafted_contract_is_locked(stage: Stage) -> None:
    dossier = dossier_at(stage)
    with pytest.raises(DossierLocked):
        dossier.edit({"driver.age": 31}, now=NOW)
    assert dossier.stage is stage


@pytest.mark.parametrize("stage", sorted(final_stages() | {Stage.DECLINED}))
def test_a_closed_dossier_is_not_edited(stage: Stage) -> None:
    with pytest.raises(TransitionRefused):
        dossier_at(stage).edit({"driver.age": 31}, now=NOW)


def test_an_incomplete_dossier_stays_a_draft_with_the_missing_items_named() -> None:
    dossier = dossier_at(Stage.DRAFT)
    with pytest.raises(TransitionRefused) as refused:
        dossier.validate(eligibility=YES, completeness=Verdict(False, ("numéro d'immatriculation manquant",)), now=NOW)
    assert "immatriculation" in refused.value.message
    assert dossier.stage is Stage.DRAFT


def test_an_ineligible_dossier_is_declined_with_the_reasons() -> None:
    dossier = dossier_at(Stage.DRAFT)
    dossier.validate(eligibility=NO, completeness=YES, now=NOW)
    assert dossier.stage is Stage.DECLINED
    [closed] = dossier.collect_events()
    assert isinstance(closed, ev.DossierClosed)
    assert closed.reason == "âge hors limites"


def test_a_declined_dossier_can_be_reopened_and_a_rejected_one_cannot() -> None:
    declined = dossier_at(Stage.DECLINED)
    declined.reopen(now=NOW)
    assert declined.stage is Stage.DRAFT
    assert declined.quote is None
    with pytest.raises(TransitionRefused):
        dossier_at(Stage.REJECTED).reopen(now=NOW)


def test_an_expired_offer_cannot_be_accepted() -> None:
    dossier = dossier_at(Stage.PRICED)
    with pytest.raises(OfferExpired):
        dossier.accept_offer(now=NOW + timedelta(days=31))
    assert dossier.stage is Stage.PRICED


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.JURIST])
def test_juriste_is_the_only_role_that_can_draft_a_contract(role: Role) -> None:
    dossier = dossier_at(Stage.ACCEPTED)
    with pytest.raises(OnlyJuristDraftsContracts):
        dossier.draft_contract(by=role, now=NOW)
    assert dossier.stage is Stage.ACCEPTED


def test_a_referred_dossiers_contract_is_never_drafted_by_the_platform_alone() -> None:
    dossier = new_dossier()
    for step in (Stage.VALIDATED, Stage.PRICED, Stage.REFERRED, Stage.UNDERWRITTEN, Stage.ACCEPTED):
        STEPS[step](dossier)
    with pytest.raises(ContractNeedsJurist):
        dossier.draft_contract(by=None, now=NOW)
    dossier.draft_contract(by=Role.JURIST, now=NOW)
    assert dossier.stage is Stage.CONTRACT_DRAFTED


def test_a_straight_through_contract_is_produced_by_the_platform_from_the_approved_template() -> None:
    dossier = dossier_at(Stage.ACCEPTED)
    dossier.draft_contract(by=None, now=NOW)
    assert dossier.stage is Stage.CONTRACT_DRAFTED
    assert dossier.collect_events()[-1].payload()["data"]["drafted_by_role"] == "platform"


def test_a_return_to_draft_forgets_the_referral_so_the_new_answers_are_judged_afresh() -> None:
    dossier = dossier_at(Stage.REFERRED)
    dossier.edit({"health.tobacco": False}, now=NOW)
    assert dossier.referred is False


@pytest.mark.parametrize("missing", ["mandate_valid", "first_invoice_validated", "erp_synced"])
def test_activation_waits_for_mandate_first_invoice_and_erp_sync(missing: str) -> None:
    dossier = dossier_at(Stage.SIGNED)
    checks = ActivationChecks(**{**READY.__dict__, missing: False})
    with pytest.raises(ActivationNotReady) as refused:
        dossier.activate(checks, now=NOW)
    assert refused.value.field == missing
    assert dossier.stage is Stage.SIGNED


def test_the_underwriter_may_ask_for_information_and_the_answer_returns_the_dossier_to_draft() -> None:
    dossier = dossier_at(Stage.REFERRED)
    dossier.request_information("Précisez votre consommation d'alcool.", now=NOW)
    assert dossier.stage is Stage.REFERRED
    assert dossier.information_requested
    dossier.edit({"health.alcohol_units_per_week": 3}, now=LATER)
    assert dossier.stage is Stage.DRAFT
    assert dossier.information_requested is None
    with pytest.raises(TransitionRefused):
        dossier_at(Stage.PRICED).request_information("?", now=NOW)


def test_underwriting_sets_the_final_premium() -> None:
    dossier = dossier_at(Stage.UNDERWRITTEN)
    assert dossier.quote == Quote(premium_cents=5_000, currency="EUR", valid_until=LATER)


@pytest.mark.parametrize("stage", list(Stage))
def test_withdrawal_is_possible_until_signature(stage: Stage) -> None:
    dossier = dossier_at(stage)
    if stage in final_stages() or stage is Stage.SIGNED:
        with pytest.raises(TransitionRefused):
            dossier.withdraw("changement d'avis", now=NOW)
    else:
        dossier.withdraw("changement d'avis", now=NOW)
        assert dossier.stage is Stage.WITHDRAWN


@pytest.mark.parametrize("stage", list(Stage))
def test_only_dossiers_waiting_on_someone_expire(stage: Stage) -> None:
    waiting = {Stage.DRAFT, Stage.VALIDATED, Stage.PRICED, Stage.REFERRED, Stage.UNDERWRITTEN, Stage.AWAITING_SIGNATURE}
    dossier = dossier_at(stage)
    if stage in waiting:
        dossier.expire(now=NOW)
        assert dossier.stage is Stage.EXPIRED
    else:
        with pytest.raises(TransitionRefused):
            dossier.expire(now=NOW)


def test_every_event_names_the_dossier_the_stage_reached_and_a_version() -> None:
    dossier = new_dossier()
    for step in PATHS[Stage.ACTIVE]:
        STEPS[step](dossier)
    events = dossier.collect_events()
    assert [e.stage for e in events[2:]] == [s.value for s in PATHS[Stage.ACTIVE]]
    for event in events:
        payload = event.payload()
        assert payload["event"].startswith("subscriptions.")
        assert payload["version"] == 1
        assert payload["data"]["subscription_id"] == "SUB-2026-000001"


def test_subscription_ids_follow_sub_year_sequence() -> None:
    assert format_subscription_id(year=2026, sequence=1245) == "SUB-2026-001245"
    assert is_subscription_id("SUB-2024-001245")
    assert not is_subscription_id("SUB-24-1245")
    with pytest.raises(ValueError):
        format_subscription_id(year=2026, sequence=1_000_000)
    with pytest.raises(ValueError):
        Dossier.open(subscription_id="42", product="p", product_version="1", now=NOW)
