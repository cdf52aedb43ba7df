"""Customer service reacts to the dossier's events: when Legal's estimateur asks an applicant for more, its consumer
opens a follow-up ticket for the customer advisors, once, with Legal's neutral wording and never the estimateur's
note. With ticketing given to Zendesk (its fake, failing 30 % of calls), the ticket is opened there once, for the
customer, and an agent's changes come back through Zendesk's signed webhooks, never backwards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dbos import DBOS
from django.test import Client
from django.utils import timezone

from souscription.configuration import VendorAccess
from souscription.connectors import bus as connectors_bus
from souscription.connectors import registry
from souscription.gdpr import erasure
from souscription.integrations.ticketing.port import NewTicket, Requester
from souscription.subscriptions import follow_up, outbox
from souscription.subscriptions.models import Dossier as DossierRow
from souscription.subscriptions.models import DossierEvent
from souscription.tickets import follow_ups
from souscription.tickets.models import Ticket, VendorErasure
from tests.fakes.base import FaultPlan
from tests.fakes.zendesk import FakeZendesk
from tests.integration.test_dossier_api import HEALTH, Applicant, post, staff
from tests.integration.vendor_settings import port_given_to

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
NOTE = "Merci d'envoyer le compte rendu de votre cardiologue."
WEBHOOK = "/api/v1/webhooks/zendesk"


@pytest.fixture
def zendesk(settings: Any) -> Iterator[FakeZendesk]:
    with FakeZendesk(FaultPlan(rate=0.3, seed=8, kinds=("server_error", "rate_limited", "reset", "slow"))) as fake:
        access = VendorAccess(
            "zendesk", fake.url, token=fake.token, account=fake.email, webhook_secret=fake.signing_secret
        )
        with port_given_to(settings, "ticketing", access):
            yield fake


def information_requested() -> Applicant:
    applicant = Applicant("prevoyance_individuelle")
    referred = applicant.answer_all(HEALTH)
    investigator, _ = staff("investigator")
    report = {"findings": "Antécédents cardiaques déclarés par téléphone."}
    reported = post(investigator, f"/underwriting/tasks/{referred['tasks'][0]['id']}/report", report).json()
    estimation = next(task for task in reported["status"]["tasks"] if task["kind"] == "estimation")
    estimator, _ = staff("estimator")
    decision = {
        "risk_class": "aggravated",
        "premium_adjustment_pct": 0,
        "decision": "request_information",
        "note": NOTE,
    }
    asked = post(estimator, f"/underwriting/tasks/{estimation['id']}/estimate", decision)
    assert asked.status_code == 200, asked.content
    return applicant


def follow_up_ticket(applicant: Applicant, seconds: float = 20) -> Ticket:
    customer_id = DossierRow.objects.get(subscription_id=applicant.sid).customer_id
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = list(Ticket.objects.filter(customer_id=customer_id, channel=Ticket.Channel.PLATFORM))
        if found:
            assert len(found) == 1
            return found[0]
        time.sleep(0.1)
    raise AssertionError("no follow-up ticket")


def number_at_zendesk(ticket: Ticket, seconds: float = 30) -> str:
    """Zendesk's number for the ticket, once the durable open call has recorded it (it goes through faults)."""
    deadline = time.monotonic() + seconds
    while not Ticket.objects.get(id=ticket.id).vendor_ticket_id and time.monotonic() < deadline:
        time.sleep(0.1)
    return Ticket.objects.get(id=ticket.id).vendor_ticket_id


def deliver(webhook: tuple[dict[str, str], bytes]) -> int:
    headers, body = webhook
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return Client().post(WEBHOOK, body, content_type="application/json", **extra).status_code


def test_an_information_request_opens_one_follow_up_ticket_without_the_estimateurs_note() -> None:
    applicant = information_requested()
    ticket = follow_up_ticket(applicant)
    assert applicant.sid in ticket.reason
    [action] = list(ticket.actions.all())
    assert "informations complémentaires" in action.description
    assert NOTE not in action.description
    assert "cardi" not in action.description
    # The event delivered again (a relay replay, a broker redelivery) opens nothing more.
    event = DossierEvent.objects.get(dossier__subscription_id=applicant.sid, name=follow_up.EVENT.removesuffix(".v1"))
    connectors_bus.bus().publish(outbox._envelope(event))
    assert Ticket.objects.filter(customer_id=ticket.customer_id).count() == 1


