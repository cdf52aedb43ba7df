"""The HubSpot adapter against its fake over HTTP: a dossier's contact and deal, their association, the deal
moved with the dossier and read back; HubSpot's refusals as `VendorRejected` with HubSpot's category; what a
salesperson does in HubSpot, seen through reads and signed webhooks; and every call landing once through 30 %
faults and HubSpot's own rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from souscription.configuration import VendorAccess
from souscription.integrations.crm.hubspot import HubSpotCrm
from souscription.integrations.crm.hubspot_states import DEFAULT_STAGE_IDS, DealPipeline, PipelineStep
from souscription.integrations.crm.port import CrmPort, CrmStatus, CustomerContact, DossierDeal
from souscription.integrations.errors import VendorRejected, WebhookRejected
from souscription.integrations.metrics import Metrics
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy
from tests.fakes.base import FaultPlan
from tests.fakes.hubspot import CLIENT_SECRET, TOKEN, FakeHubSpot

pytestmark = pytest.mark.integration

WEBHOOK_URI = "https://souscription.assureur.fr/api/v1/webhooks/hubspot"
JEANNE = CustomerContact("Jeanne.Martin@exemple.fr", "Jeanne", "Martin", phone="+33612345678", country="FR")


def adapter(fake: FakeHubSpot, *, token: str = TOKEN, **overrides: object) -> HubSpotCrm:
    options: dict[str, object] = {
        "timeout": 0.5,
        "policy": RetryPolicy(attempts=10, base_seconds=0.001, cap_seconds=0.01),
        "breaker": CircuitBreaker(failure_threshold=1000),
        "metrics": Metrics(),
    }
    options.update(overrides)
    access = VendorAccess("hubspot", fake.url, token=token, webhook_secret=CLIENT_SECRET)
    return HubSpotCrm(access, **options)  # type: ignore[arg-type]


def deal(number: int = 42, stage: str = "draft", amount_cents: int = 48_000) -> DossierDeal:
    return DossierDeal(f"SUB-2026-{number:06d}", "Assurance emprunteur", amount_cents, stage)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def hubspot(server: FakeHubSpot) -> FakeHubSpot:
    server.reset()
    return server


def test_the_adapter_is_a_crm_port(hubspot: FakeHubSpot) -> None:
    crm: CrmPort = adapter(hubspot)
    assert crm.read_deal("SUB-2026-000001") is None


def test_a_dossier_goes_through_hubspot_from_lead_to_won(hubspot: FakeHubSpot) -> None:
    crm = adapter(hubspot)
    contact = crm.upsert_contact(JEANNE, key="crm:d42:contact")
    created = crm.upsert_deal(deal(), contact_crm_id=contact.crm_id, key="crm:d42:deal")
    assert contact.created
    assert created.created
    assert created.crm_status is CrmStatus.LEAD

    for stage in ("validated", "priced", "accepted", "contract_drafted", "awaiting_signature", "signed", "active"):
        moved = crm.move_deal("SUB-2026-000042", stage, key=f"crm:d42:{stage}")
    assert moved.crm_status is CrmStatus.WON

    read = crm.read_deal("SUB-2026-000042")
    assert read is not None
    assert (read.crm_id, read.subscription_id, read.crm_stage, read.crm_status) == (
        created.crm_id,
        "SUB-2026-000042",
        "closedwon",
        CrmStatus.WON,
    )
    record = hubspot.deal("SUB-2026-000042")
    assert record is not None
    assert record.properties["amount"] == "480.00"
    assert record.properties["souscription_stage"] == "active"
    assert hubspot.stage_history[created.crm_id] == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
    ]
    assert hubspot.associations == {(created.crm_id, contact.crm_id)}
    assert hubspot.trace_ids == ["crm:d42:contact", "crm:d42:deal"]


def test_a_referred_dossier_declined_then_reopened_follows_the_table(hubspot: FakeHubSpot) -> None:
    crm = adapter(hubspot)
    contact = crm.upsert_contact(JEANNE, key="c")
    crm.upsert_deal(deal(stage="referred"), contact_crm_id=contact.crm_id, key="d")
    assert crm.move_deal("SUB-2026-000042", "declined", key="m1").crm_status is CrmStatus.LOST
    assert crm.move_deal("SUB-2026-000042", "draft", key="m2").crm_status is CrmStatus.LEAD


def test_replaying_every_call_with_the_same_key_creates_nothing_new(hubspot: FakeHubSpot) -> None:
    crm = adapter(hubspot)
    for attempt in range(2):
        contact = crm.upsert_contact(JEANNE, key="crm:d42:contact")
        made = crm.upsert_deal(deal(), contact_crm_id=contact.crm_id, key="crm:d42:deal")
        crm.move_deal("SUB-2026-000042", "validated", key="crm:d42:validated")
        assert (contact.created, made.created) == (attempt == 0, attempt == 0)
    assert hubspot.duplicates() == {}
    assert sorted(kind for kind, _ in hubspot.effects) == ["association", "contact.create", "deal.create"]
    assert hubspot.updates[("contacts", "jeanne.martin@exemple.fr")] == 1


def test_the_same_customer_under_another_case_is_the_same_contact(hubspot: FakeHubSpot) -> None:
    crm = adapter(hubspot)
    first = crm.upsert_contact(JEANNE, key="a")
    again = crm.upsert_contact(CustomerContact("JEANNE.MARTIN@EXEMPLE.FR", "Jeanne", "Martin-Dupont"), key="b")
    assert again.crm_id == first.crm_id
    assert not again.created
    record = hubspot.contact("jeanne.martin@exemple.fr")
    assert record is not None
    assert record.properties["lastname"] == "Martin-Dupont"


def test_a_wrong_token_is_refused_with_hubspots_category(hubspot: FakeHubSpot) -> None:
    with pytest.raises(VendorRejected) as refused:
        adapter(hubspot, token="pat-eu1-revoked").upsert_contact(JEANNE, key="k")
    assert (refused.value.status, refused.value.vendor_code) == (401, "INVALID_AUTHENTICATION")
    assert len(hubspot.calls) == 1


def test_an_account_without_the_unique_deal_property_refuses_the_upsert() -> None:
    with FakeHubSpot(deal_id_property="external_id") as fake:
        crm = adapter(fake)
        contact = crm.upsert_contact(JEANNE, key="c")
        with pytest.raises(VendorRejected) as refused:
            crm.upsert_deal(deal(), contact_crm_id=contact.crm_id, key="d")
    # The input carries an objectWriteTraceId: HubSpot answers a multi-status 207 with the error inside.
    assert (refused.value.status, refused.value.vendor_code) == (207, "VALIDATION_ERROR")
    assert not any(kind == "deal.create" for kind, _ in fake.effects)


def test_an_account_whose_pipeline_lacks_our_stage_refuses_the_move(hubspot: FakeHubSpot) -> None:
    # Configured as if "won" were stage 1234 in the account; the account's pipeline has no such stage.
    crm = adapter(hubspot, pipeline=DealPipeline(stage_ids={**DEFAULT_STAGE_IDS, PipelineStep.WON: "1234"}))
    contact = crm.upsert_contact(JEANNE, key="c")
    crm.upsert_deal(deal(), contact_crm_id=contact.crm_id, key="d")
    with pytest.raises(VendorRejected) as refused:
        crm.move_deal("SUB-2026-000042", "signed", key="m")
    assert (refused.value.status, refused.value.vendor_code) == (400, "VALIDATION_ERROR")


def test_a_configured_pipeline_holds_the_deals_at_its_own_stage_ids(hubspot: FakeHubSpot) -> None:
    # SOUSCRIPTION_HUBSPOT_PIPELINE=renewals and SOUSCRIPTION_HUBSPOT_STAGES give every position its stage id.
    ids = {step: str(900 + number) for number, step in enumerate(PipelineStep)}
    hubspot.pipelines["renewals"] = list(ids.values())
    options = (("pipeline", "renewals"), *((f"stage.{step.value}", stage_id) for step, stage_id in ids.items()))
    access = VendorAccess("hubspot", hubspot.url, token=TOKEN, webhook_secret=CLIENT_SECRET, options=options)
    try:
        crm = HubSpotCrm(access, timeout=0.5, policy=RetryPolicy(attempts=3, base_seconds=0.001), metrics=Metrics())
        contact = crm.upsert_contact(JEANNE, key="c")
        crm.upsert_deal(deal(stage="priced"), contact_crm_id=contact.crm_id, key="d")
        made = hubspot.deal("SUB-2026-000042")
        assert made is not None
        assert (made.properties["pipeline"], made.properties["dealstage"]) == ("renewals", ids[PipelineStep.OFFER_SENT])
        crm.move_deal("SUB-2026-000042", "active", key="m")
        assert made.properties["dealstage"] == ids[PipelineStep.WON]
    finally:
        del hubspot.pipelines["renewals"]


def test_moving_a_deal_that_was_never_created_is_refused(hubspot: FakeHubSpot) -> None:
    with pytest.raises(VendorRejected) as refused:
        adapter(hubspot).move_deal("SUB-2026-000404", "priced", key="m")
    assert (refused.value.status, refused.value.vendor_code) == (404, "OBJECT_NOT_FOUND")


def test_another_api_version_is_not_served(hubspot: FakeHubSpot) -> None:
    with pytest.raises(VendorRejected) as refused:
        adapter(hubspot, api_version="v3").upsert_contact(JEANNE, key="k")
    assert refused.value.status == 404


def test_a_salesperson_losing_the_deal_in_hubspot_is_read_back_and_signed_to_us(hubspot: FakeHubSpot) -> None:
    crm = adapter(hubspot)
    contact = crm.upsert_contact(JEANNE, key="c")
    made = crm.upsert_deal(deal(stage="priced"), contact_crm_id=contact.crm_id, key="d")
    hubspot.take_events()
    hubspot.move_in_hubspot("SUB-2026-000042", "closedlost")

    read = crm.read_deal("SUB-2026-000042")
    assert read is not None
    assert read.crm_status is CrmStatus.LOST

    headers, body = hubspot.webhook(WEBHOOK_URI, hubspot.take_events())
    (move,) = crm.webhook_moves(headers, body, now=datetime.now(UTC), method="POST", uri=WEBHOOK_URI)
    assert (move.crm_deal_id, move.crm_status) == (made.crm_id, CrmStatus.LOST)
    by_id = crm.read_deal_by_crm_id(move.crm_deal_id)
    assert by_id is not None
    assert by_id.subscription_id == "SUB-2026-000042"


def test_a_webhook_signed_with_another_secret_is_refused(hubspot: FakeHubSpot) -> None:
    headers, body = hubspot.webhook(WEBHOOK_URI, [], secret="another-app-secret")
    with pytest.raises(WebhookRejected) as refused:
        adapter(hubspot).webhook_moves(headers, body, now=datetime.now(UTC), method="POST", uri=WEBHOOK_URI)
    assert refused.value.code == "signature_invalid"


def test_a_deal_moved_to_a_stage_added_in_hubspot_is_refused_not_guessed(hubspot: FakeHubSpot) -> None:
    crm = adapter(hubspot)
    contact = crm.upsert_contact(JEANNE, key="c")
    crm.upsert_deal(deal(), contact_crm_id=contact.crm_id, key="d")
    hubspot.move_in_hubspot("SUB-2026-000042", "1234567")
    with pytest.raises(VendorRejected) as refused:
        crm.read_deal("SUB-2026-000042")
    assert refused.value.vendor_code == "unknown_deal_stage"


def test_a_deal_deleted_in_hubspot_reads_as_none(hubspot: FakeHubSpot) -> None:
    crm = adapter(hubspot)
    contact = crm.upsert_contact(JEANNE, key="c")
    crm.upsert_deal(deal(), contact_crm_id=contact.crm_id, key="d")
    hubspot.archive_deal("SUB-2026-000042")
    assert crm.read_deal("SUB-2026-000042") is None


def test_hubspots_burst_limit_is_waited_out_and_every_call_lands() -> None:
    with FakeHubSpot(burst_limit=3, burst_interval_seconds=0.2) as fake:
        crm = adapter(fake, policy=RetryPolicy(attempts=20, base_seconds=0.02, cap_seconds=0.08))
        contact = crm.upsert_contact(JEANNE, key="c")
        for number in range(1, 6):
            crm.upsert_deal(deal(number), contact_crm_id=contact.crm_id, key=f"d{number}")
    assert fake.throttled > 0, "the burst limit never answered 429"
    assert fake.duplicates() == {}
    assert sum(1 for kind, _ in fake.effects if kind == "deal.create") == 5


def test_every_call_lands_once_through_thirty_percent_faults() -> None:
    with FakeHubSpot(FaultPlan(rate=0.3, seed=11, timeout_seconds=0.6)) as fake:
        crm = adapter(fake)
        for number in range(1, 9):
            contact = crm.upsert_contact(
                CustomerContact(f"client{number}@exemple.fr", "Client", f"N{number}"), key=f"crm:d{number}:contact"
            )
            crm.upsert_deal(deal(number), contact_crm_id=contact.crm_id, key=f"crm:d{number}:deal")
            crm.move_deal(deal(number).subscription_id, "validated", key=f"crm:d{number}:validated")
            read = crm.read_deal(deal(number).subscription_id)
            assert read is not None
            assert read.crm_status is CrmStatus.QUALIFIED
    assert sum(fake.faults_injected.values()) >= 10
    assert fake.duplicates() == {}
    kinds = [kind for kind, _ in fake.effects]
    assert (kinds.count("contact.create"), kinds.count("deal.create"), kinds.count("association")) == (8, 8, 8)
