"""The HubSpot stage tables: every dossier stage has its deal stage, every deal stage its `crm_status`, the same
status the embedded CRM gives, and a stage the table does not know is refused, never guessed."""

from __future__ import annotations

import pytest

from souscription.integrations.crm.hubspot_states import (
    DEFAULT_PIPELINE,
    DEFAULT_STAGE_IDS,
    STEP_OF_DOSSIER_STAGE,
    DealPipeline,
    PipelineStep,
    UnknownDealStage,
)
from souscription.integrations.crm.port import DOSSIER_STAGES, CrmStatus, InvalidCrmRecord
from souscription.subscriptions.domain import Stage, crm_status_for


def test_the_port_knows_exactly_the_dossier_stages() -> None:
    assert frozenset(stage.value for stage in Stage) == DOSSIER_STAGES


@pytest.mark.parametrize(
    ("dossier_stage", "deal_stage"),
    [
        ("draft", "appointmentscheduled"),
        ("validated", "qualifiedtobuy"),
        ("referred", "qualifiedtobuy"),
        ("priced", "presentationscheduled"),
        ("underwritten", "presentationscheduled"),
        ("accepted", "decisionmakerboughtin"),
        ("contract_drafted", "decisionmakerboughtin"),
        ("awaiting_signature", "contractsent"),
        ("signed", "closedwon"),
        ("active", "closedwon"),
        ("declined", "closedlost"),
        ("rejected", "closedlost"),
        ("withdrawn", "closedlost"),
        ("expired", "closedlost"),
    ],
)
def test_each_dossier_stage_moves_the_deal_to_its_default_pipeline_stage(dossier_stage: str, deal_stage: str) -> None:
    assert DEFAULT_PIPELINE.stage_id_for(dossier_stage) == deal_stage


def test_the_table_covers_every_dossier_stage() -> None:
    assert set(STEP_OF_DOSSIER_STAGE) == set(DOSSIER_STAGES)


@pytest.mark.parametrize(
    ("deal_stage", "status"),
    [
        ("appointmentscheduled", CrmStatus.LEAD),
        ("qualifiedtobuy", CrmStatus.QUALIFIED),
        ("presentationscheduled", CrmStatus.OFFER_SENT),
        ("decisionmakerboughtin", CrmStatus.OFFER_ACCEPTED),
        ("contractsent", CrmStatus.OFFER_ACCEPTED),
        ("closedwon", CrmStatus.WON),
        ("closedlost", CrmStatus.LOST),
    ],
)
def test_each_hubspot_deal_stage_reads_as_our_crm_status(deal_stage: str, status: CrmStatus) -> None:
    assert DEFAULT_PIPELINE.status_of(deal_stage) is status


@pytest.mark.parametrize("stage", sorted(Stage))
def test_hubspot_and_the_embedded_crm_give_a_dossier_the_same_crm_status(stage: Stage) -> None:
    assert DEFAULT_PIPELINE.status_of(DEFAULT_PIPELINE.stage_id_for(stage.value)) == crm_status_for(stage)


def test_a_deal_stage_the_table_does_not_know_is_refused() -> None:
    with pytest.raises(UnknownDealStage) as refused:
        DEFAULT_PIPELINE.status_of("1234567")  # a stage added in HubSpot, not configured
    assert refused.value.code == "unknown_deal_stage"
    assert "1234567" in str(refused.value)


def test_a_deal_in_another_pipeline_is_refused_even_at_a_known_stage_id() -> None:
    with pytest.raises(UnknownDealStage):
        DEFAULT_PIPELINE.status_of("closedwon", pipeline_id="renewals")


def test_an_unknown_dossier_stage_is_refused() -> None:
    with pytest.raises(InvalidCrmRecord) as refused:
        DEFAULT_PIPELINE.stage_id_for("lost")
    assert refused.value.code == "unknown_stage"


def test_a_custom_pipeline_uses_the_account_stage_ids() -> None:
    ids = {step: f"stage-{step.value}" for step in PipelineStep}
    pipeline = DealPipeline("98765", ids)
    assert pipeline.stage_id_for("awaiting_signature") == "stage-contract_sent"
    assert pipeline.status_of("stage-won", pipeline_id="98765") is CrmStatus.WON
    with pytest.raises(UnknownDealStage):
        pipeline.status_of("closedwon")  # the default pipeline's id means nothing here


def test_a_shorter_pipeline_may_share_a_stage_between_positions_of_the_same_status() -> None:
    ids = {**DEFAULT_STAGE_IDS, PipelineStep.CONTRACT_SENT: "decisionmakerboughtin"}
    pipeline = DealPipeline(stage_ids=ids)
    assert pipeline.status_of("decisionmakerboughtin") is CrmStatus.OFFER_ACCEPTED


def test_a_stage_shared_by_two_statuses_is_refused_when_configured() -> None:
    ids = {**DEFAULT_STAGE_IDS, PipelineStep.LOST: "closedwon"}
    with pytest.raises(ValueError, match="deux statuts"):
        DealPipeline(stage_ids=ids)


def test_a_pipeline_missing_a_position_is_refused_when_configured() -> None:
    ids: dict[PipelineStep, str] = {step: stage for step, stage in DEFAULT_STAGE_IDS.items() if step != "lost"}
    with pytest.raises(ValueError, match="lost"):
        DealPipeline(stage_ids=ids)
