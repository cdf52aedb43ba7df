"""A stateful fake of HubSpot's CRM on the date-versioned paths (`/crm/objects/2026-03/...`).

What it enforces, as HubSpot documents it: `Authorization: Bearer <private app token>` (401 with
`INVALID_AUTHENTICATION` otherwise), JSON bodies, the served API version only (404 for another), batch upsert
bodies (`inputs` of `idProperty`, `id`, `properties`, optional `objectWriteTraceId`) by a property with unique
values only, known properties only (`PROPERTY_DOESNT_EXIST`), a deal stage of its pipeline, `dealname` and
`dealstage` on a new deal, both records existing for an association. Errors have HubSpot's shape
(`{"status": "error", "message", "correlationId", "category", "errors"}`); a batch whose inputs all carry an
`objectWriteTraceId` answers a refusal as a 207 multi-status. A burst limit, when set, answers HubSpot's 429
(`errorType: RATE_LIMIT`, `policyName: TEN_SECONDLY_ROLLING`) with its `X-HubSpot-RateLimit-*` headers.

Effects are counted per unique value: `contact.create` by email, `deal.create` by subscription id, `association`
by deal and contact; an upsert of a known value is an update, which is idempotent and counted in `updates`.
What a salesperson does in HubSpot (`move_in_hubspot`, `archive_deal`) and the webhooks HubSpot sends about it
(`webhook`, signed v3 as HubSpot signs) are methods of the fake."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.base import FakeVendor, FaultPlan, Refuse, Reply, Request, route

TOKEN = "pat-eu1-00000000-test-token"
CLIENT_SECRET = "hubspot-app-client-secret"
DEAL_ID_PROPERTY = "souscription_subscription_id"
DEFAULT_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
PROPERTIES = {
    "contacts": {"email", "firstname", "lastname", "phone", "country"},
    "deals": {"dealname", "dealstage", "pipeline", "amount", "closedate", "souscription_product", "souscription_stage"},
}
READ_ONLY = {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"}
DEFAULT_READ = {
    "contacts": ("email", "firstname", "lastname"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
}
_SIGNED_DECODING = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'"}
_SIGNED_DECODING |= {"%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


@dataclass
class Record:
    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool = False

    def public(self, names: tuple[str, ...] | None = None) -> dict[str, Any]:
        shown = self.properties if names is None else {n: self.properties[n] for n in names if n in self.properties}
        return {
            "id": self.id,
            "properties": {**shown, "hs_object_id": self.id, "createdate": self.created_at},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }


@dataclass
class _Burst:
    limit: int
    interval_seconds: float
    calls: deque[float] = field(default_factory=deque)


def error(status: int, category: str, message: str, **extra: Any) -> Reply:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}
    return Reply(status, json=body)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeHubSpot(FakeVendor):
    name = "hubspot"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        api_version: str = "2026-03",
        token: str = TOKEN,
        client_secret: str = CLIENT_SECRET,
        deal_id_property: str = DEAL_ID_PROPERTY,
        stages: tuple[str, ...] = DEFAULT_STAGES,
        burst_limit: int | None = None,
        burst_interval_seconds: float = 10.0,
    ) -> None:
        super().__init__(faults)
        self.api_version, self.token, self.client_secret = api_version, token, client_secret
        self.unique = {"contacts": "email", "deals": deal_id_property}
        self.pipelines = {"default": list(stages)}
        self._burst = _Burst(burst_limit, burst_interval_seconds) if burst_limit else None
        self.reset()

    def reset(self) -> None:
        """Forget every record, effect and call: one server serves a module's tests (stopping one takes 0.5 s)."""
        with self.lock:
            self.records: dict[str, dict[str, Record]] = {"contacts": {}, "deals": {}}
            self.associations: set[tuple[str, str]] = set()
            self.updates: Counter[tuple[str, str]] = Counter()
            self.stage_history: dict[str, list[str]] = {}
            self.events: list[dict[str, Any]] = []
            self.trace_ids: list[str] = []
            self._ids = itertools.count(51_000)
            self._event_ids = itertools.count(100_000)
            self.effects.clear()
            self.calls.clear()
            self.faults_injected.clear()
            self.throttled = 0
            """Requests the burst limit answered with a 429 (injected faults are counted in `faults_injected`)."""

    # -- what HubSpot checks before any route --------------------------------------------------------------------

    def authorize(self, request: Request) -> Reply | None:
        if request.header("authorization") != f"Bearer {self.token}":
            return error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        return self._throttle()

    def _throttle(self) -> Reply | None:
        if self._burst is None:
            return None
        burst, now = self._burst, time.monotonic()
        with self.lock:
            while burst.calls and now - burst.calls[0] >= burst.interval_seconds:
                burst.calls.popleft()
            if len(burst.calls) >= burst.limit:
                self.throttled += 1
                reply = Reply(
                    429,
                    json={
                        "status": "error",
                        "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT",
                        "correlationId": str(uuid.uuid4()),
                        "policyName": "TEN_SECONDLY_ROLLING",
                    },
                )
                reply.headers.update(self._limit_headers(0))
                return reply
            burst.calls.append(now)
            return None

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        assert self._burst is not None
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self._burst.interval_seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(self._burst.limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
        }

    def not_found(self, request: Request) -> Reply:
        return error(404, "OBJECT_NOT_FOUND", f"Unable to route {request.method} {request.path}.")

    def _version(self, request: Request) -> None:
        if request.params.get("version") != self.api_version:
            raise Refuse(self.not_found(request))

    def _body(self, request: Request) -> Any:
        if not (request.header("content-type") or "").startswith("application/json"):
            raise Refuse(error(415, "VALIDATION_ERROR", "Content type must be application/json."))
        body = request.json()
        if not isinstance(body, dict):
            raise Refuse(error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1, column 1."))
        return body

    # -- routes ----------------------------------------------------------------------------------------------

    @route("POST", r"/crm/objects/(?P<version>[^/]+)/(?P<kind>contacts|deals)/batch/upsert")
    def upsert(self, request: Request) -> Reply:
        self._version(request)
        kind, inputs = request.params["kind"], self._body(request).get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            raise Refuse(error(400, "VALIDATION_ERROR", "inputs must hold between 1 and 100 records."))
        traced = all(isinstance(item, dict) and item.get("objectWriteTraceId") for item in inputs)
        started, results, errors = _now(), [], []
        with self.lock:
            problems = [self._check_upsert(kind, item) for item in inputs]
            refused = next((problem for problem in problems if problem is not None), None)
            if refused is not None and not traced:
                raise Refuse(refused)  # without trace ids, one bad input refuses the whole batch
            for item, problem in zip(inputs, problems, strict=True):
                if problem is None:
                    results.append(self._apply_upsert(kind, item))
                else:
                    errors.append({**problem.json, "context": {"objectWriteTraceId": [item["objectWriteTraceId"]]}})
        answer = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        if errors:
            return Reply(207, json={**answer, "errors": errors, "numErrors": len(errors)})
        return Reply(200, json=answer)

    @route("PATCH", r"/crm/objects/(?P<version>[^/]+)/deals/(?P<record>[^/]+)")
    def update_deal(self, request: Request) -> Reply:
        self._version(request)
        properties = self._body(request).get("properties")
        with self.lock:
            record = self._find("deals", request.params["record"], request.arg("idProperty"))
            problem = self._check_properties("deals", properties, new=False, current=record)
            if problem is not None:
                raise Refuse(problem)
            assert isinstance(properties, dict)
            self._write("deals", record, properties, source="API")
            return Reply(200, json=record.public())

    @route("GET", r"/crm/objects/(?P<version>[^/]+)/deals/(?P<record>[^/]+)")
    def read_deal(self, request: Request) -> Reply:
        self._version(request)
        names = request.arg("properties")
        with self.lock:
            record = self._find("deals", request.params["record"], request.arg("idProperty"))
            shown = tuple(filter(None, names.split(","))) if names else DEFAULT_READ["deals"]
            return Reply(200, json=record.public(shown))

    @route(
        "PUT",
        r"/crm/objects/(?P<version>[^/]+)/deals/(?P<deal>\d+)/associations/default/contacts/(?P<contact>\d+)",
    )
    def associate(self, request: Request) -> Reply:
        self._version(request)
        deal, contact = request.params["deal"], request.params["contact"]
        with self.lock:
            self._find("deals", deal, None)
            self._find("contacts", contact, None)
            if (deal, contact) not in self.associations:
                self.associations.add((deal, contact))
                self.effect("association", f"{deal}->{contact}")
        spec = {"associationCategory": "HUBSPOT_DEFINED"}
        results = [
            {"from": {"id": deal}, "to": {"id": contact}, "associationSpec": {**spec, "associationTypeId": 3}},
            {"from": {"id": contact}, "to": {"id": deal}, "associationSpec": {**spec, "associationTypeId": 4}},
        ]
        return Reply(200, json={"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()})

    # -- the store -------------------------------------------------------------------------------------------

    def _check_upsert(self, kind: str, item: Any) -> Reply | None:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            return error(400, "VALIDATION_ERROR", "Each input needs an id (the unique property's value).")
        if item.get("idProperty") != self.unique[kind]:
            return error(
                400, "VALIDATION_ERROR", f"Property {item.get('idProperty')!r} is not a unique property of {kind}."
            )
        current = self._lookup(kind, item["id"])
        return self._check_properties(kind, item.get("properties"), new=current is None, current=current)

    def _check_properties(
        self, kind: str, properties: Any, *, new: bool, current: Record | None = None
    ) -> Reply | None:
        if not isinstance(properties, dict) or not all(isinstance(v, str | int | float) for v in properties.values()):
            return error(400, "VALIDATION_ERROR", "properties must be an object of property values.")
        unknown = sorted(set(properties) - PROPERTIES[kind] - {self.unique[kind]})
        if unknown:
            details = [{"message": f'Property "{n}" does not exist', "code": "PROPERTY_DOESNT_EXIST"} for n in unknown]
            return error(400, "VALIDATION_ERROR", "Property values were not valid", errors=details)
        if kind == "deals":
            return self._check_deal(properties, new=new, current=current)
        return None

    def _check_deal(self, properties: dict[str, Any], *, new: bool, current: Record | None) -> Reply | None:
        if new and not (properties.get("dealname") and properties.get("dealstage")):
            return error(400, "VALIDATION_ERROR", "A new deal needs dealname and dealstage.")
        # A stage is checked against the pipeline sent, else the one the deal is already in (HubSpot's rule).
        kept = current.properties.get("pipeline") if current is not None else None
        stage, pipeline = properties.get("dealstage"), str(properties.get("pipeline") or kept or "default")
        if pipeline not in self.pipelines:
            return error(
                400, "VALIDATION_ERROR", f"{pipeline} is not a valid pipeline.", errors=[{"code": "INVALID_OPTION"}]
            )
        if stage is not None and str(stage) not in self.pipelines[pipeline]:
            message = f"{stage} is not a valid deal stage of pipeline {pipeline}."
            return error(400, "VALIDATION_ERROR", message, errors=[{"code": "INVALID_OPTION"}])
        return None

    def _apply_upsert(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("objectWriteTraceId"):
            self.trace_ids.append(item["objectWriteTraceId"])
        value, properties = item["id"], {k: str(v) for k, v in item["properties"].items()}
        record = self._lookup(kind, value)
        if record is None:
            now = _now()
            record = Record(str(next(self._ids)), {self.unique[kind]: _unique_value(kind, value)}, now, now)
            self.records[kind][record.id] = record
            self.effect(f"{kind[:-1]}.create", _unique_value(kind, value))
            self._write(kind, record, properties, source="API")
            return {**record.public(), "new": True}
        self.updates[(kind, _unique_value(kind, value))] += 1
        self._write(kind, record, properties, source="API")
        return {**record.public(), "new": False}

    def _write(self, kind: str, record: Record, properties: dict[str, Any], *, source: str) -> None:
        stage_before = record.properties.get("dealstage")
        record.properties.update({k: str(v) for k, v in properties.items()})
        record.updated_at = _now()
        if kind == "deals":
            record.properties.setdefault("pipeline", "default")
            stage = record.properties.get("dealstage", "")
            if stage != stage_before:
                self.stage_history.setdefault(record.id, []).append(stage)
                self._event("deal.propertyChange", record.id, "dealstage", stage, source)

    def _lookup(self, kind: str, value: str) -> Record | None:
        wanted = _unique_value(kind, value)
        for record in self.records[kind].values():
            if not record.archived and record.properties.get(self.unique[kind]) == wanted:
                return record
        return None

    def _find(self, kind: str, record_id: str, id_property: str | None) -> Record:
        if id_property not in (None, "hs_object_id") and id_property != self.unique[kind]:
            raise Refuse(error(400, "VALIDATION_ERROR", f"Property {id_property!r} is not a unique property."))
        record = (
            self._lookup(kind, record_id) if id_property == self.unique[kind] else self.records[kind].get(record_id)
        )
        if record is None or record.archived:
            raise Refuse(error(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [record_id]}))
        return record

    def _event(self, subscription_type: str, object_id: str, name: str, value: str, source: str) -> None:
        self.events.append(
            {
                "eventId": next(self._event_ids),
                "subscriptionId": 2_400_001,
                "portalId": 146_000_001,
                "appId": 3_100_001,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": subscription_type,
                "attemptNumber": 0,
                "objectId": int(object_id),
                "propertyName": name,
                "propertyValue": value,
                "changeSource": source,
                "sourceId": "userId:7001" if source == "CRM_UI" else "",
            }
        )

    # -- what a salesperson does in HubSpot, and what HubSpot then sends ----------------------------------------

    def deal(self, subscription_id: str) -> Record | None:
        with self.lock:
            return self._lookup("deals", subscription_id)

    def contact(self, email: str) -> Record | None:
        with self.lock:
            return self._lookup("contacts", email)

    def move_in_hubspot(self, subscription_id: str, stage: str) -> None:
        """A salesperson drags the deal to another stage (possibly one added in HubSpot: no check)."""
        with self.lock:
            record = self._lookup("deals", subscription_id)
            assert record is not None, subscription_id
            self._write("deals", record, {"dealstage": stage}, source="CRM_UI")

    def archive_deal(self, subscription_id: str) -> None:
        with self.lock:
            record = self._lookup("deals", subscription_id)
            assert record is not None, subscription_id
            record.archived = True
            self._event("deal.deletion", record.id, "", "", "CRM_UI")

    def take_events(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.events = self.events, []
            return events

    def webhook(
        self,
        uri: str,
        events: list[dict[str, Any]],
        *,
        timestamp_ms: int | None = None,
        method: str = "POST",
        secret: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A delivery as HubSpot makes it to `uri`: its headers (signature v3) and JSON body; `secret` stands for
        another app's client secret."""
        body = json.dumps(events, separators=(",", ":")).encode()
        timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
        signed_uri = uri
        for encoded, plain in _SIGNED_DECODING.items():
            signed_uri = signed_uri.replace(encoded, plain).replace(encoded.lower(), plain)
        source = f"{method}{signed_uri}".encode() + body + timestamp.encode()
        digest = hmac.new((secret or self.client_secret).encode(), source, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature-Version": "v3",
        }
        return headers, body

    def deliver_webhook(self, uri: str, events: list[dict[str, Any]]) -> Any:
        headers, body = self.webhook(uri, events)
        return self.deliver(uri, body, headers)

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        # Headers and body leave in two writes; without TCP_NODELAY the body waits for the client's delayed ACK
        # (about 40 ms on loopback), which would dwarf every latency the tests mean to measure.
        with contextlib.suppress(OSError):
            handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._send(handler, reply)

    def _handle(self, request: Request) -> Reply:
        reply = super()._handle(request)
        if self._burst is not None and reply.status != 429:
            with self.lock:
                remaining = max(0, self._burst.limit - len(self._burst.calls))
            reply.headers.update(self._limit_headers(remaining))
        return reply


def _unique_value(kind: str, value: str) -> str:
    # HubSpot stores emails in lower case and matches them without case.
    return value.strip().lower() if kind == "contacts" else value
