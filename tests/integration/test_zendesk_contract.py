"""The Zendesk adapter against its fake: a ticket's life, replays that change nothing, collisions with agents,
closed tickets, Zendesk's refusals, signed webhooks, and thirty-odd operations through 30% faults."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from souscription.configuration import VendorAccess
from souscription.integrations.errors import VendorRejected, VendorUnavailable, WebhookRejected
from souscription.integrations.metrics import Metrics
from souscription.integrations.resilience import CircuitBreaker, RetryPolicy
from souscription.integrations.ticketing.port import (
    CommentVisibility,
    InvalidTicket,
    NewTicket,
    Requester,
    TicketPriority,
    TicketStatus,
    TicketStatusChanged,
)
from souscription.integrations.ticketing.zendesk import ZendeskTicketing, basic_authorization, marker_tag
from souscription.integrations.ticketing.zendesk_states import verify_webhook
from tests.fakes.base import FakeVendor, FaultPlan, Reply, Request, route
from tests.fakes.zendesk import FakeZendesk

pytestmark = pytest.mark.integration


class Script(FaultPlan):
    """Faults in a given order, one per request (None: no fault), then none."""

    def __init__(self, *faults: str | None) -> None:
        super().__init__(rate=0.0, timeout_seconds=0.6)
        self.script = list(faults)

    def draw(self) -> str | None:
        with self._lock:
            return self.script.pop(0) if self.script else None


@pytest.fixture(scope="module")
def running() -> Iterator[FakeZendesk]:
    with FakeZendesk() as server:
        yield server


@pytest.fixture
def fake(running: FakeZendesk) -> Iterator[FakeZendesk]:
    """One server for the module (stopping one takes half a second), a new empty account for each test."""
    running.reset()
    yield running
    for opened in _adapters:
        opened.close()
    _adapters.clear()


_adapters: list[ZendeskTicketing] = []


def adapter(fake: FakeZendesk, **access: str) -> ZendeskTicketing:
    fields = {"url": fake.url, "token": fake.token, "account": fake.email, "webhook_secret": fake.signing_secret}
    fields.update(access)
    opened = ZendeskTicketing(
        VendorAccess(vendor="zendesk", **fields),
        timeout=0.5,
        policy=RetryPolicy(attempts=10, base_seconds=0.001, cap_seconds=0.01),
        breaker=CircuitBreaker(failure_threshold=1000),
        metrics=Metrics(),
    )
    _adapters.append(opened)
    return opened


def new_ticket(reference: str = "TCK-0001") -> NewTicket:
    return NewTicket(
        reference=reference,
        subject="Attestation d'assurance",
        body="Bonjour, pouvez-vous m'envoyer mon attestation ?",
        requester=Requester(name="Camille Martin", email="camille.martin@exemple.fr"),
        tags=("souscription", "Demande Client"),
        priority=TicketPriority.HIGH,
    )


def calls(fake: FakeZendesk, method: str) -> int:
    return sum(1 for call in fake.calls if call[0] == method)


def test_a_ticket_is_opened_commented_routed_solved_and_read_back(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    opened = zendesk.open_ticket(new_ticket(), key="TCK-0001:open")
    assert (opened.reference, opened.status, opened.vendor_status) == ("TCK-0001", TicketStatus.OPEN, "new")
    assert opened.priority is TicketPriority.HIGH
    stored = fake.tickets[int(opened.ticket_id)]
    assert stored["tags"] == ["souscription", "demande_client"]
    assert stored["requester_id"] == fake.users["camille.martin@exemple.fr"]

    zendesk.add_comment(
        opened.ticket_id, body="Voici votre attestation.", visibility=CommentVisibility.PUBLIC, key="c1"
    )
    zendesk.add_comment(opened.ticket_id, body="Vérifier le RIB.", visibility=CommentVisibility.INTERNAL, key="c2")
    routed = zendesk.change_status(opened.ticket_id, status=TicketStatus.ROUTED, key="s1")
    assert (routed.status, routed.vendor_status) == (TicketStatus.ROUTED, "hold")
    solved = zendesk.change_status(opened.ticket_id, status=TicketStatus.SOLVED, key="s2")
    assert solved.status is TicketStatus.SOLVED
    assert solved.updated_at > opened.updated_at

    assert zendesk.ticket_status(opened.ticket_id) == solved
    assert zendesk.find_ticket("TCK-0001") == solved
    assert [(c["body"], c["public"]) for c in fake.comments[int(opened.ticket_id)]] == [
        ("Bonjour, pouvez-vous m'envoyer mon attestation ?", True),
        ("Voici votre attestation.", True),
        ("Vérifier le RIB.", False),
    ]
    assert fake.tickets[int(opened.ticket_id)]["tags"] == [
        "souscription",
        "demande_client",
        *(marker_tag(key) for key in ("c1", "c2", "s1", "s2")),
    ]
    assert fake.effects == {
        ("ticket.create", "TCK-0001:open"): 1,
        **{("ticket.update", k): 1 for k in ("c1", "c2", "s1", "s2")},
    }


def test_a_replayed_open_finds_the_ticket_by_reference_and_creates_nothing(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    first = zendesk.open_ticket(new_ticket(), key="k-open")
    fake.forget_idempotency_keys()  # a step replayed the next day: Zendesk's 2 hours are long gone
    again = zendesk.open_ticket(new_ticket(), key="k-open")
    assert again.ticket_id == first.ticket_id
    assert calls(fake, "POST") == 1
    assert len(fake.tickets) == 1


def test_a_lost_create_answer_is_replayed_by_zendesks_idempotency_key(fake: FakeZendesk) -> None:
    fake.faults = Script(None, "timeout")  # the lookup answers; the create happens but its answer comes too late
    opened = adapter(fake).open_ticket(new_ticket(), key="k-open")
    assert calls(fake, "POST") == 2
    assert len(fake.tickets) == 1
    assert opened.ticket_id == str(next(iter(fake.tickets)))
    assert fake.duplicates() == {}


def test_the_same_key_with_another_ticket_is_refused_by_zendesk(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    zendesk.open_ticket(new_ticket("TCK-A"), key="reused")
    with pytest.raises(VendorRejected) as refused:
        zendesk.open_ticket(new_ticket("TCK-B"), key="reused")
    assert (refused.value.status, refused.value.vendor_code) == (400, "IdempotentRequestError")


def test_a_lost_update_answer_is_not_applied_twice(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    ticket = zendesk.open_ticket(new_ticket(), key="k-open").ticket_id
    fake.faults = Script(None, "timeout")  # the read answers; the update lands but its answer is lost
    zendesk.add_comment(ticket, body="Voici votre attestation.", visibility=CommentVisibility.PUBLIC, key="c1")
    assert calls(fake, "PUT") == 1  # the next read showed the marker: nothing more was sent
    assert len(fake.comments[int(ticket)]) == 2
    assert fake.duplicates() == {}


def test_a_replayed_comment_or_status_change_changes_nothing(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    ticket = zendesk.open_ticket(new_ticket(), key="k-open").ticket_id
    for _ in range(2):
        zendesk.add_comment(ticket, body="Bien reçu.", visibility=CommentVisibility.PUBLIC, key="c1")
        zendesk.change_status(ticket, status=TicketStatus.SOLVED, key="s1")
    fake.agent_sets_status(ticket, "open")  # the customer wrote back; an agent reopened the ticket
    replayed = zendesk.change_status(ticket, status=TicketStatus.SOLVED, key="s1")
    assert replayed.vendor_status == "open"  # the replay did not undo the agent's later change
    assert calls(fake, "PUT") == 2
    assert len(fake.comments[int(ticket)]) == 2


def test_the_same_words_under_two_keys_are_two_comments(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    ticket = zendesk.open_ticket(new_ticket(), key="k-open").ticket_id
    for key in ("relance-1", "relance-2"):
        zendesk.add_comment(ticket, body="Nous attendons votre RIB.", visibility=CommentVisibility.PUBLIC, key=key)
    assert [c["body"] for c in fake.comments[int(ticket)]].count("Nous attendons votre RIB.") == 2


def test_an_agents_concurrent_edit_is_kept_the_update_is_read_again_and_applied(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    ticket = zendesk.open_ticket(new_ticket(), key="k-open").ticket_id
    fake.agent_edits_before_next_update(ticket, "escalade")
    zendesk.change_status(ticket, status=TicketStatus.ROUTED, key="s1")
    stored = fake.tickets[int(ticket)]
    assert stored["status"] == "hold"
    assert "escalade" in stored["tags"]  # the safe update's 409 made the adapter read the agent's tag first
    assert stored["tags"].count(marker_tag("s1")) == 1
    assert calls(fake, "PUT") == 2


def test_a_closed_ticket_refuses_updates_and_counts_as_solved(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    ticket = zendesk.open_ticket(new_ticket(), key="k-open").ticket_id
    fake.agent_sets_status(ticket, "solved")
    fake.automation_closes(ticket)
    assert zendesk.ticket_status(ticket).status is TicketStatus.SOLVED
    assert zendesk.change_status(ticket, status=TicketStatus.SOLVED, key="s1").vendor_status == "closed"
    with pytest.raises(VendorRejected) as refused:
        zendesk.add_comment(ticket, body="Encore une question", visibility=CommentVisibility.PUBLIC, key="c1")
    assert (refused.value.status, refused.value.vendor_code) == (422, "RecordInvalid")
    assert "ticket de suivi" in str(refused.value)
    assert calls(fake, "PUT") == 0


def test_a_ticket_closed_while_being_updated_is_zendesks_422(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    ticket = zendesk.open_ticket(new_ticket(), key="k-open").ticket_id
    fake.agent_sets_status(ticket, "solved")
    fake.automation_closes_before_next_update(ticket)
    with pytest.raises(VendorRejected) as refused:
        zendesk.add_comment(ticket, body="Une précision", visibility=CommentVisibility.PUBLIC, key="c1")
    assert (refused.value.status, refused.value.vendor_code) == (422, "RecordInvalid")
    assert "status" in str(refused.value)


def test_on_hold_refused_by_an_account_without_it_is_a_rejection_naming_the_field(fake: FakeZendesk) -> None:
    fake.reset(on_hold=False)
    zendesk = adapter(fake)
    ticket = zendesk.open_ticket(new_ticket(), key="k-open").ticket_id
    with pytest.raises(VendorRejected) as refused:
        zendesk.change_status(ticket, status=TicketStatus.ROUTED, key="s1")
    assert (refused.value.status, refused.value.vendor_code) == (422, "RecordInvalid")
    assert "champs : status" in str(refused.value)
    assert len(fake.calls) == 4  # lookup, create, read, update: a refusal is not retried


def test_a_wrong_token_is_zendesks_401(fake: FakeZendesk) -> None:
    with pytest.raises(VendorRejected) as refused:
        adapter(fake, token="wrong").find_ticket("TCK-0001")
    assert (refused.value.status, refused.value.vendor_code) == (401, "Couldn't authenticate you")


def test_an_unknown_ticket_is_zendesks_404_and_an_unknown_reference_is_none(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    with pytest.raises(VendorRejected) as refused:
        zendesk.ticket_status("999999")
    assert (refused.value.status, refused.value.vendor_code) == (404, "RecordNotFound")
    assert zendesk.find_ticket("TCK-UNKNOWN") is None
    with pytest.raises(InvalidTicket):
        zendesk.ticket_status("TCK-0001")


def test_a_long_retry_after_parks_the_call_instead_of_waiting(fake: FakeZendesk) -> None:
    fake.reset(faults=FaultPlan(rate=1.0, kinds=("rate_limited",), retry_after="120"))
    with pytest.raises(VendorUnavailable) as parked:
        adapter(fake).open_ticket(new_ticket(), key="k-open")
    assert (parked.value.kind, parked.value.retry_after) == ("rate_limited", 120.0)
    assert fake.effects == {}


class Platform(FakeVendor):
    """Stands for the platform's webhook endpoint: verifies what it receives, as the endpoint will."""

    name = "platform"

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.events: list[TicketStatusChanged] = []

    @route("POST", r"/webhooks/zendesk")
    def receive(self, request: Request) -> Reply:
        try:
            event = verify_webhook(request.headers, request.body, self.secret, datetime.now(UTC))
        except WebhookRejected as rejected:
            return Reply(401 if rejected.code.startswith("signature") else 400, json={"code": rejected.code})
        self.events.append(event)
        return Reply(200, json={"received": event.event_id})


