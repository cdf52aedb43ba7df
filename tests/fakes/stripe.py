"""A fake Stripe for SEPA Direct Debit: customers, SetupIntents with their payment methods and mandates,
PaymentIntents with their charges, refunds, and signed webhook events, as Stripe's API v1 shapes them.

What it enforces, as Stripe does (docs.stripe.com/api): `Authorization: Bearer sk_...` (or Basic) else 401; POST
bodies form-encoded with bracket notation; unknown parameters (`parameter_unknown`) and missing ones
(`parameter_missing`) refused with 400 and `{"error": {"type", "code", "message", "param"}}`; an unknown object in
the path is a 404 `resource_missing`. Idempotency as Stripe documents it (docs.stripe.com/error-low-level): the same
key and the same parameters replay the first answer with `Idempotent-Replayed: true`, 4xx included; the same key
with other parameters is a 400 `idempotency_error`; a request refused by validation is not remembered.

SEPA is slow: a debit is `processing` after its creation; `advance(payment_id)` walks it to what its IBAN says
(Stripe's test IBANs, docs.stripe.com/testing#sepa-direct-debit) and emits the event Stripe would send. Events are
signed as Stripe signs them: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body" with the whsec secret>`.
Side effects are counted by idempotency key: `customer.create`, `setup_intent.create`, `payment_intent.create`,
`refund.create`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import httpx

from tests.fakes.base import FakeVendor, FaultPlan, Refuse, Reply, Request, route

SECRET_KEY = "sk_test_fake_4eC39HqLyjWDarjtT1zdp7dc"
WEBHOOK_SECRET = "whsec_fake_0b7c4a1e9d2f8a6b3c5e7d9f1a2b4c6d"
API_VERSION = "2025-09-30.clover"

SUCCEEDS, FAILS, DISPUTED = "succeeds", "fails", "disputed"
INSUFFICIENT_FUNDS, WEEKLY_VOLUME, WEEKLY_TRANSACTIONS = "insufficient_funds", "weekly_volume", "weekly_transactions"
TEST_IBANS = {
    # Stripe's SEPA test numbers for Germany and France; the "delayed" ones take three minutes at Stripe, here as
    # long as the test waits before `advance`.
    "DE89370400440532013000": SUCCEEDS,
    "DE08370400440532013003": SUCCEEDS,
    "DE62370400440532013001": FAILS,
    "DE78370400440532013004": FAILS,
    "DE35370400440532013002": DISPUTED,
    "DE65370400440000343434": WEEKLY_VOLUME,
    "DE27370400440000121212": WEEKLY_TRANSACTIONS,
    "DE65370400440002222227": INSUFFICIENT_FUNDS,
    "FR1420041010050500013M02606": SUCCEEDS,
    "FR3020041010050500013M02609": SUCCEEDS,
    "FR8420041010050500013M02607": FAILS,
    "FR7920041010050500013M02600": FAILS,
    "FR5720041010050500013M02608": DISPUTED,
    "FR9720041010050000000343434": WEEKLY_VOLUME,
    "FR5920041010050000000121212": WEEKLY_TRANSACTIONS,
    "FR9720041010050000002222227": INSUFFICIENT_FUNDS,
}
"""Any other valid IBAN succeeds."""
FAILURE_CODES = {
    # Stripe's test page names the codes of the last three; for the plain failure it says only that the intent
    # goes back to `requires_payment_method`: the fake uses Stripe's generic code for a failed attempt.
    FAILS: "payment_intent_payment_attempt_failed",
    INSUFFICIENT_FUNDS: "insufficient_funds",
    WEEKLY_VOLUME: "charge_exceeds_source_limit",
    WEEKLY_TRANSACTIONS: "charge_exceeds_weekly_limit",
}

ALLOWED = {
    "/v1/customers": {"name", "email", "metadata", "description", "phone", "preferred_locales", "expand"},
    "/v1/setup_intents": {
        "customer", "payment_method_types", "usage", "confirm", "payment_method", "payment_method_data",
        "mandate_data", "metadata", "description", "expand",
    },
    "/v1/payment_intents": {
        "amount", "currency", "customer", "payment_method", "mandate", "payment_method_types", "off_session",
        "confirm", "description", "metadata", "statement_descriptor", "expand",
    },
    "/v1/refunds": {"payment_intent", "amount", "reason", "metadata", "expand"},
}  # fmt: skip
"""The parameters this fake knows of each creation (a subset of Stripe's; the contract test checks them against
Stripe's OpenAPI document)."""


@dataclass(frozen=True)
class Exchange:
    """One request the fake answered (faults aside), for the contract test's checks against the OpenAPI document."""

    method: str
    path: str
    fields: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    status: int
    body: Any


def error(status: int, kind: str, message: str, *, code: str | None = None, param: str | None = None) -> Reply:
    body: dict[str, Any] = {"type": kind, "message": message}
    if code:
        body.update(code=code, doc_url=f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}")
    if param:
        body["param"] = param
    return Reply(status, json={"error": body})


def invalid(message: str, *, code: str | None = None, param: str | None = None, status: int = 400) -> Refuse:
    """A refusal of the request as sent: Stripe does not remember it under the idempotency key."""
    return Refuse(error(status, "invalid_request_error", message, code=code, param=param))


def missing(param: str) -> Refuse:
    return invalid(f"Missing required param: {param}.", code="parameter_missing", param=param)


def parse_form(body: bytes) -> dict[str, Any]:
    """`a[b][c]=v&l[]=x` into `{"a": {"b": {"c": "v"}}, "l": ["x"]}`, as Stripe reads its form bodies."""
    root: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        head = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", name)
        if head is None:
            raise invalid(f"Invalid parameter name: {name}")
        path = [head[1], *re.findall(r"\[([^\[\]]*)\]", head[2])]
        node: Any = root
        for part, following in itertools.zip_longest(path, path[1:]):
            if following is None:
                if part == "" and isinstance(node, list):
                    node.append(value)
                elif isinstance(node, dict) and part not in node:
                    node[part] = value
                else:
                    raise invalid(f"Invalid array or hash: {name}", param=head[1])
                break
            if not isinstance(node, dict):
                raise invalid(f"Invalid hash: {name}", param=head[1])
            node = node.setdefault(part, [] if following == "" else {})
    return root


def sign(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class FakeStripe(FakeVendor):
    name = "stripe"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        clock: Callable[[], float] = time.time,
        mandate_status: str = "active",
        webhook_url: str | None = None,
    ) -> None:
        super().__init__(faults)
        self.clock, self.mandate_status, self.webhook_url = clock, mandate_status, webhook_url
        self.in_flight: set[str] = set()
        """Keys whose first request is still running at Stripe: another request with one of them gets a 409."""
        self.objects: dict[str, dict[str, Any]] = {}
        self.ibans: dict[str, str] = {}
        self.intent_mandates: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self.delivered = 0
        self.exchanges: list[Exchange] = []
        self._replies: dict[str, tuple[tuple[Any, ...], Reply]] = {}
        self._ids = itertools.count(1)

    # -- the HTTP layer --------------------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Reply | None:
        scheme, _, credential = (request.header("authorization") or "").partition(" ")
        if scheme == "Basic":
            credential = base64.b64decode(credential + "==").decode(errors="replace").partition(":")[0]
        if not credential:
            return error(401, "invalid_request_error", "You did not provide an API key.")
        if scheme not in ("Bearer", "Basic") or not hmac.compare_digest(credential, SECRET_KEY):
            return error(401, "invalid_request_error", f"Invalid API Key provided: {credential[:8]}****")
        return None

    def _handle(self, request: Request) -> Reply:
        reply = super()._handle(request)
        fields = tuple(parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True))
        query = tuple((name, value) for name, values in request.query.items() for value in values)
        with self.lock:
            self.exchanges.append(Exchange(request.method, request.path, fields, query, reply.status, reply.json))
        return reply

    def not_found(self, request: Request) -> Reply:
        return error(404, "invalid_request_error", f"Unrecognized request URL ({request.method}: {request.path}).")

    def _create(self, request: Request, handle: Callable[[dict[str, Any], str], Reply]) -> Reply:
        """Stripe's order: the idempotency layer first (a replay, or a key reused with other parameters), then the
        request's validation (a refusal is not remembered), then the effect, whose answer is remembered."""
        key = request.header("idempotency-key") or ""
        if "application/x-www-form-urlencoded" not in (request.header("content-type") or ""):
            raise invalid("The request body must be application/x-www-form-urlencoded.")
        fingerprint = (request.method, request.path, tuple(sorted(parse_qsl(request.body.decode()))))
        with self.lock:
            if key in self.in_flight:
                message = "There is currently another in-progress request using this idempotent key. Try again later."
                conflict = error(409, "invalid_request_error", message, code="idempotency_key_in_use")
                return replace(conflict, headers={"Stripe-Should-Retry": "true"})
            known = self._replies.get(key) if key else None
            if known is not None and known[0] != fingerprint:
                return error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                )
            if known is not None:
                return replace(known[1], headers={**known[1].headers, "Idempotent-Replayed": "true"})
            params = parse_form(request.body)
            unknown = sorted(set(params) - ALLOWED[request.path])
            if unknown:
                raise invalid(f"Received unknown parameter: {unknown[0]}", code="parameter_unknown", param=unknown[0])
            reply = handle(params, key)
            if key:
                self._replies[key] = (fingerprint, reply)
            return reply

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):012d}"

    def _now(self) -> int:
        return int(self.clock())

    def _get(self, object_id: str, kind: str, param: str, *, status: int = 400) -> dict[str, Any]:
        found = self.objects.get(object_id)
        if found is None or found["object"] != kind:
            raise invalid(f"No such {kind}: '{object_id}'", code="resource_missing", param=param, status=status)
        return found

    # -- customers -------------------------------------------------------------------------------------------------

    @route("POST", r"/v1/customers")
    def create_customer(self, request: Request) -> Reply:
        def handle(params: dict[str, Any], key: str) -> Reply:
            customer = {
                "id": self._new_id("cus"), "object": "customer", "address": None, "balance": 0,
                "created": self._now(), "currency": None, "default_source": None, "delinquent": False,
                "description": params.get("description"), "email": params.get("email"), "livemode": False,
                "metadata": _metadata(params), "name": params.get("name"), "phone": params.get("phone"),
                "preferred_locales": params.get("preferred_locales", []), "shipping": None, "tax_exempt": "none",
            }  # fmt: skip
            self.objects[customer["id"]] = customer
            self.effect("customer.create", key)
            return Reply(200, json=customer)

        return self._create(request, handle)

    @route("GET", r"/v1/(?P<kind>customers|setup_intents|mandates|refunds)/(?P<id>[^/]+)")
    def retrieve(self, request: Request) -> Reply:
        kind = {"customers": "customer", "setup_intents": "setup_intent", "mandates": "mandate", "refunds": "refund"}
        with self.lock:
            found = self._get(request.params["id"], kind[request.params["kind"]], "id", status=404)
            return Reply(200, json=copy.deepcopy(found))

    # -- mandates: the SetupIntent saves the IBAN and creates the mandate ------------------------------------------

    @route("POST", r"/v1/setup_intents")
    def create_setup_intent(self, request: Request) -> Reply:
        def handle(params: dict[str, Any], key: str) -> Reply:
            customer = self._get(_required(params, "customer"), "customer", "customer")
            if "sepa_debit" not in params.get("payment_method_types", []):
                raise invalid("This fake sets up sepa_debit only.", param="payment_method_types")
            usage = params.get("usage", "off_session")
            _one_of(usage, ("off_session", "on_session"), "usage")
            if _boolean(params.get("confirm", "false"), "confirm") is not True:
                raise invalid("This fake creates SetupIntents confirmed (confirm=true).", param="confirm")
            method = self._payment_method(params.get("payment_method_data"), customer["id"])
            mandate = self._mandate(params.get("mandate_data"), method["id"], customer["id"])
            intent = {
                "id": self._new_id("seti"), "object": "setup_intent", "application": None,
                "cancellation_reason": None, "created": self._now(), "customer": customer["id"],
                "description": params.get("description"), "last_setup_error": None, "latest_attempt": None,
                "livemode": False, "mandate": mandate["id"], "metadata": _metadata(params), "next_action": None,
                "on_behalf_of": None, "payment_method": method["id"], "payment_method_types": ["sepa_debit"],
                "single_use_mandate": None, "status": "succeeded", "usage": usage,
            }  # fmt: skip
            intent["client_secret"] = f"{intent['id']}_secret_fake"
            for created in (method, mandate, intent):
                self.objects[created["id"]] = created
            self.effect("setup_intent.create", key)
            self._emit("setup_intent.succeeded", intent, key)
            return Reply(200, json=copy.deepcopy(intent))

        return self._create(request, handle)

    def _payment_method(self, data: Any, customer_id: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise missing("payment_method_data")
        if data.get("type") != "sepa_debit":
            raise invalid("This fake accepts sepa_debit only.", param="payment_method_data[type]")
        iban = re.sub(r"\s", "", str((data.get("sepa_debit") or {}).get("iban") or "")).upper()
        if not iban:
            raise missing("payment_method_data[sepa_debit][iban]")
        if not _iban_checks(iban):
            param = "payment_method_data[sepa_debit][iban]"
            raise invalid("The IBAN you provided is invalid.", code="payment_method_invalid_parameter", param=param)
        billing = data.get("billing_details") or {}
        for name in ("name", "email"):  # SEPA Direct Debit requires both (docs.stripe.com/payments/sepa-debit)
            if not billing.get(name):
                raise missing(f"payment_method_data[billing_details][{name}]")
        method_id = self._new_id("pm")
        self.ibans[method_id] = iban
        return {
            "id": method_id, "object": "payment_method", "created": self._now(), "customer": customer_id,
            "billing_details": {"address": None, "email": billing["email"], "name": billing["name"], "phone": None},
            "livemode": False, "metadata": {}, "type": "sepa_debit",
            "sepa_debit": {"bank_code": iban[4:12], "branch_code": "", "country": iban[:2], "generated_from": None,
                           "fingerprint": hashlib.sha256(iban.encode()).hexdigest()[:16], "last4": iban[-4:]},
        }  # fmt: skip

    def _mandate(self, data: Any, method_id: str, customer_id: str) -> dict[str, Any]:
        acceptance = data.get("customer_acceptance") if isinstance(data, dict) else None
        if not isinstance(acceptance, dict) or not acceptance.get("type"):
            raise missing("mandate_data[customer_acceptance][type]")
        _one_of(acceptance["type"], ("online", "offline"), "mandate_data[customer_acceptance][type]")
        accepted: dict[str, Any] = {"type": acceptance["type"]}
        accepted["accepted_at"] = _integer(acceptance.get("accepted_at", str(self._now())), "accepted_at")
        if acceptance["type"] == "online":
            online = acceptance.get("online") or {}
            for name in ("ip_address", "user_agent"):
                if not online.get(name):
                    raise missing(f"mandate_data[customer_acceptance][online][{name}]")
            accepted["online"] = {"ip_address": online["ip_address"], "user_agent": online["user_agent"]}
        else:
            accepted["offline"] = {}
        mandate_id = self._new_id("mandate")
        return {
            "id": mandate_id, "object": "mandate", "customer_acceptance": accepted, "livemode": False,
            "multi_use": {}, "payment_method": method_id, "status": self.mandate_status, "type": "multi_use",
            "payment_method_details": {"type": "sepa_debit", "sepa_debit": {
                "reference": f"FAKE{mandate_id[-12:]}", "url": f"https://fake.stripe.test/mandates/{mandate_id}"}},
        }  # fmt: skip

    def update_mandate(self, mandate_id: str, status: str) -> dict[str, Any]:
        """The payer's bank revokes the mandate (inactive), or a pending one becomes active: `mandate.updated`."""
        with self.lock:
            mandate = self.objects[mandate_id]
            mandate["status"] = status
            event = self._emit("mandate.updated", mandate)
        self._publish()
        return event

    # -- payments --------------------------------------------------------------------------------------------------

    @route("POST", r"/v1/payment_intents")
    def create_payment_intent(self, request: Request) -> Reply:
        def handle(params: dict[str, Any], key: str) -> Reply:
            amount = _integer(_required(params, "amount"), "amount")
            currency = _required(params, "currency")
            if currency != "eur":
                raise invalid("sepa_debit is eur only.", code="payment_intent_invalid_parameter", param="currency")
            if amount < 50:
                raise invalid("Amount must be at least €0.50 eur", code="amount_too_small", param="amount")
            confirm = _boolean(params.get("confirm", "false"), "confirm")
            if "off_session" in params and not confirm:
                raise invalid("off_session can only be used with confirm=true.", param="off_session")
            if not confirm or "sepa_debit" not in params.get("payment_method_types", []):
                raise invalid("This fake creates sepa_debit PaymentIntents confirmed (confirm=true).", param="confirm")
            customer = self._get(_required(params, "customer"), "customer", "customer")
            method = self._get(_required(params, "payment_method"), "payment_method", "payment_method")
            if method["customer"] != customer["id"]:
                raise invalid("The PaymentMethod is not attached to this customer.", param="payment_method")
            mandate = self._mandate_of(method["id"], params.get("mandate"))
            if mandate is None or mandate["status"] != "active":
                message = "The provided mandate is invalid and can not be used for the payment intent."
                return error(400, "invalid_request_error", message, code="payment_intent_mandate_invalid")
            intent = self._intent(params, amount, customer["id"], method)
            self.intent_mandates[intent["id"]] = mandate["id"]
            self.effect("payment_intent.create", key)
            outcome = TEST_IBANS.get(self.ibans[method["id"]], SUCCEEDS)
            if outcome in (WEEKLY_VOLUME, WEEKLY_TRANSACTIONS):
                self._fail(intent, outcome, key)
                body = error(402, "card_error", "The payment could not be processed.", code=FAILURE_CODES[outcome])
                body.json["error"]["payment_intent"] = copy.deepcopy(intent)
                return body
            self._emit("payment_intent.processing", intent, key)
            return Reply(200, json=copy.deepcopy(intent))

        return self._create(request, handle)

    def _mandate_of(self, method_id: str, named: str | None) -> dict[str, Any] | None:
        mandates = [m for m in self.objects.values() if m["object"] == "mandate" and m["payment_method"] == method_id]
        if named is not None:
            mandates = [m for m in mandates if m["id"] == named]
        return mandates[-1] if mandates else None

    def _intent(self, params: dict[str, Any], amount: int, customer_id: str, method: dict[str, Any]) -> dict[str, Any]:
        intent_id, now = self._new_id("pi"), self._now()
        charge = {
            "id": self._new_id("py"), "object": "charge", "amount": amount, "amount_captured": 0,
            "amount_refunded": 0, "billing_details": method["billing_details"], "captured": False, "created": now,
            "currency": "eur", "customer": customer_id, "description": params.get("description"), "disputed": False,
            "failure_code": None, "failure_message": None, "livemode": False, "metadata": _metadata(params),
            "paid": False, "payment_intent": intent_id, "payment_method": method["id"], "refunded": False,
            "status": "pending",
        }  # fmt: skip
        intent = {
            "id": intent_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": 0, "application": None, "application_fee_amount": None, "canceled_at": None,
            "cancellation_reason": None, "capture_method": "automatic", "client_secret": f"{intent_id}_secret_fake",
            "confirmation_method": "automatic", "created": now, "currency": "eur", "customer": customer_id,
            "description": params.get("description"), "last_payment_error": None, "latest_charge": charge["id"],
            "livemode": False, "metadata": _metadata(params), "next_action": None, "on_behalf_of": None,
            "payment_method": method["id"], "payment_method_types": ["sepa_debit"], "processing": None,
            "receipt_email": None, "setup_future_usage": None, "shipping": None, "statement_descriptor": None,
            "statement_descriptor_suffix": None, "status": "processing", "transfer_data": None, "transfer_group": None,
        }  # fmt: skip
        self.objects[charge["id"]], self.objects[intent_id] = charge, intent
        return intent

    @route("GET", r"/v1/payment_intents/(?P<intent>[^/]+)")
    def retrieve_payment_intent(self, request: Request) -> Reply:
        with self.lock:
            intent = copy.deepcopy(self._get(request.params["intent"], "payment_intent", "intent", status=404))
            if "latest_charge" in request.query.get("expand[]", []):
                intent["latest_charge"] = copy.deepcopy(self.objects[intent["latest_charge"]])
            return Reply(200, json=intent)

    def advance(self, payment_id: str, outcome: str | None = None) -> list[dict[str, Any]]:
        """SEPA's answer, days later: the processing debit succeeds or fails as its IBAN says (or as `outcome`
        says); the events Stripe would send are emitted, and delivered when `webhook_url` is set."""
        with self.lock:
            intent = self.objects[payment_id]
            if intent["status"] != "processing":
                raise AssertionError(f"{payment_id} is {intent['status']}, not processing")
            method = self.objects[intent["payment_method"]]
            outcome = outcome or TEST_IBANS.get(self.ibans[method["id"]], SUCCEEDS)
            before = len(self.events)
            if outcome in (SUCCEEDS, DISPUTED):
                self._succeed(intent, disputed=outcome == DISPUTED)
            else:
                self._fail(intent, outcome, None)
            events = self.events[before:]
        self._publish()
        return events

    def _succeed(self, intent: dict[str, Any], *, disputed: bool) -> None:
        charge = self.objects[intent["latest_charge"]]
        charge.update(status="succeeded", paid=True, captured=True, amount_captured=charge["amount"])
        intent.update(status="succeeded", amount_received=intent["amount"])
        self._emit("payment_intent.succeeded", intent)
        if disputed:
            charge["disputed"] = True
            dispute = {
                "id": self._new_id("du"), "object": "dispute", "amount": charge["amount"], "charge": charge["id"],
                "created": self._now(), "currency": "eur", "livemode": False, "payment_intent": intent["id"],
                "reason": "general", "status": "needs_response",
            }  # fmt: skip
            self._emit("charge.dispute.created", dispute)

    def _fail(self, intent: dict[str, Any], outcome: str, key: str | None) -> None:
        code = FAILURE_CODES.get(outcome, FAILURE_CODES[FAILS])
        charge = self.objects[intent["latest_charge"]]
        charge.update(status="failed", failure_code=code, failure_message="The payment could not be processed.")
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            "type": "card_error", "code": code, "message": "The payment could not be processed.",
            "payment_method": copy.deepcopy(self.objects[intent["payment_method"]]),
        }  # fmt: skip
        self._emit("payment_intent.payment_failed", intent, key)

    # -- refunds (compensation) ------------------------------------------------------------------------------------

    @route("POST", r"/v1/refunds")
    def create_refund(self, request: Request) -> Reply:
        def handle(params: dict[str, Any], key: str) -> Reply:
            intent = self._get(_required(params, "payment_intent"), "payment_intent", "payment_intent")
            if "reason" in params:
                _one_of(params["reason"], ("duplicate", "fraudulent", "requested_by_customer"), "reason")
            charge = self.objects[intent["latest_charge"]]
            if intent["status"] != "succeeded":
                message = f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund."
                return error(400, "invalid_request_error", message, code="charge_not_refundable")
            left = charge["amount"] - charge["amount_refunded"]
            amount = _integer(params.get("amount", str(left)), "amount")
            if left == 0:
                message = f"Charge {charge['id']} has already been refunded."
                return error(400, "invalid_request_error", message, code="charge_already_refunded")
            if not 0 < amount <= left:
                message = "Refund amount is greater than unrefunded amount."
                return error(400, "invalid_request_error", message, code="amount_too_large", param="amount")
            refund = {
                "id": self._new_id("pyr"), "object": "refund", "amount": amount, "balance_transaction": None,
                "charge": charge["id"], "created": self._now(), "currency": "eur", "metadata": _metadata(params),
                "payment_intent": intent["id"], "reason": params.get("reason"), "receipt_number": None,
                "source_transfer_reversal": None, "status": "pending", "transfer_reversal": None,
            }  # fmt: skip
            self.objects[refund["id"]] = refund
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            self.effect("refund.create", key)
            self._emit("charge.refunded", charge, key)
            return Reply(200, json=copy.deepcopy(refund))

        return self._create(request, handle)

    def settle_refund(self, refund_id: str, status: str = "succeeded") -> dict[str, Any]:
        """A SEPA refund reaches the payer's account (or fails) days later: `charge.refund.updated`."""
        with self.lock:
            refund = self.objects[refund_id]
            refund["status"] = status
            event = self._emit("charge.refund.updated", refund)
        self._publish()
        return event

    # -- events ----------------------------------------------------------------------------------------------------

    def _emit(self, event_type: str, snapshot: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        event = {
            "id": self._new_id("evt"), "object": "event", "api_version": API_VERSION, "created": self._now(),
            "data": {"object": copy.deepcopy(snapshot)}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": key}, "type": event_type,
        }  # fmt: skip
        self.events.append(event)
        return event

    def signed(
        self, event: dict[str, Any], *, at: int | None = None, secret: str = WEBHOOK_SECRET
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body Stripe would POST for `event`, signed at `at` (now by default)."""
        body = json.dumps(event).encode()
        signed_at = self._now() if at is None else at
        return {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret, signed_at)}, body

    def _publish(self) -> None:
        """What Stripe does on its own when an endpoint is registered; outside the lock, as the platform may call
        back while it handles the event."""
        if self.webhook_url:
            self.deliver_events(self.webhook_url)

    def deliver_events(self, url: str) -> list[httpx.Response]:
        """POST every event not delivered yet to the platform's endpoint, in order, signed now."""
        with self.lock:
            pending, self.delivered = self.events[self.delivered :], len(self.events)
        responses = []
        for event in pending:
            headers, body = self.signed(event)
            responses.append(self.deliver(url, body, headers))
        return responses


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    metadata = params.get("metadata", {})
    if not isinstance(metadata, dict):
        raise invalid("Invalid hash", param="metadata")
    return {str(name): str(value) for name, value in metadata.items()}


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, ""):
        raise missing(name)
    return value


def _integer(value: Any, name: str) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise invalid(f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)
    return int(value)


def _boolean(value: Any, name: str) -> bool:
    if value not in ("true", "false"):
        raise invalid(f"Invalid boolean: {value}", param=name)
    return bool(value == "true")


def _one_of(value: Any, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise invalid(f"Invalid {name}: must be one of {', '.join(allowed)}", param=name)


def _iban_checks(iban: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    return int("".join(str(int(char, 36)) for char in iban[4:] + iban[:4])) % 97 == 1
