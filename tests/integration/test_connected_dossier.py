"""With the CRM given to HubSpot and the ERP to Odoo (their local fakes), a car dossier goes from creation to
active through the public API: the deal follows the dossier in the CRM and `crm_status` is the CRM's answer; the
first invoice is posted in the ERP and `erp_sync` is the ERP's answer; each vendor sees each effect once, even
through injected faults. A customer the ERP's data-quality checks refuse waits, dead-lettered with the reason."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dbos import DBOS
from django.test import Client

from souscription.configuration import VendorAccess
from souscription.connectors import bus as connectors_bus
from souscription.connectors import calls, registry, services
from souscription.integrations.http import reset_breakers
from souscription.subscriptions import connected
from souscription.subscriptions.models import DossierEvent
from tests.fakes.base import FaultPlan
from tests.fakes.hubspot import CLIENT_SECRET, TOKEN, FakeHubSpot
from tests.fakes.odoo import API_KEY, FakeOdoo
from tests.integration.test_dossier_api import CAR, Applicant, validate_first_invoice

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]


@pytest.fixture
def vendors(settings: Any) -> Iterator[tuple[FakeHubSpot, FakeOdoo]]:
    faults = FaultPlan(rate=0.3, seed=3, kinds=("server_error", "rate_limited", "reset", "slow"))
    with FakeHubSpot(faults) as hubspot, FakeOdoo(FaultPlan(rate=0.3, seed=4, kinds=faults.kinds)) as odoo:
        settings.SOUSCRIPTION = dataclasses.replace(
            settings.SOUSCRIPTION,
            connectors={**settings.SOUSCRIPTION.connectors, "crm": "hubspot", "erp": "odoo"},
            vendors={
                **settings.SOUSCRIPTION.vendors,
                "hubspot": VendorAccess("hubspot", hubspot.url, token=TOKEN, webhook_secret=CLIENT_SECRET),
                "odoo": VendorAccess("odoo", odoo.url, token=API_KEY, account=odoo.database),
            },
            connector_park_seconds=1,
        )
        for port in ("crm", "erp"):
            DBOS.register_queue(calls.queue_name(port), polling_interval_sec=0.1, on_conflict="always_update")
        registry.reset()
        reset_breakers()
        connected.subscribe_crm(connectors_bus.bus())  # the relay started with the embedded CRM: subscribe now
        yield hubspot, odoo
    registry.reset()
    reset_breakers()


def eventually(applicant: Applicant, field: str, value: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if applicant.status()[field] == value:
            return True
        time.sleep(0.1)
    return False


def test_a_car_dossier_is_synced_to_the_crm_and_the_erp_on_its_way_to_active(
    vendors: tuple[FakeHubSpot, FakeOdoo],
) -> None:
    hubspot, odoo = vendors
    applicant = Applicant("garantie_automobile")
    priced = applicant.answer_all(CAR)
    assert priced["stage"] == "priced"
    # The CRM's sync runs beside the dossier (it never holds it back): HubSpot's answer for the deal's stage.
    assert eventually(applicant, "crm_status", "offer_sent")
    accepted = applicant.post("/acceptance").json()
    assert accepted["stage"] == "awaiting_signature"
    active = validate_first_invoice(applicant.sign("Léa Martin").json())
    assert active["stage"] == "active"
    assert active["erp_sync"] == "synced"
    assert eventually(applicant, "crm_status", "won")
    deadline = time.monotonic() + 10  # every event of the dossier reached the bus (the CRM followed them)
    while DossierEvent.objects.filter(published_at__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not DossierEvent.objects.filter(published_at__isnull=True).exists()

    deal = hubspot.records["deals"]
    assert [record.properties["dealstage"] for record in deal.values()] == ["closedwon"]
    assert hubspot.stage_history[next(iter(deal))][-1] == "closedwon"
    posted = odoo.moves()
    assert len(posted) == 1
    assert posted[0]["state"] == "posted"
    assert hubspot.duplicates() == {}
    assert odoo.duplicates() == {}
    assert sum(hubspot.faults_injected.values()) + sum(odoo.faults_injected.values()) > 0


def test_a_customer_without_a_postal_address_waits_for_a_person_with_the_reason(
    vendors: tuple[FakeHubSpot, FakeOdoo],
) -> None:
    _hubspot, odoo = vendors
    odoo.faults.rate = 0.0
    applicant = Applicant("garantie_automobile")
    without_address = {
        k: v for k, v in CAR.items() if k not in {"customer.street", "customer.postcode", "customer.city"}
    }
    applicant.answer_all(without_address)
    applicant.post("/acceptance")
    signed = applicant.sign("Léa Martin").json()
    status = validate_first_invoice(signed)
    assert status["stage"] == "signed"  # not active: the ERP sync waits
    waiting = [call for call in services.waiting(status="dead") if call.subscription_id == applicant.sid]
    assert len(waiting) == 1
    assert waiting[0].operation == "erp.post_first_invoice"
    assert "street_missing" in waiting[0].reason
    assert odoo.moves() == []


def test_a_move_made_in_the_crm_reaches_the_dossier_once_and_never_backwards(
    vendors: tuple[FakeHubSpot, FakeOdoo],
) -> None:
    hubspot, _odoo = vendors
    hubspot.faults.rate = 0.0
    applicant = Applicant("garantie_automobile")
    applicant.answer_all(CAR)
    assert eventually(applicant, "crm_status", "offer_sent")
    hubspot.take_events()  # our own sync's echoes
    uri = "http://testserver/api/v1/webhooks/hubspot"

    hubspot.move_in_hubspot(applicant.sid, "qualifiedtobuy")
    earlier = hubspot.take_events()
    hubspot.move_in_hubspot(applicant.sid, "closedlost")  # a salesperson marks the deal lost in HubSpot
    later = hubspot.take_events()
    headers, body = hubspot.webhook(uri, later)
    client = Client()
    delivered = client.post("/api/v1/webhooks/hubspot", body, content_type="application/json", headers=headers)
    assert delivered.status_code == 204, delivered.content
    assert applicant.status()["crm_status"] == "lost"
    again = client.post("/api/v1/webhooks/hubspot", body, content_type="application/json", headers=headers)
    assert again.status_code == 204  # a redelivery is acknowledged and changes nothing
    headers, body = hubspot.webhook(uri, earlier)  # the earlier move, delivered late
    assert (
        client.post("/api/v1/webhooks/hubspot", body, content_type="application/json", headers=headers).status_code
        == 204
    )
    assert applicant.status()["crm_status"] == "lost"

    forged, body = hubspot.webhook(uri, later, secret="another-apps-secret")
    refused = client.post("/api/v1/webhooks/hubspot", body, content_type="application/json", headers=forged)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "webhook_signature_refused"


def test_a_webhook_for_a_vendor_not_configured_is_not_found() -> None:
    response = Client().post("/api/v1/webhooks/hubspot", b"[]", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "webhook_not_configured"