def test_with_zendesk_the_ticket_is_opened_there_once_and_an_agents_changes_come_back(zendesk: FakeZendesk) -> None:
    applicant = information_requested()
    ticket = follow_up_ticket(applicant)
    remote_id = number_at_zendesk(ticket)
    assert remote_id
    [remote] = list(zendesk.tickets.values())
    assert str(remote["id"]) == remote_id
    assert str(ticket.id) in str(remote)  # our reference, how a replayed call finds it again
    assert zendesk.duplicates() == {}
    assert sum(zendesk.faults_injected.values()) > 0

    zendesk.faults.rate = 0.0
    pending = zendesk.agent_sets_status(remote_id, "pending")
    solved = zendesk.agent_sets_status(remote_id, "solved")
    assert deliver(solved) == 204
    assert deliver(pending) == 204  # late: older than what is applied
    assert deliver(solved) == 204  # again: taken in once
    assert Ticket.objects.get(id=ticket.id).status == "solved"
    headers, body = solved
    assert deliver(({**headers, "X-Zendesk-Webhook-Signature": "forged"}, body)) == 401


def test_erasing_the_customer_erases_the_ticket_at_zendesk_for_good(zendesk: FakeZendesk) -> None:
    """GDPR erasure deletes the ticket here and, through a durable vendor call, Zendesk's copy: soft-deleted, then
    scrubbed from the deleted tickets an admin could restore."""
    applicant = information_requested()
    ticket = follow_up_ticket(applicant)
    remote_id = number_at_zendesk(ticket)
    assert int(remote_id) in zendesk.tickets

    result = erasure.erase_customer(customer_id=ticket.customer_id, force=False, dry_run=False)
    assert result.erased["customer_service"]["tickets"] == 1
    assert not Ticket.objects.filter(id=ticket.id).exists()
    assert list(VendorErasure.objects.values_list("vendor_ticket_id", flat=True)) == [remote_id]

    assert follow_up.start_vendor_erasures(timezone.now(), None) == 1  # the minute's sweep
    DBOS.retrieve_workflow(f"erase-ticket:{remote_id}").get_result()
    assert int(remote_id) not in zendesk.tickets
    assert int(remote_id) not in zendesk.deleted
    assert not VendorErasure.objects.exists()
    assert zendesk.duplicates() == {}
    assert follow_up.start_vendor_erasures(timezone.now(), None) == 0  # nothing owed any more


def test_with_ticketing_embedded_an_owed_erasure_waits_for_the_service() -> None:
    from souscription.tickets import follow_ups

    VendorErasure.objects.create(vendor_ticket_id="4242", asked_at=timezone.now(), reason="erasure_request")
    assert follow_up.start_vendor_erasures(timezone.now(), None) == 0
    assert follow_ups.vendor_erasures() == ["4242"]


def test_a_ticket_erased_here_while_zendesk_was_opening_it_is_owed_there() -> None:
    follow_ups.record_vendor_ticket(uuid.uuid4(), vendor_ticket_id="5151", at=timezone.now())
    assert follow_ups.vendor_erasures() == ["5151"]


def test_an_erasure_started_and_still_waiting_for_zendesk_is_not_started_again(zendesk: FakeZendesk) -> None:
    """Each owed erasure is started once: those parked or dead-lettered never hold newer ones back."""
    VendorErasure.objects.create(
        vendor_ticket_id="7001", asked_at=timezone.now(), reason="erasure_request", started_at=timezone.now()
    )
    VendorErasure.objects.create(vendor_ticket_id="7002", asked_at=timezone.now(), reason="erasure_request")
    assert follow_ups.vendor_erasures() == ["7002"]
    assert follow_up.start_vendor_erasures(timezone.now(), None) == 1
    DBOS.retrieve_workflow("erase-ticket:7002").get_result()  # Zendesk has no such ticket: 404, 404, done
    assert list(VendorErasure.objects.values_list("vendor_ticket_id", flat=True)) == ["7001"]  # still owed


def test_a_ticket_erased_after_zendesk_opened_it_but_before_its_answer_came_is_owed_there(zendesk: FakeZendesk) -> None:
    """The open call's first attempt reached Zendesk, its answer was lost; the ticket was erased here meanwhile:
    the replay finds Zendesk's copy by our reference and owes its erasure instead of waiting for ever."""
    zendesk.faults.rate = 0.0
    ticket_id = str(uuid.uuid4())
    remote = registry.adapter("ticketing").open_ticket(
        NewTicket(
            reference=ticket_id,
            subject="Informations demandées",
            body="Bonjour",
            requester=Requester(name="Jeanne Martin", email="jeanne.martin@exemple.fr"),
        ),
        key=f"ticket:{ticket_id}",
    )
    assert follow_up.open_follow_up_at_vendor(ticket_id, key=f"ticket:{ticket_id}") == "erased"
    assert follow_ups.vendor_erasures() == [remote.ticket_id]