def test_an_agents_change_arrives_as_a_signed_webhook_the_platform_verifies(fake: FakeZendesk) -> None:
    ticket = adapter(fake).open_ticket(new_ticket(), key="k-open").ticket_id
    with Platform(fake.signing_secret) as platform:
        webhook = fake.agent_sets_status(ticket, "pending")
        assert fake.deliver_webhook(f"{platform.url}/webhooks/zendesk", webhook).status_code == 200
        headers, body = webhook
        tampered = fake.deliver_webhook(
            f"{platform.url}/webhooks/zendesk", (headers, body.replace(b"pending", b"solved"))
        )
        assert tampered.status_code == 401
    [event] = platform.events
    assert (event.ticket_id, event.reference, event.status, event.vendor_status) == (
        ticket,
        "TCK-0001",
        TicketStatus.OPEN,
        "pending",
    )
    assert event.updated_at == datetime.fromisoformat(fake.tickets[int(ticket)]["updated_at"])


def test_the_automations_closing_arrives_as_solved(fake: FakeZendesk) -> None:
    ticket = adapter(fake).open_ticket(new_ticket(), key="k-open").ticket_id
    fake.agent_sets_status(ticket, "solved")
    headers, body = fake.automation_closes(ticket)
    event = verify_webhook(headers, body, fake.signing_secret, datetime.now(UTC))
    assert (event.status, event.vendor_status) == (TicketStatus.SOLVED, "closed")


