"""The Zendesk adapter of the ticketing port (Support API v2, https://developer.zendesk.com/api-reference/ticketing/).

Base URL `https://{subdomain}.zendesk.com` (`SOUSCRIPTION_ZENDESK_URL`); API token authentication, HTTP Basic with
`{email}/token:{api_token}` (`SOUSCRIPTION_ZENDESK_ACCOUNT` is the agent's email, `SOUSCRIPTION_ZENDESK_TOKEN` the
token). Plain Python, called from workflow steps: no Django, no database.

Idempotency, per call:
- opening a ticket: our reference is the ticket's `external_id`; the adapter first lists the tickets with that
  external id and returns the one it finds; otherwise it creates with `Idempotency-Key: <key>`, which Zendesk honours
  on ticket creation for 2 hours (a retry after a lost answer gets the first answer back). The lookup covers what
  the 2 hours do not (a step replayed the next day).
- updating (comment, status): Zendesk keeps no idempotency key on `PUT /api/v2/tickets/{id}`, so the key becomes a
  tag on the ticket (`souscription_<digest>`), written by the same update that adds the comment or moves the status.
  Before each attempt the adapter reads the ticket: the tag there means the update already happened (perhaps by an
  attempt whose answer was lost) and nothing is sent. Zendesk's update replaces the whole tag list, so the update
  sends the tags it read plus the marker, as a safe update (`updated_stamp` + `safe_update`): if anyone changed the
  ticket in between, Zendesk answers 409 and the adapter reads again instead of erasing their change.
  The key is also sent as `Idempotency-Key` there: Zendesk ignores it on updates, the fakes count effects by it."""

from __future__ import annotations

import base64
import hashlib
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from souscription.configuration import VendorAccess
from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.http import VendorClient, breaker_for
from souscription.integrations.metrics import METRICS, Metrics
from souscription.integrations.resilience import CircuitBreaker, FailureKind, RetryPolicy
from souscription.integrations.ticketing.port import (
    CommentVisibility,
    InvalidTicket,
    NewTicket,
    RemoteTicket,
    TicketStatus,
    TicketStatusChanged,
    normalised_tag,
)
from souscription.integrations.ticketing.zendesk_states import (
    PRIORITY_TO_ZENDESK,
    STATUS_TO_ZENDESK,
    parse_zendesk_time,
    priority_from_zendesk,
    status_from_zendesk,
    verify_webhook,
)

VENDOR = "zendesk"
TICKETS = "/api/v2/tickets"
DELETED_TICKETS = "/api/v2/deleted_tickets"
MARKER_PREFIX = "souscription_"


def marker_tag(key: str) -> str:
    """The tag that records, on the ticket itself, that the update made under `key` happened. A digest: the key may
    hold characters a tag cannot, and a tag is visible to agents, so it should not spell out dossier references."""
    return MARKER_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:24]


def basic_authorization(email: str, token: str) -> str:
    credentials = f"{email}/token:{token}".encode()
    return "Basic " + base64.b64encode(credentials).decode()


def ticket_payload(ticket: NewTicket) -> dict[str, Any]:
    """The body of `POST /api/v2/tickets`. Deterministic: a retry with the same idempotency key must send the same
    body, or Zendesk refuses it (400 IdempotentRequestError)."""
    tags = list(dict.fromkeys(normalised_tag(tag) for tag in ticket.tags))
    return {
        "ticket": {
            "subject": ticket.subject.strip(),
            "comment": {"body": ticket.body, "public": True},
            "requester": {"name": ticket.requester.name.strip(), "email": ticket.requester.email.strip().lower()},
            "external_id": ticket.reference,
            "tags": tags,
            "priority": PRIORITY_TO_ZENDESK[ticket.priority],
        }
    }


