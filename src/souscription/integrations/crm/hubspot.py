"""The HubSpot adapter of the CRM port: contacts, deals in one pipeline, their association, the deal's stage.

Calls (date-versioned CRM paths by default, `/crm/objects/2026-03/...`; `api_version="v3"` gives the numeric
paths, which HubSpot retires in 2027), authenticated by a private app's token (`Authorization: Bearer`):

- `POST .../contacts/batch/upsert`, `idProperty: email`: the customer's contact;
- `POST .../deals/batch/upsert`, `idProperty: souscription_subscription_id` (a custom deal property with unique
  values, created once in the account): the dossier's deal;
- `PUT .../deals/{id}/associations/default/contacts/{id}`: the deal's default association to its contact;
- `PATCH .../deals/{subscription id}?idProperty=...`: the deal's stage when the dossier's changes;
- `GET .../deals/{subscription id}?idProperty=...&properties=dealstage,...`: the deal's stage, read back.

HubSpot has no idempotency header on these calls; every write is idempotent by what it writes: an upsert by a
unique property value updates the record it created the first time, a `PUT` of an association or a `PATCH` of a
stage sets the same value again. On upserts the caller's `key` travels as `objectWriteTraceId`, which ties the
write to the dossier's step in HubSpot's logs and its multi-status (207) errors; a `PATCH` takes properties only."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from souscription.configuration import VendorAccess
from souscription.integrations.crm.hubspot_states import DealPipeline, UnknownDealStage, configured_pipeline
from souscription.integrations.crm.hubspot_webhooks import HubSpotEvent, deal_moves, verify_webhook
from souscription.integrations.crm.port import (
    CrmContact,
    CrmDeal,
    CrmDealMoved,
    CustomerContact,
    DossierDeal,
    check_stage,
    check_subscription_id,
)
from souscription.integrations.errors import VendorRejected
from souscription.integrations.http import VendorClient
from souscription.integrations.metrics import Metrics
from souscription.integrations.resilience import CircuitBreaker, FailureKind, RetryPolicy

VENDOR = "hubspot"
DEFAULT_API_VERSION = "2026-03"
DEAL_ID_PROPERTY = "souscription_subscription_id"
"""The custom deal property (single-line text, unique values) that keys a dossier's deal."""
PRODUCT_PROPERTY = "souscription_product"
STAGE_PROPERTY = "souscription_stage"
"""Our dossier stage on the deal, so a person in HubSpot sees it and a webhook echoing our own move is recognised."""
_VERSION = re.compile(r"^(v3|\d{4}-\d{2})$")
_READ_PROPERTIES = ("dealstage", "pipeline", "dealname", "amount", DEAL_ID_PROPERTY, STAGE_PROPERTY)


class HubSpotPaths:
    """The CRM paths of one API version: `2026-03` style (`/crm/objects/<version>/...`) or the numeric `v3`."""

    def __init__(self, version: str) -> None:
        if not _VERSION.match(version):
            raise ValueError(f"Version d'API HubSpot « {version} » inconnue : AAAA-MM (2026-03) ou v3.")
        self.version = version

    def objects(self, object_type: str) -> str:
        if self.version == "v3":
            return f"/crm/v3/objects/{object_type}"
        return f"/crm/objects/{self.version}/{object_type}"

    def record(self, object_type: str, record_id: str) -> str:
        return f"{self.objects(object_type)}/{quote(record_id, safe='')}"

    def upsert(self, object_type: str) -> str:
        return f"{self.objects(object_type)}/batch/upsert"

    def default_association(self, from_type: str, from_id: str, to_type: str, to_id: str) -> str:
        # In the numeric scheme, default associations exist only in the v4 associations API.
        base = f"/crm/v4/objects/{from_type}" if self.version == "v3" else self.objects(from_type)
        return f"{base}/{quote(from_id, safe='')}/associations/default/{to_type}/{quote(to_id, safe='')}"


def amount_text(cents: int) -> str:
    """HubSpot's `amount` is a decimal number in the account's currency: 123456 cents is "1234.56"."""
    euros, rest = divmod(cents, 100)
    return f"{euros}.{rest:02d}"


def contact_input(contact: CustomerContact, key: str) -> dict[str, Any]:
    properties = {
        "email": contact.email,
        "firstname": contact.first_name.strip(),
        "lastname": contact.last_name.strip(),
    }
    if contact.phone.strip():
        properties["phone"] = contact.phone.strip()
    if contact.country.strip():
        properties["country"] = contact.country.strip().upper()
    return {"idProperty": "email", "id": contact.email, "properties": properties, "objectWriteTraceId": key}


