"""Customer service follows up what Legal asks of an applicant, from the dossier's events (issue 5: departments
react to each other's events, never by reading each other's tables).

Its consumer `customer_service.follow-up` of `subscriptions.information_requested.v1` opens a ticket for the
customer advisors, in Customer service's database and in the transaction that records the message as consumed, so
a redelivered event opens nothing more. When configuration gives ticketing to Zendesk, the same ticket is opened
there by a durable vendor call (once per ticket: Zendesk finds it again by our reference), the customer receives
its first message, and Zendesk's webhooks bring its status back (`POST /api/v1/webhooks/zendesk`).

The question the ticket carries is the dossier event's: for a health product it is the neutral wording Legal
chose, never the estimateur's note."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from dbos import DBOS, SetWorkflowID
from django.utils import timezone

from souscription.connectors import bus as connectors_bus
from souscription.connectors import calls, registry
from souscription.customers import services as customers
from souscription.integrations.bus.envelope import Envelope
from souscription.integrations.bus.port import EventBus
from souscription.integrations.ticketing.port import NewTicket, Requester
from souscription.platform import workflows
from souscription.subscriptions import outbox, services
from souscription.tickets import follow_ups

CONSUMER = "customer_service.follow-up"
EVENT = "subscriptions.information_requested.v1"
TAGS = ("souscription", "informations_demandees")
ERASURE_CRON = "45 * * * * *"
"""Once a minute: a ticket erased here is erased at the ticketing service within the minute, vendor willing."""
_subscribed: set[int] = set()


@outbox.subscriber
def subscribe(event_bus: EventBus) -> None:
    if id(event_bus) not in _subscribed:
        consumed = connectors_bus.consumed(follow_ups.DATABASE)
        event_bus.subscribe(CONSUMER, [EVENT], on_information_requested, consumed=consumed)
        _subscribed.add(id(event_bus))


def on_information_requested(envelope: Envelope) -> None:
    subscription_id = str(envelope.payload["subscription_id"])
    row, _dossier = services.load(subscription_id)
    if row.customer_id is None:
        return  # a referred dossier always has its customer; nobody to follow up otherwise
    ticket_id = uuid.uuid5(uuid.NAMESPACE_URL, f"follow-up:{envelope.message_id}")
    question = str(envelope.payload.get("question") or "")
    follow_ups.open_follow_up(
        ticket_id=ticket_id,
        customer_id=row.customer_id,
        reason=f"Informations demandées pour le dossier {subscription_id}",
        action=f"Le service souscription demande au client : {question}",
        at=envelope.occurred_at,
    )
    if registry.uses_vendor("ticketing"):
        # Started before this transaction commits: the call parks until the ticket is there (`NotReady`), so a
        # crash after the commit loses nothing, and a redelivery joins the same workflow.
        with SetWorkflowID(f"follow-up:{ticket_id}"):
            DBOS.start_workflow(open_at_vendor, str(ticket_id), subscription_id)


@DBOS.workflow()
def open_at_vendor(ticket_id: str, subscription_id: str) -> str:
    key = f"ticket:{ticket_id}"
    return str(calls.run("ticketing.open_follow_up", key=key, subscription_id=subscription_id, args=(ticket_id,)))


@calls.operation("ticketing.open_follow_up")
def open_follow_up_at_vendor(ticket_id: str, *, key: str) -> str:
    found = follow_ups.follow_up(uuid.UUID(ticket_id))
    ticketing: Any = registry.adapter("ticketing")
    if found is None:
        # Not committed yet, or erased since (GDPR erasure, retention): then an earlier attempt may have opened it
        # there before its answer was lost, and that copy is owed an erasure too.
        opened = ticketing.find_ticket(ticket_id)
        if opened is not None:
            follow_ups.owe_vendor_erasure(opened.ticket_id, at=timezone.now(), reason="erased_while_opening")
            return "erased"
        raise calls.NotReady(f"ticket {ticket_id} pas encore enregistré par le service client")
    contact = customers.contact_of(found.customer_id)
    if contact is None:
        raise ValueError("the ticket's customer has no contact")
    remote = ticketing.open_ticket(
        NewTicket(
            reference=ticket_id,
            subject=found.reason,
            body=f"Bonjour,\n\n{found.first_action}\n\nVous pouvez répondre à ce message.",
            requester=Requester(name=f"{contact.first_name} {contact.last_name}", email=contact.email),
            tags=TAGS,
        ),
        key=key,
    )
    follow_ups.record_vendor_ticket(uuid.UUID(ticket_id), vendor_ticket_id=remote.ticket_id, at=timezone.now())
    return str(remote.status.value)


# -- erased here, erased there ----------------------------------------------------------------------------------


@workflows.scheduled(name="erase_tickets_at_vendor", cron=ERASURE_CRON)
@DBOS.workflow()
def start_vendor_erasures(scheduled_time: datetime, context: Any) -> int:
    """Tickets erased here (GDPR erasure, retention) are erased at the ticketing service by one durable workflow
    each (its id makes a second start a no-op). With ticketing back on the embedded service, they wait: the
    service's copies are not reachable then, and erasing them stays owed."""
    if not registry.uses_vendor("ticketing"):
        return 0
    pending = owed_erasures()
    for vendor_ticket_id in pending:
        with SetWorkflowID(f"erase-ticket:{vendor_ticket_id}"):
            DBOS.start_workflow(erase_at_vendor, vendor_ticket_id)
    erasures_started(pending, scheduled_time.isoformat())
    return len(pending)


@workflows.step()
def owed_erasures() -> list[str]:
    return follow_ups.vendor_erasures()


@workflows.step()
def erasures_started(vendor_ticket_ids: list[str], at: str) -> None:
    follow_ups.vendor_erasures_started(vendor_ticket_ids, at=datetime.fromisoformat(at))


@DBOS.workflow()
def erase_at_vendor(vendor_ticket_id: str) -> None:
    key = f"erase-ticket:{vendor_ticket_id}"
    calls.run("ticketing.erase_ticket", key=key, args=(vendor_ticket_id,))
    erased_at_vendor(vendor_ticket_id)


@calls.operation("ticketing.erase_ticket")
def erase_ticket_at_vendor(vendor_ticket_id: str, *, key: str) -> None:
    ticketing: Any = registry.adapter("ticketing")
    ticketing.erase_ticket(vendor_ticket_id, key=key)


@workflows.step()  # a database busy for a moment must not end it in error: retried, as every step
def erased_at_vendor(vendor_ticket_id: str) -> None:
    follow_ups.vendor_erasure_done(vendor_ticket_id)