def test_every_operation_lands_once_through_thirty_percent_faults(fake: FakeZendesk) -> None:
    fake.reset(faults=FaultPlan(rate=0.3, seed=2026, timeout_seconds=0.6))
    zendesk = adapter(fake)
    results: list[Any] = []
    for number in range(8):
        reference = f"TCK-{number:04d}"
        ticket = zendesk.open_ticket(new_ticket(reference), key=f"{reference}:open")
        results.append(ticket)
        reply = f"Réponse {number}"
        results.append(
            zendesk.add_comment(ticket.ticket_id, body=reply, visibility=CommentVisibility.PUBLIC, key=f"{reference}:c")
        )
        results.append(zendesk.change_status(ticket.ticket_id, status=TicketStatus.SOLVED, key=f"{reference}:s"))
        results.append(zendesk.ticket_status(ticket.ticket_id))
        results.append(zendesk.open_ticket(new_ticket(reference), key=f"{reference}:open"))  # a replayed step
    assert len(results) == 40
    assert sum(fake.faults_injected.values()) > 5
    assert fake.duplicates() == {}
    assert len(fake.tickets) == 8
    assert sum(1 for kind, _ in fake.effects if kind == "ticket.create") == 8
    assert sum(1 for kind, _ in fake.effects if kind == "ticket.update") == 16
    for number, comments in enumerate(fake.comments.values()):
        assert [c["body"] for c in comments][1:] == [f"Réponse {number}"]
    assert all(ticket["status"] == "solved" for ticket in fake.tickets.values())