def update_payload(changes: Mapping[str, Any], *, current: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The body of `PUT /api/v2/tickets/{id}`: the change, the ticket's tags plus the key's marker, and the
    `updated_at` it was read with, so Zendesk refuses it (409) if the ticket changed since."""
    tags = [str(tag) for tag in current.get("tags") or []]
    return {
        "ticket": {
            **changes,
            "tags": [*tags, marker_tag(key)],
            "updated_stamp": current.get("updated_at"),
            "safe_update": True,
        }
    }


def remote_ticket(data: Mapping[str, Any]) -> RemoteTicket:
    """A Zendesk ticket object read as ours; `UnknownZendeskValue` (a ValueError) for a word the tables lack."""
    external_id = data.get("external_id")
    return RemoteTicket(
        ticket_id=str(data["id"]),
        reference=str(external_id) if external_id not in (None, "") else None,
        status=status_from_zendesk(data.get("status")),
        vendor_status=str(data.get("status")),
        priority=priority_from_zendesk(data.get("priority")),
        updated_at=parse_zendesk_time(data.get("updated_at")),
    )


def zendesk_error_code(response: httpx.Response) -> str:
    """Zendesk's error word: `{"error": "RecordInvalid", ...}`, `{"error": "Couldn't authenticate you"}`, or
    `{"error": {"title": ..., "message": ...}}` on some refusals; a 429 answers in plain text (no code)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(error, dict):
        return str(error.get("title") or "")
    return str(error or "")


class ZendeskTicketing:
    """`TicketingPort` on Zendesk. The overrides (transport, timeout, policy, breaker, metrics, sleep, draw) are for
    tests; production passes the access only."""

    def __init__(
        self,
        access: VendorAccess,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        if not (access.url and access.account and access.token):
            raise ValueError(
                "Zendesk : SOUSCRIPTION_ZENDESK_URL, SOUSCRIPTION_ZENDESK_ACCOUNT (e-mail de l'agent) et "
                "SOUSCRIPTION_ZENDESK_TOKEN sont obligatoires."
            )
        self._policy = policy or RetryPolicy()
        self._sleep, self._draw = sleep, draw
        self._webhook_secret = access.webhook_secret
        authorization = {"Authorization": basic_authorization(access.account, access.token)}

        def client(policy: RetryPolicy) -> VendorClient:
            return VendorClient(
                vendor=VENDOR,
                base_url=access.url.rstrip("/"),
                auth=lambda: authorization,
                timeout=timeout,
                policy=policy,
                error_code=zendesk_error_code,
                metrics=metrics or METRICS,
                transport=transport,
                sleep=sleep,
                draw=draw,
                breaker=breaker or breaker_for(VENDOR),
            )

        self._client = client(self._policy)
        # Updates are retried here, not in the client: each attempt must read the ticket again first.
        self._once = client(RetryPolicy(attempts=1))

    def close(self) -> None:
        self._client.close()
        self._once.close()

    def read_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> TicketStatusChanged:
        """The verified change a delivery of the platform's Zendesk webhook carries, or `WebhookRejected`."""
        return verify_webhook(headers, body, self._webhook_secret, now)

    # -- the port ----------------------------------------------------------------------------------------------

    def open_ticket(self, ticket: NewTicket, *, key: str) -> RemoteTicket:
        existing = self.find_ticket(ticket.reference)
        if existing is not None:
            return existing
        response = self._client.request(
            "POST", TICKETS, operation="ticket.create", json=ticket_payload(ticket), idempotency_key=key, accept=(422,)
        )
        if response.status_code == 422:
            raise _refused(response, "ticket.create")
        return self._read_answer(response, "ticket.create")

    def add_comment(self, ticket_id: str, *, body: str, visibility: CommentVisibility, key: str) -> RemoteTicket:
        if not body.strip():
            raise InvalidTicket("body_missing", "Le commentaire est vide.", "body")
        comment = {"body": body, "public": visibility is CommentVisibility.PUBLIC}
        return self._update(ticket_id, {"comment": comment}, key=key, operation="ticket.comment")

    def change_status(self, ticket_id: str, *, status: TicketStatus, key: str) -> RemoteTicket:
        return self._update(
            ticket_id,
            {"status": STATUS_TO_ZENDESK[status]},
            key=key,
            operation="ticket.status",
            done_when_closed=status is TicketStatus.SOLVED,
        )

    def ticket_status(self, ticket_id: str) -> RemoteTicket:
        return self._remote(self._ticket(ticket_id), "ticket.read")

    def find_ticket(self, reference: str) -> RemoteTicket | None:
        response = self._client.request("GET", TICKETS, operation="ticket.find", params={"external_id": reference})
        tickets = _json(response, "ticket.find").get("tickets")
        if not isinstance(tickets, list):
            raise _malformed("ticket.find")
        ours = [ticket for ticket in tickets if isinstance(ticket, dict) and ticket.get("external_id") == reference]
        if not ours:
            return None
        # Only the platform writes this external id; should an agent have copied it, the first ticket is ours.
        return self._remote(min(ours, key=lambda ticket: int(ticket["id"])), "ticket.find")

    def erase_ticket(self, ticket_id: str, *, key: str) -> None:
        """Zendesk deletes in two calls: `DELETE /api/v2/tickets/{id}` (204) moves the ticket to the deleted tickets,
        which admins can restore for 30 days; `DELETE /api/v2/deleted_tickets/{id}` (200, a queued job) scrubs it
        for good. Each answers 404 once done, so a replay after a lost answer or a crash between the two finishes
        the work and fails on nothing. The requester's Zendesk user (name, e-mail) is not deleted: it may hold
        tickets the platform did not open (see docs/integrations/zendesk.md)."""
        number = _number(ticket_id)
        # The key goes along as on updates: Zendesk ignores it on deletions, the fakes count effects by it.
        self._client.request(
            "DELETE", f"{TICKETS}/{number}", operation="ticket.delete", idempotency_key=key, accept=(404,)
        )
        response = self._client.request(
            "DELETE", f"{DELETED_TICKETS}/{number}", operation="ticket.scrub", idempotency_key=key, accept=(404,)
        )
        if response.status_code == 200 and not isinstance(_json(response, "ticket.scrub").get("job_status"), dict):
            raise _malformed("ticket.scrub")

    # -- updates, guarded by the key's marker tag --------------------------------------------------------------

    def _update(
        self,
        ticket_id: str,
        changes: Mapping[str, Any],
        *,
        key: str,
        operation: str,
        done_when_closed: bool = False,
    ) -> RemoteTicket:
        attempt = 0
        while True:
            attempt += 1
            current = self._ticket(ticket_id)
            if marker_tag(key) in (current.get("tags") or []):
                return self._remote(current, operation)
            if current.get("status") == "closed":
                if done_when_closed:
                    return self._remote(current, operation)
                raise VendorRejected(
                    VENDOR,
                    operation,
                    FailureKind.REJECTED,
                    "ticket clos : Zendesk refuse toute mise à jour, il faut ouvrir un ticket de suivi",
                    status=422,
                    vendor_code="RecordInvalid",
                )
            outcome = self._put_once(ticket_id, update_payload(changes, current=current, key=key), key, operation)
            if isinstance(outcome, VendorUnavailable):
                self._wait_or_give_up(attempt, outcome)
            elif outcome.status_code == 409:
                self._conflict_or_give_up(attempt, operation)
            elif outcome.status_code == 422:
                raise _refused(outcome, operation)
            else:
                return self._read_answer(outcome, operation)

    def _put_once(
        self, ticket_id: str, payload: dict[str, Any], key: str, operation: str
    ) -> httpx.Response | VendorUnavailable:
        """One attempt; a transient failure is returned, to be tried again after reading the ticket."""
        try:
            return self._once.request(
                "PUT",
                f"{TICKETS}/{_number(ticket_id)}",
                operation=operation,
                json=payload,
                idempotency_key=key,
                accept=(409, 422),
            )
        except VendorUnavailable as failure:
            if failure.kind is FailureKind.CIRCUIT_OPEN:
                raise
            return failure

    def _wait_or_give_up(self, attempt: int, failure: VendorUnavailable) -> None:
        if not self._policy.should_retry(attempt, failure.kind, failure.retry_after):
            raise failure
        self._sleep(self._policy.delay(attempt, self._draw(), failure.retry_after))

    def _conflict_or_give_up(self, attempt: int, operation: str) -> None:
        """409: someone changed the ticket since it was read (perhaps our own attempt whose answer was lost)."""
        if attempt < self._policy.attempts:
            return
        raise VendorUnavailable(
            VENDOR,
            operation,
            FailureKind.SERVER_ERROR,
            f"le ticket change sans cesse, mise à jour abandonnée après {attempt} tentative(s)",
            status=409,
        )

    # -- reading -----------------------------------------------------------------------------------------------

    def _ticket(self, ticket_id: str) -> dict[str, Any]:
        response = self._client.request("GET", f"{TICKETS}/{_number(ticket_id)}", operation="ticket.read")
        ticket = _json(response, "ticket.read").get("ticket")
        if not isinstance(ticket, dict):
            raise _malformed("ticket.read")
        return ticket

    def _read_answer(self, response: httpx.Response, operation: str) -> RemoteTicket:
        ticket = _json(response, operation).get("ticket")
        if not isinstance(ticket, dict):
            raise _malformed(operation)
        return self._remote(ticket, operation)

    @staticmethod
    def _remote(ticket: Mapping[str, Any], operation: str) -> RemoteTicket:
        try:
            return remote_ticket(ticket)
        except (KeyError, TypeError, ValueError) as error:
            raise VendorRejected(
                VENDOR, operation, FailureKind.REJECTED, f"réponse Zendesk illisible : {error}", vendor_code="unknown"
            ) from None


def _number(ticket_id: str) -> int:
    if not ticket_id.isdigit():
        raise InvalidTicket("ticket_id_invalid", f"Numéro de ticket Zendesk invalide : « {ticket_id} ».", "ticket_id")
    return int(ticket_id)


def _json(response: httpx.Response, operation: str) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise _malformed(operation) from None
    if not isinstance(payload, dict):
        raise _malformed(operation)
    return payload


def _malformed(operation: str) -> VendorRejected:
    return VendorRejected(
        VENDOR, operation, FailureKind.REJECTED, "réponse Zendesk inattendue", vendor_code="malformed_answer"
    )


def _refused(response: httpx.Response, operation: str) -> VendorRejected:
    """A 422 (`RecordInvalid`): the message names the refused fields, never their values (personal data)."""
    try:
        details = response.json().get("details")
    except (ValueError, AttributeError):
        details = None
    fields = sorted(details) if isinstance(details, dict) else []
    named = f" (champs : {', '.join(fields)})" if fields else ""
    return VendorRejected(
        VENDOR,
        operation,
        FailureKind.REJECTED,
        f"Zendesk refuse la requête{named}",
        status=response.status_code,
        vendor_code=zendesk_error_code(response),
    )
