"""A fake Zendesk Support API (tickets), stateful, on 127.0.0.1.

What it enforces, as Zendesk documents it (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/):
- API token authentication: `Authorization: Basic base64({email}/token:{api_token})`, else 401
  `{"error": "Couldn't authenticate you"}`;
- `POST /api/v2/tickets` with `{"ticket": {...}}` and a JSON content type, 201 `{"ticket": ..., "audit": ...}`;
  a blank first comment is 422 `RecordInvalid` ("Description: cannot be blank"); `Idempotency-Key` is honoured
  (the same key and body replay the first answer with `x-idempotency-lookup: hit`, a first use says `miss`, the same
  key with another body is 400 `IdempotentRequestError`); keys live 2 hours (`forget_idempotency_keys()`);
- `GET /api/v2/tickets?external_id=...` (`{"tickets": [...], "count": n, ...}`), `GET /api/v2/tickets/{id}`
  (404 `{"error": "RecordNotFound", "description": "Not found"}`);
- `PUT /api/v2/tickets/{id}`: no idempotency (the header is ignored, as Zendesk does); `tags` replace the ticket's
  tags; a safe update (`safe_update` + `updated_stamp`) on a ticket changed since is 409; a closed ticket refuses
  any update (422 "Status: closed prevents ticket update"); a ticket never goes back to `new`.
- webhooks from a trigger, signed base64(HMAC-SHA256(secret, timestamp + body)) with the ISO 8601 timestamp in
  `X-Zendesk-Webhook-Signature-Timestamp` (signed here independently of the adapter's code).

Where Zendesk documents no exact answer (a body without `ticket`, a wrong content type, a field the fake does not
model) the fake answers 400 with `"fake"` in the description: stricter than Zendesk, so an adapter mistake shows.
`updated_at` moves forward by at least one second on every change, so a safe update always sees a change.

Side effects are counted with `effect("ticket.create", <idempotency key or external id>)` and
`effect("ticket.update", <the key the platform sent>)`: an update applied twice under one key is a duplicate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.fakes.base import FakeVendor, FaultPlan, Refuse, Reply, Request, route

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = (None, "low", "normal", "high", "urgent")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CREATE_FIELDS = {"subject", "comment", "requester", "external_id", "tags", "priority", "status"}
_UPDATE_FIELDS = {"comment", "status", "tags", "priority", "updated_stamp", "safe_update"}


def _record_invalid(field: str, description: str, error: str = "InvalidValue") -> Refuse:
    details = {field: [{"description": description, "error": error}]}
    return Refuse(
        Reply(422, json={"error": "RecordInvalid", "description": "Record validation errors", "details": details})
    )


def _fake_refusal(description: str) -> Refuse:
    return Refuse(Reply(400, json={"error": "InvalidRequest", "description": f"fake: {description}"}))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeZendesk(FakeVendor):
    name = "zendesk"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        email: str = "agent@assureur.example",
        token: str = "zd-api-token",
        signing_secret: str = "zd-signing-secret",
        clock: Callable[[], datetime] | None = None,
        on_hold: bool = True,
    ) -> None:
        super().__init__(faults)
        self.email, self.token, self.signing_secret = email, token, signing_secret
        self.clock = clock or (lambda: datetime.now(UTC))
        self.reset(faults=faults, on_hold=on_hold)

    def reset(self, *, faults: FaultPlan | None = None, on_hold: bool = True) -> None:
        """A new, empty account (tests share one running server: stopping one takes half a second)."""
        with self.lock:
            self.faults = faults or FaultPlan()
            self.on_hold = on_hold
            """On-hold is a status an administrator may leave off; then Zendesk refuses it."""
            self.effects.clear()
            self.calls.clear()
            self.faults_injected.clear()
            self._reset_account()

    def _reset_account(self) -> None:
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.deleted: dict[int, dict[str, Any]] = {}
        """Soft-deleted tickets: out of every listing and read, restorable for 30 days, until scrubbed."""
        self.users: dict[str, int] = {}
        self._keys: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self._before_update: dict[int, list[Callable[[], None]]] = {}
        self._ids = iter(range(1001, 10**9))
        self._updates = 0

    # -- the API -----------------------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Reply | None:
        credentials = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        if request.header("authorization") != f"Basic {credentials}":
            return Reply(401, json={"error": "Couldn't authenticate you"})
        return None

    def not_found(self, request: Request) -> Reply:
        return Reply(404, json={"error": "InvalidEndpoint", "description": "Not found"})

    @route("POST", r"/api/v2/tickets(?:\.json)?")
    def create(self, request: Request) -> Reply:
        ticket = self._ticket_object(request, _CREATE_FIELDS)
        key = request.header("idempotency-key")
        with self.lock:
            if key and key in self._keys:
                body, answer = self._keys[key]
                if body != request.body:
                    return Reply(
                        400,
                        json={
                            "error": "IdempotentRequestError",
                            "description": "Request parameters don't match the given idempotency key",
                        },
                    )
                return Reply(201, json=answer, headers={"x-idempotency-lookup": "hit"})
            created = self._create(ticket)
            answer = {"ticket": dict(created), "audit": {"ticket_id": created["id"], "events": []}}
            self.effect("ticket.create", key or str(created["external_id"] or created["id"]))
            if key:
                self._keys[key] = (request.body, answer)
        return Reply(201, json=answer, headers={"x-idempotency-lookup": "miss"} if key else {})

    @route("GET", r"/api/v2/tickets(?:\.json)?")
    def list_tickets(self, request: Request) -> Reply:
        external_id = request.arg("external_id")
        with self.lock:
            found = [
                dict(ticket)
                for ticket in self.tickets.values()
                if external_id is None or ticket["external_id"] == external_id
            ]
        return Reply(200, json={"tickets": found, "next_page": None, "previous_page": None, "count": len(found)})

    @route("GET", r"/api/v2/tickets/(?P<id>\d+)(?:\.json)?")
    def show(self, request: Request) -> Reply:
        with self.lock:
            return Reply(200, json={"ticket": dict(self._existing(request))})

    @route("PUT", r"/api/v2/tickets/(?P<id>\d+)(?:\.json)?")
    def update(self, request: Request) -> Reply:
        changes = self._ticket_object(request, _UPDATE_FIELDS)
        with self.lock:
            ticket = self._existing(request)
            for agent_edit in self._before_update.pop(ticket["id"], []):
                agent_edit()
            self._check_update(ticket, changes)
            self._apply(ticket, changes)
            self._updates += 1
            self.effect("ticket.update", request.header("idempotency-key") or f"{ticket['id']}:{self._updates}")
            return Reply(200, json={"ticket": dict(ticket), "audit": {"ticket_id": ticket["id"], "events": []}})

    @route("DELETE", r"/api/v2/tickets/(?P<id>\d+)(?:\.json)?")
    def delete(self, request: Request) -> Reply:
        """Soft delete: 204 without a body; the ticket leaves the listings for the deleted tickets (admins may
        restore it for 30 days). A ticket already deleted, or never there, is 404 RecordNotFound."""
        with self.lock:
            ticket = self._existing(request)
            del self.tickets[ticket["id"]]
            self.deleted[ticket["id"]] = ticket
            self.effect("ticket.delete", request.header("idempotency-key") or str(ticket["id"]))
        return Reply(204)

    @route("DELETE", r"/api/v2/deleted_tickets/(?P<id>\d+)(?:\.json)?")
    def delete_permanently(self, request: Request) -> Reply:
        """Permanent deletion of a soft-deleted ticket (GDPR): Zendesk queues a job and answers its job_status. A
        ticket not soft-deleted first, or already scrubbed, is 404."""
        number = int(request.params["id"])
        with self.lock:
            if number not in self.deleted:
                raise Refuse(Reply(404, json={"error": "RecordNotFound", "description": "Not found"}))
            del self.deleted[number]
            self.comments.pop(number, None)
            self.effect("ticket.scrub", request.header("idempotency-key") or str(number))
            job = f"{number:032x}"
        return Reply(
            200,
            json={
                "job_status": {
                    "id": job,
                    "job_type": "ticket_deletion",
                    "message": None,
                    "progress": None,
                    "results": None,
                    "status": "queued",
                    "total": None,
                    "url": f"{self.url}/api/v2/job_statuses/{job}.json",
                }
            },
        )

    # -- what agents and automations do (not through the API) --------------------------------------------------

    def agent_sets_status(self, ticket_id: str | int, status: str) -> tuple[dict[str, str], bytes]:
        """An agent moves the ticket in Zendesk's screens; returns the signed webhook the trigger sends."""
        with self.lock:
            ticket = self.tickets[int(ticket_id)]
            if ticket["status"] == "closed" or status in ("new", "closed"):
                raise ValueError(f"an agent cannot move a {ticket['status']} ticket to {status}")
            ticket["status"] = status
            self._touch(ticket)
            return self.signed_webhook(ticket)

    def automation_closes(self, ticket_id: str | int) -> tuple[dict[str, str], bytes]:
        """Zendesk's automation closes a solved ticket some days later; returns the signed webhook."""
        with self.lock:
            ticket = self.tickets[int(ticket_id)]
            if ticket["status"] != "solved":
                raise ValueError("only a solved ticket is closed by the automation")
            ticket["status"] = "closed"
            self._touch(ticket)
            return self.signed_webhook(ticket)

    def agent_edits_before_next_update(self, ticket_id: str | int, tag: str) -> None:
        """An agent adds a tag just before the platform's next update lands (a collision)."""

        def edit() -> None:
            ticket = self.tickets[int(ticket_id)]
            ticket["tags"] = [*ticket["tags"], tag]
            self._touch(ticket)

        self._before_next_update(ticket_id, edit)

    def automation_closes_before_next_update(self, ticket_id: str | int) -> None:
        """The ticket, solved, is closed just before the platform's next update lands."""
        self._before_next_update(ticket_id, lambda: self.automation_closes(ticket_id) and None)

    def _before_next_update(self, ticket_id: str | int, action: Callable[[], None]) -> None:
        with self.lock:
            self._before_update.setdefault(int(ticket_id), []).append(action)

    def forget_idempotency_keys(self) -> None:
        """Two hours have passed: Zendesk no longer remembers the keys."""
        with self.lock:
            self._keys.clear()

    def signed_webhook(self, ticket: dict[str, Any], at: datetime | None = None) -> tuple[dict[str, str], bytes]:
        """The trigger's JSON body (docs/integrations/zendesk.md), placeholders rendered as text, and its headers."""
        body = json.dumps(
            {
                "ticket_id": str(ticket["id"]),
                "external_id": ticket["external_id"] or "",
                "status": ticket["status"],
                "updated_at": ticket["updated_at"],
            }
        ).encode()
        timestamp = _iso(at or self.clock())
        digest = hmac.new(self.signing_secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
        headers = {
            "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
        }
        return headers, body

    def deliver_webhook(self, url: str, webhook: tuple[dict[str, str], bytes]) -> httpx.Response:
        headers, body = webhook
        return self.deliver(url, body, headers)

    # -- the rules -----------------------------------------------------------------------------------------------

    def _ticket_object(self, request: Request, fields: set[str]) -> dict[str, Any]:
        if (request.header("content-type") or "").split(";")[0].strip() != "application/json":
            raise _fake_refusal("Zendesk's API takes JSON (Content-Type: application/json)")
        payload = request.json()
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, dict):
            raise _fake_refusal('the body must be {"ticket": {...}}')
        unknown = set(ticket) - fields
        if unknown:
            raise _fake_refusal(f"fields the fake does not model: {sorted(unknown)}")
        return ticket

    def _create(self, ticket: dict[str, Any]) -> dict[str, Any]:
        comment = ticket.get("comment")
        if not isinstance(comment, dict) or not str(comment.get("body") or "").strip():
            raise _record_invalid("description", "Description: cannot be blank", "BlankValue")
        requester = ticket.get("requester")
        if not isinstance(requester, dict) or not _EMAIL.match(str(requester.get("email") or "")):
            raise _record_invalid("requester", "Requester: Email is invalid")
        self._check_fields(ticket)
        status = ticket.get("status") or "new"
        if status == "closed":
            raise _record_invalid("status", "Status: a ticket cannot be created closed")
        number = next(self._ids)
        now = _iso(self.clock())
        created = {
            "id": number,
            "url": f"{self.url}/api/v2/tickets/{number}.json",
            "external_id": ticket.get("external_id"),
            "subject": ticket.get("subject") or str(comment["body"]).splitlines()[0],
            "description": comment["body"],
            "status": status,
            "priority": ticket.get("priority"),
            "requester_id": self.users.setdefault(str(requester["email"]).lower(), 500 + len(self.users)),
            "tags": list(dict.fromkeys(ticket.get("tags") or [])),
            "created_at": now,
            "updated_at": now,
        }
        self.tickets[number] = created
        self.comments[number] = [{"body": comment["body"], "public": comment.get("public", True)}]
        return created

    def _check_fields(self, ticket: dict[str, Any]) -> None:
        if "status" in ticket and ticket["status"] not in STATUSES:
            raise _record_invalid("status", "Status: is invalid")
        if "priority" in ticket and ticket["priority"] not in PRIORITIES:
            raise _record_invalid("priority", "Priority: is invalid")
        tags = ticket.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) and " " not in tag for tag in tags):
            raise _fake_refusal("tags are a list of strings without spaces")
        comment = ticket.get("comment")
        if comment is not None and (not isinstance(comment, dict) or not isinstance(comment.get("public", True), bool)):
            raise _fake_refusal("comment is {body, public (boolean)}")
        external_id = ticket.get("external_id")
        if external_id is not None and not isinstance(external_id, str):
            raise _fake_refusal("external_id is a string")

    def _check_update(self, ticket: dict[str, Any], changes: dict[str, Any]) -> None:
        if ticket["status"] == "closed":
            raise _record_invalid("status", "Status: closed prevents ticket update", "ClosedTicket")
        if changes.get("safe_update") in (True, "true") and changes.get("updated_stamp") != ticket["updated_at"]:
            raise Refuse(
                Reply(
                    409,
                    json={
                        "error": "UpdateConflict",
                        "description": "Safe Update prevented the update due to outdated ticket data. "
                        "Please fetch the latest ticket data and try again.",
                    },
                )
            )
        self._check_fields(changes)
        if changes.get("status") == "hold" and not self.on_hold:
            raise _record_invalid("status", "Status: hold is not enabled on this account")
        if changes.get("status") == "new" and ticket["status"] != "new":
            raise _record_invalid("status", "Status: cannot be changed back to new")
        comment = changes.get("comment")
        if comment is not None and not str(comment.get("body") or "").strip():
            raise _record_invalid("comment", "Comment: cannot be blank", "BlankValue")

    def _apply(self, ticket: dict[str, Any], changes: dict[str, Any]) -> None:
        for field in ("status", "priority"):
            if field in changes:
                ticket[field] = changes[field]
        if "tags" in changes:
            ticket["tags"] = list(dict.fromkeys(changes["tags"]))
        comment = changes.get("comment")
        if comment is not None:
            self.comments[ticket["id"]].append({"body": comment["body"], "public": comment.get("public", True)})
        self._touch(ticket)

    def _touch(self, ticket: dict[str, Any]) -> None:
        previous = datetime.fromisoformat(ticket["updated_at"])
        ticket["updated_at"] = _iso(max(self.clock().replace(microsecond=0), previous + timedelta(seconds=1)))

    def _existing(self, request: Request) -> dict[str, Any]:
        ticket = self.tickets.get(int(request.params["id"]))
        if ticket is None:
            raise Refuse(Reply(404, json={"error": "RecordNotFound", "description": "Not found"}))
        return ticket