def deal_input(deal: DossierDeal, pipeline: DealPipeline, key: str, id_property: str) -> dict[str, Any]:
    return {
        "idProperty": id_property,
        "id": deal.subscription_id,
        "properties": {
            "dealname": f"{deal.subscription_id} · {deal.product}",
            "pipeline": pipeline.pipeline_id,
            "dealstage": pipeline.stage_id_for(deal.stage),
            "amount": amount_text(deal.amount_cents),
            PRODUCT_PROPERTY: deal.product,
            STAGE_PROPERTY: deal.stage,
        },
        "objectWriteTraceId": key,
    }


def error_code(response: httpx.Response) -> str:
    """HubSpot's error `category` (`VALIDATION_ERROR`, `OBJECT_NOT_FOUND`...), or `errorType` on a 429."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("category") or body.get("errorType") or "")


def pipeline_of(access: VendorAccess) -> DealPipeline:
    """The pipeline the configuration gives (`SOUSCRIPTION_HUBSPOT_PIPELINE`, `_STAGES`), else the default one;
    `ValueError` naming the settings when it cannot hold the dossiers' deals."""
    options = dict(access.options)
    stages = {name.removeprefix("stage."): value for name, value in options.items() if name.startswith("stage.")}
    try:
        return configured_pipeline(options.get("pipeline", ""), stages)
    except ValueError as error:
        raise ValueError(f"HubSpot : SOUSCRIPTION_HUBSPOT_PIPELINE / SOUSCRIPTION_HUBSPOT_STAGES : {error}") from error