def test_an_erased_ticket_is_deleted_then_scrubbed_and_erasing_it_again_is_done(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    opened = zendesk.open_ticket(new_ticket(), key="TCK-0001:open")
    zendesk.erase_ticket(opened.ticket_id, key="erase:TCK-0001")
    number = int(opened.ticket_id)
    assert number not in fake.tickets
    assert number not in fake.deleted  # not merely in the deleted tickets an admin can restore
    assert number not in fake.comments
    deletions = [call[1] for call in fake.calls if call[0] == "DELETE"]
    assert deletions == [f"/api/v2/tickets/{number}", f"/api/v2/deleted_tickets/{number}"]
    zendesk.erase_ticket(opened.ticket_id, key="erase:TCK-0001")  # a replayed step: both answer 404, done
    assert [kind for kind, _ in fake.effects if kind.startswith("ticket.") and kind != "ticket.create"] == [
        "ticket.delete",
        "ticket.scrub",
    ]
    assert zendesk.find_ticket("TCK-0001") is None
    with pytest.raises(VendorRejected) as refused:
        zendesk.ticket_status(opened.ticket_id)
    assert refused.value.status == 404


def test_a_ticket_left_in_the_deleted_tickets_by_a_crash_is_scrubbed_by_the_replay(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    opened = zendesk.open_ticket(new_ticket(), key="TCK-0001:open")
    authorization = {"Authorization": basic_authorization(fake.email, fake.token)}
    soft = httpx.delete(f"{fake.url}/api/v2/tickets/{opened.ticket_id}", headers=authorization)
    assert soft.status_code == 204  # the first call landed, then the process died
    zendesk.erase_ticket(opened.ticket_id, key="erase:TCK-0001")
    assert fake.deleted == {}
    assert [kind for kind, _ in fake.effects if kind == "ticket.scrub"] == ["ticket.scrub"]


def test_erasures_land_once_through_thirty_percent_faults(fake: FakeZendesk) -> None:
    zendesk = adapter(fake)
    opened = [zendesk.open_ticket(new_ticket(f"TCK-{n:04d}"), key=f"TCK-{n:04d}:open") for n in range(6)]
    fake.faults = FaultPlan(rate=0.3, seed=17, timeout_seconds=0.6)
    for ticket in opened:
        zendesk.erase_ticket(ticket.ticket_id, key=f"erase:{ticket.reference}")
    assert sum(fake.faults_injected.values()) > 0
    assert (fake.tickets, fake.deleted) == ({}, {})
    assert fake.duplicates() == {}


def test_against_a_real_zendesk_sandbox() -> None:
    """Skipped unless SOUSCRIPTION_TEST_ZENDESK_URL, _ACCOUNT and _TOKEN name a sandbox (docs/integrations/zendesk.md):
    the same life of a ticket, replays included, against Zendesk itself."""
    url, account, token = (
        os.environ.get(f"SOUSCRIPTION_TEST_ZENDESK_{name}", "") for name in ("URL", "ACCOUNT", "TOKEN")
    )
    if not (url and account and token):
        pytest.skip("SOUSCRIPTION_TEST_ZENDESK_URL/_ACCOUNT/_TOKEN ne sont pas définis : pas de bac à sable Zendesk.")
    zendesk = ZendeskTicketing(VendorAccess(vendor="zendesk", url=url, token=token, account=account))
    reference = f"TEST-{uuid.uuid4().hex[:12]}"
    try:
        opened = zendesk.open_ticket(new_ticket(reference), key=f"{reference}:open")
        assert zendesk.open_ticket(new_ticket(reference), key=f"{reference}:open").ticket_id == opened.ticket_id
        for _ in range(2):
            zendesk.add_comment(
                opened.ticket_id, body="Test de contrat.", visibility=CommentVisibility.INTERNAL, key=f"{reference}:c"
            )
        solved = zendesk.change_status(opened.ticket_id, status=TicketStatus.SOLVED, key=f"{reference}:s")
        assert solved.status is TicketStatus.SOLVED
        assert zendesk.find_ticket(reference) == zendesk.ticket_status(opened.ticket_id)
        comments = httpx.get(
            f"{url}/api/v2/tickets/{opened.ticket_id}/comments",
            headers={"Authorization": basic_authorization(account, token)},
            timeout=10,
        ).json()["comments"]
        assert [comment["body"] for comment in comments].count("Test de contrat.") == 1
    finally:
        zendesk.close()
