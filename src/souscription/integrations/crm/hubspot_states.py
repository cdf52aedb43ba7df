"""How a dossier's stage becomes a HubSpot deal stage, and a deal stage our `crm_status`: explicit tables, pure.

The deal lives in one pipeline. The adapter uses seven positions in it (`PipelineStep`); each position is a stage
id of the HubSpot account, configurable, by default the stages of HubSpot's default sales pipeline (`default`).
Two tables carry the meaning, each read in one direction only:

- `STEP_OF_DOSSIER_STAGE`: every one of our 14 stages to a position;
- `STATUS_OF_STEP`: every position to our `crm_status` (the embedded CRM's words, so the dossier reads the same
  whichever CRM is configured: a unit test checks that both give the same status for every stage).

A stage id the pipeline does not know is refused (`UnknownDealStage`), never mapped to a guess."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from souscription.integrations.crm.port import CrmStatus, check_stage


class PipelineStep(StrEnum):
    """A position of the dossier's deal in the pipeline, whatever the account calls its stages."""

    LEAD = "lead"
    QUALIFIED = "qualified"
    OFFER_SENT = "offer_sent"
    OFFER_ACCEPTED = "offer_accepted"
    CONTRACT_SENT = "contract_sent"
    WON = "won"
    LOST = "lost"


DEFAULT_PIPELINE_ID = "default"

DEFAULT_STAGE_IDS: Mapping[PipelineStep, str] = MappingProxyType(
    {
        PipelineStep.LEAD: "appointmentscheduled",
        PipelineStep.QUALIFIED: "qualifiedtobuy",
        PipelineStep.OFFER_SENT: "presentationscheduled",
        PipelineStep.OFFER_ACCEPTED: "decisionmakerboughtin",
        PipelineStep.CONTRACT_SENT: "contractsent",
        PipelineStep.WON: "closedwon",
        PipelineStep.LOST: "closedlost",
    }
)
"""The internal ids of HubSpot's default sales pipeline (the API takes ids, never the labels shown in HubSpot)."""

STEP_OF_DOSSIER_STAGE: Mapping[str, PipelineStep] = MappingProxyType(
    {
        "draft": PipelineStep.LEAD,
        "validated": PipelineStep.QUALIFIED,
        # Referred: underwriting examines the risk, no offer stands yet.
        "referred": PipelineStep.QUALIFIED,
        "priced": PipelineStep.OFFER_SENT,
        "underwritten": PipelineStep.OFFER_SENT,
        "accepted": PipelineStep.OFFER_ACCEPTED,
        "contract_drafted": PipelineStep.OFFER_ACCEPTED,
        "awaiting_signature": PipelineStep.CONTRACT_SENT,
        "signed": PipelineStep.WON,
        "active": PipelineStep.WON,
        # Declined is reopenable: the deal goes back to the lead stage when the dossier returns to draft.
        "declined": PipelineStep.LOST,
        "rejected": PipelineStep.LOST,
        "withdrawn": PipelineStep.LOST,
        "expired": PipelineStep.LOST,
    }
)

STATUS_OF_STEP: Mapping[PipelineStep, CrmStatus] = MappingProxyType(
    {
        PipelineStep.LEAD: CrmStatus.LEAD,
        PipelineStep.QUALIFIED: CrmStatus.QUALIFIED,
        PipelineStep.OFFER_SENT: CrmStatus.OFFER_SENT,
        PipelineStep.OFFER_ACCEPTED: CrmStatus.OFFER_ACCEPTED,
        # Our vocabulary has no "contract sent": the offer is accepted, the signature pending.
        PipelineStep.CONTRACT_SENT: CrmStatus.OFFER_ACCEPTED,
        PipelineStep.WON: CrmStatus.WON,
        PipelineStep.LOST: CrmStatus.LOST,
    }
)


class UnknownDealStage(ValueError):
    """A deal stage (or pipeline) the configured table does not know: a person maps it, nothing is guessed."""

    code = "unknown_deal_stage"

    def __init__(self, pipeline_id: str, stage_id: str) -> None:
        self.pipeline_id, self.stage_id = pipeline_id, stage_id
        super().__init__(
            f"L'étape HubSpot « {stage_id} » (pipeline « {pipeline_id} ») n'est pas dans la table des étapes "
            "configurée : ajoutez-la à la configuration du pipeline."
        )


@dataclass(frozen=True)
class DealPipeline:
    """The pipeline holding the dossiers' deals and the account's stage id of each position."""

    pipeline_id: str = DEFAULT_PIPELINE_ID
    stage_ids: Mapping[PipelineStep, str] = field(default_factory=lambda: DEFAULT_STAGE_IDS)

    def __post_init__(self) -> None:
        missing = [step.value for step in PipelineStep if not self.stage_ids.get(step)]
        if missing:
            raise ValueError(f"Pipeline HubSpot : aucune étape configurée pour {', '.join(missing)}.")
        # Two positions may share a stage (a shorter pipeline) only if they mean the same status to us.
        seen: dict[str, CrmStatus] = {}
        for step, stage_id in self.stage_ids.items():
            status = STATUS_OF_STEP[step]
            if seen.setdefault(stage_id, status) is not status:
                raise ValueError(
                    f"Pipeline HubSpot : l'étape « {stage_id} » servirait à deux statuts ({seen[stage_id]}, {status})."
                )

    def stage_id_for(self, dossier_stage: str) -> str:
        """The HubSpot stage id a deal takes when its dossier is at `dossier_stage`."""
        check_stage(dossier_stage)
        return self.stage_ids[STEP_OF_DOSSIER_STAGE[dossier_stage]]

    def status_of(self, stage_id: str, *, pipeline_id: str | None = None) -> CrmStatus:
        """Our `crm_status` for a deal at `stage_id`; `UnknownDealStage` when the table does not know it."""
        if pipeline_id is not None and pipeline_id != self.pipeline_id:
            raise UnknownDealStage(pipeline_id, stage_id)
        for step, known in self.stage_ids.items():
            if known == stage_id:
                return STATUS_OF_STEP[step]
        raise UnknownDealStage(self.pipeline_id, stage_id)

    def knows(self, stage_id: str) -> bool:
        return stage_id in self.stage_ids.values()


DEFAULT_PIPELINE = DealPipeline()


def configured_pipeline(pipeline_id: str, stages: Mapping[str, str]) -> DealPipeline:
    """The pipeline an account configures: its id and the stage id of each position it names (`{"won": "1234"}`).

    In HubSpot's default pipeline a position not named keeps the default stage. Any other pipeline has stage ids of
    its own (numbers HubSpot made when the stages were created), so it must name every position. `ValueError`, in
    French, says which position is unknown or missing, or which stage would serve two statuses."""
    pipeline_id = pipeline_id.strip() or DEFAULT_PIPELINE_ID
    positions = {step.value: step for step in PipelineStep}
    unknown = sorted(set(stages) - set(positions))
    if unknown:
        raise ValueError(f"position(s) inconnue(s) : {', '.join(unknown)} (positions : {', '.join(positions)}).")
    given = {positions[name]: stage_id.strip() for name, stage_id in stages.items() if stage_id.strip()}
    missing = [step.value for step in PipelineStep if step not in given]
    if pipeline_id != DEFAULT_PIPELINE_ID and missing:
        raise ValueError(
            f"le pipeline « {pipeline_id} » n'est pas celui par défaut, ses étapes ont leurs propres ids : "
            f"donnez celui de chaque position (manquent : {', '.join(missing)})."
        )
    return DealPipeline(pipeline_id=pipeline_id, stage_ids=MappingProxyType({**DEFAULT_STAGE_IDS, **given}))