class HubSpotCrm:
    """`CrmPort` on HubSpot. Built from `VendorAccess` (`SOUSCRIPTION_HUBSPOT_URL`, `_TOKEN`, `_WEBHOOK_SECRET`)."""

    def __init__(
        self,
        access: VendorAccess,
        *,
        pipeline: DealPipeline | None = None,
        api_version: str = DEFAULT_API_VERSION,
        deal_id_property: str = DEAL_ID_PROPERTY,
        timeout: float | None = None,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: Metrics | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not access.url or not access.token:
            raise ValueError("HubSpot : SOUSCRIPTION_HUBSPOT_URL et SOUSCRIPTION_HUBSPOT_TOKEN sont obligatoires.")
        self.pipeline = pipeline or pipeline_of(access)
        self.paths, self.deal_id_property = HubSpotPaths(api_version), deal_id_property
        self.webhook_secret = access.webhook_secret
        token = access.token
        overrides: dict[str, Any] = {
            name: value
            for name, value in (
                ("timeout", timeout),
                ("policy", policy),
                ("breaker", breaker),
                ("metrics", metrics),
                ("transport", transport),
                ("sleep", sleep),
            )
            if value is not None
        }
        self._client = VendorClient(
            vendor=VENDOR,
            base_url=access.url,
            auth=lambda: {"Authorization": f"Bearer {token}"},
            error_code=error_code,
            **overrides,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HubSpotCrm:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the port -------------------------------------------------------------------------------------------

    def upsert_contact(self, contact: CustomerContact, *, key: str) -> CrmContact:
        record = self._upsert("contacts", contact_input(contact, key), operation="upsert_contact")
        return CrmContact(crm_id=str(record["id"]), email=contact.email, created=bool(record.get("new")))

    def upsert_deal(self, deal: DossierDeal, *, contact_crm_id: str, key: str) -> CrmDeal:
        payload = deal_input(deal, self.pipeline, key, self.deal_id_property)
        record = self._upsert("deals", payload, operation="upsert_deal")
        deal_id = str(record["id"])
        self._client.request(
            "PUT",
            self.paths.default_association("deals", deal_id, "contacts", contact_crm_id),
            operation="associate_deal_contact",
        )
        return self._deal(
            record, operation="upsert_deal", subscription_id=deal.subscription_id, created=bool(record.get("new"))
        )

    def move_deal(self, subscription_id: str, stage: str, *, key: str) -> CrmDeal:
        """`key` is not sent: setting a stage is idempotent by itself, and HubSpot's PATCH takes properties only."""
        check_subscription_id(subscription_id)
        check_stage(stage)
        # The pipeline goes along: a deal made before the configuration changed pipeline moves into the new one
        # (HubSpot checks a stage against the pipeline sent, else the deal's own).
        properties = {
            "pipeline": self.pipeline.pipeline_id,
            "dealstage": self.pipeline.stage_id_for(stage),
            STAGE_PROPERTY: stage,
        }
        response = self._client.request(
            "PATCH",
            self.paths.record("deals", subscription_id),
            operation="move_deal",
            params={"idProperty": self.deal_id_property},
            json={"properties": properties},
        )
        return self._deal(_object(response, "move_deal"), operation="move_deal", subscription_id=subscription_id)

    def read_deal(self, subscription_id: str) -> CrmDeal | None:
        check_subscription_id(subscription_id)
        return self._read(subscription_id, {"idProperty": self.deal_id_property}, operation="read_deal")

    # -- beyond the port: what HubSpot's webhooks need --------------------------------------------------------

    def read_deal_by_crm_id(self, crm_deal_id: str) -> CrmDeal | None:
        """The deal a webhook names by HubSpot's id, with our subscription id read from it."""
        return self._read(crm_deal_id, {}, operation="read_deal")

    def deal_moves(self, events: tuple[HubSpotEvent, ...]) -> tuple[CrmDealMoved, ...]:
        """The stage changes among verified webhook events (`hubspot_webhooks.verify_webhook`)."""
        return deal_moves(events, self.pipeline)

    def webhook_moves(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime, method: str, uri: str
    ) -> tuple[CrmDealMoved, ...]:
        """A delivery verified with the app's client secret (`SOUSCRIPTION_HUBSPOT_WEBHOOK_SECRET`), as deal moves;
        `WebhookRejected` when it must not be trusted. `uri` is the full URI HubSpot called."""
        events = verify_webhook(headers, body, self.webhook_secret, now, method=method, uri=uri)
        return deal_moves(events, self.pipeline)

    # -- the calls ------------------------------------------------------------------------------------------

    def _upsert(self, object_type: str, item: dict[str, Any], *, operation: str) -> Mapping[str, Any]:
        response = self._client.request(
            "POST", self.paths.upsert(object_type), operation=operation, json={"inputs": [item]}
        )
        body = _json(response, operation)
        errors, results = body.get("errors") or [], body.get("results") or []
        if errors or len(results) != 1 or not isinstance(results[0], dict):
            # A 207 (multi-status) carries the refusal in `errors`; the call itself succeeded.
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            raise _rejected(operation, response.status_code, str(first.get("category") or "unexpected_answer"))
        record: Mapping[str, Any] = results[0]
        return record

    def _read(self, record_id: str, params: Mapping[str, str], *, operation: str) -> CrmDeal | None:
        response = self._client.request(
            "GET",
            self.paths.record("deals", record_id),
            operation=operation,
            params={**params, "properties": ",".join(_READ_PROPERTIES)},
            accept=(404,),
        )
        if response.status_code == 404:
            return None
        return self._deal(_object(response, operation), operation=operation)

    def _deal(
        self, record: Mapping[str, Any], *, operation: str, subscription_id: str = "", created: bool = False
    ) -> CrmDeal:
        """`subscription_id` when the caller knows it: a write's answer need not echo the unique property."""
        properties = record.get("properties") or {}
        stage_id = str(properties.get("dealstage") or "")
        try:
            status = self.pipeline.status_of(stage_id, pipeline_id=properties.get("pipeline") or None)
        except UnknownDealStage:
            raise _rejected(operation, None, UnknownDealStage.code) from None
        return CrmDeal(
            crm_id=str(record.get("id") or ""),
            subscription_id=subscription_id or str(properties.get(self.deal_id_property) or ""),
            crm_stage=stage_id,
            crm_status=status,
            created=created,
        )


def _json(response: httpx.Response, operation: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _rejected(operation, response.status_code, "unexpected_answer")
    return body


def _object(response: httpx.Response, operation: str) -> dict[str, Any]:
    body = _json(response, operation)
    if not body.get("id") or not isinstance(body.get("properties"), dict):
        raise _rejected(operation, response.status_code, "unexpected_answer")
    return body


def _rejected(operation: str, status: int | None, code: str) -> VendorRejected:
    messages = {
        UnknownDealStage.code: "l'étape HubSpot de l'affaire n'est pas dans la table configurée",
        "unexpected_answer": "réponse HubSpot inattendue",
    }
    return VendorRejected(
        VENDOR,
        operation,
        FailureKind.REJECTED,
        messages.get(code, "le fournisseur refuse la requête"),
        status=status,
        vendor_code=code,
    )
