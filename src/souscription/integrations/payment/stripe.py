"""The payment port on Stripe: SEPA Direct Debit through a customer, a SetupIntent that saves the IBAN and creates
the mandate, and off-session PaymentIntents for the instalments (API v1, docs.stripe.com/api).

Stripe's conventions, checked against its documentation and OpenAPI document: `Authorization: Bearer sk_...`;
bodies form-encoded with bracket notation (`metadata[subscription_id]=...`, `payment_method_types[]=sepa_debit`);
an `Idempotency-Key` on every POST, the caller's key, so a step replayed after a crash gets the first answer back
(`Idempotent-Replayed: true`) instead of a second debit; errors as `{"error": {"type", "code", "message", "param",
"decline_code"}}`. A debit refused at once (HTTP 402, `card_error`) is an answer, a FAILED payment; SEPA's usual
refusal comes days later, by webhook (`payment_intent.payment_failed`) or on reading the payment again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from souscription.configuration import VendorAccess
from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.http import VendorClient
from souscription.integrations.metrics import Metrics
from souscription.integrations.payment.port import (
    AcceptanceChannel,
    BankAccount,
    Customer,
    Instalment,
    Mandate,
    MandateAcceptance,
    MandateSetup,
    Payer,
    Payment,
    PaymentEvent,
    Refund,
    RefundReason,
    check_instalment,
    check_mandate_request,
    check_payer,
    compact_iban,
)
from souscription.integrations.payment.stripe_states import (
    UnknownStripeState,
    error_code_of,
    mandate_of,
    payment_of,
    refund_of,
    setup_of,
    verify_webhook,
)
from souscription.integrations.resilience import CircuitBreaker, FailureKind, RetryPolicy

API_VERSION = "2025-09-30.clover"
"""Pinned, so the answers keep the shape the tables were written for whatever the account's default version."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
FORM = "application/x-www-form-urlencoded"
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{3,255}")

Result = TypeVar("Result")


class StripePayments:
    """`PaymentPort` on Stripe. The overrides are for tests (a fake's transport, fast retries, a private breaker)."""

    vendor = "stripe"

    def __init__(
        self,
        access: VendorAccess,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] | None = None,
        api_version: str = API_VERSION,
    ) -> None:
        if not access.token:
            raise ValueError("SOUSCRIPTION_STRIPE_TOKEN manquant : la clé secrète Stripe (sk_...) est obligatoire")
        token, self._webhook_secret = access.token, access.webhook_secret
        self._version = {"Stripe-Version": api_version}
        overrides: dict[str, Any] = {"policy": policy, "metrics": metrics, "sleep": sleep}
        self._client = VendorClient(
            vendor=self.vendor,
            base_url=access.url or "https://api.stripe.com",
            auth=lambda: {"Authorization": f"Bearer {token}"},
            timeout=timeout,
            error_code=_error_code,
            transport=transport,
            breaker=breaker,
            **{name: value for name, value in overrides.items() if value is not None},
        )

    def close(self) -> None:
        self._client.close()

    # -- the port ------------------------------------------------------------------------------------------------

    def create_customer(self, payer: Payer, *, key: str) -> Customer:
        check_payer(payer)
        body = self._post("/v1/customers", customer_form(payer), key=key, operation="create_customer")
        return self._read(
            lambda customer: Customer(str(customer["id"]), payer.subscription_id), body, "create_customer"
        )

    def set_up_mandate(
        self, customer_id: str, account: BankAccount, acceptance: MandateAcceptance, *, key: str
    ) -> MandateSetup:
        check_mandate_request(account, acceptance)
        form = setup_intent_form(_checked_id(customer_id), account, acceptance)
        body = self._post("/v1/setup_intents", form, key=key, operation="set_up_mandate")
        return self._read(setup_of, body, "set_up_mandate")

    def mandate(self, mandate_id: str) -> Mandate:
        body = self._get(f"/v1/mandates/{_checked_id(mandate_id)}", operation="read_mandate")
        return self._read(mandate_of, body, "read_mandate")

    def collect_instalment(self, instalment: Instalment, *, key: str) -> Payment:
        check_instalment(instalment)
        body = self._post(
            "/v1/payment_intents", payment_intent_form(instalment), key=key, operation="collect", accept=(402,)
        )
        error = body.get("error")
        if isinstance(error, dict):
            # Refused at confirmation (HTTP 402): the error carries the intent, now `requires_payment_method`.
            intent = error.get("payment_intent")
            if not isinstance(intent, dict):
                raise VendorRejected(
                    self.vendor,
                    "collect",
                    FailureKind.REJECTED,
                    "prélèvement refusé",
                    status=402,
                    vendor_code=error_code_of(body),
                )
            body = intent
        return self._read(payment_of, body, "collect")

    def payment(self, payment_id: str) -> Payment:
        path = f"/v1/payment_intents/{_checked_id(payment_id)}"
        body = self._get(path, operation="read_payment", params={"expand[]": "latest_charge"})
        return self._read(payment_of, body, "read_payment")

    def refund(
        self,
        payment_id: str,
        *,
        key: str,
        amount_cents: int | None = None,
        reason: RefundReason = RefundReason.REQUESTED_BY_CUSTOMER,
    ) -> Refund:
        if amount_cents is not None and amount_cents < 1:
            raise ValueError("le montant à rembourser est d'au moins 1 centime")
        form = refund_form(_checked_id(payment_id), amount_cents, reason)
        body = self._post("/v1/refunds", form, key=key, operation="refund")
        return self._read(refund_of, body, "refund")

    def read_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentEvent:
        return verify_webhook(headers, body, self._webhook_secret, now)

    # -- HTTP ----------------------------------------------------------------------------------------------------

    def _post(
        self, path: str, form: Mapping[str, Any], *, key: str, operation: str, accept: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        if not key or len(key) > 255:
            raise ValueError("clé d'idempotence obligatoire, 255 caractères au plus (Stripe)")
        response = self._client.request(
            "POST",
            path,
            operation=operation,
            content=encode_form(form),
            headers={**self._version, "Content-Type": FORM},
            idempotency_key=key,
            idempotency_header=IDEMPOTENCY_HEADER,
            accept=(*accept, 409),
        )
        if response.status_code == 409:
            # Another request with this key is still running at Stripe (our own attempt that timed out, usually):
            # Stripe says to retry later (`Stripe-Should-Retry: true`), and the same key makes that safe.
            raise VendorUnavailable(
                self.vendor,
                operation,
                FailureKind.SERVER_ERROR,
                "une requête de même clé est en cours chez Stripe : à reprendre plus tard",
                status=409,
                vendor_code=_error_code(response),
            )
        return self._json(response, operation)

    def _get(self, path: str, *, operation: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = self._client.request("GET", path, operation=operation, params=params, headers=self._version)
        return self._json(response, operation)

    def _json(self, response: httpx.Response, operation: str) -> dict[str, Any]:
        """A 2xx that is not a JSON object came from something between us and Stripe: the work parks and the call
        is tried again later with the same key, which is safe."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise VendorUnavailable(
                self.vendor, operation, FailureKind.SERVER_ERROR, "réponse illisible", status=response.status_code
            )
        return body

    def _read(self, mapper: Callable[[dict[str, Any]], Result], body: dict[str, Any], operation: str) -> Result:
        try:
            return mapper(body)
        except UnknownStripeState as unknown:
            raise VendorRejected(
                self.vendor, operation, FailureKind.REJECTED, str(unknown), vendor_code=unknown.code
            ) from None
        except (KeyError, TypeError, ValueError):
            raise VendorRejected(
                self.vendor, operation, FailureKind.REJECTED, "réponse Stripe incomplète", vendor_code="malformed"
            ) from None


def _error_code(response: httpx.Response) -> str:
    try:
        return error_code_of(response.json())
    except ValueError:
        return ""


def _checked_id(value: str) -> str:
    """Ids go into paths: only Stripe's id alphabet gets there."""
    if not _STRIPE_ID.fullmatch(value or ""):
        raise ValueError("identifiant Stripe invalide")
    return value


# -- what is sent (pure) --------------------------------------------------------------------------------------------


def form_pairs(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's bracket notation: nested objects `a[b][c]=v`, lists `a[]=v`, booleans `true`/`false`; None is left
    out (an empty string would unset the field)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        key = f"{prefix}[{name}]" if prefix else name
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += form_pairs(value, key)
        elif isinstance(value, list | tuple):
            pairs += [(f"{key}[]", _scalar(item)) for item in value]
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    raise TypeError(f"valeur non encodable pour Stripe : {type(value).__name__}")


def encode_form(params: Mapping[str, Any]) -> bytes:
    return urlencode(form_pairs(params)).encode()


def customer_form(payer: Payer) -> dict[str, Any]:
    return {
        "name": payer.name.strip(),
        "email": payer.email.strip(),
        "preferred_locales": ["fr"],
        "metadata": {"subscription_id": payer.subscription_id},
    }


def acceptance_form(acceptance: MandateAcceptance) -> dict[str, Any]:
    form: dict[str, Any] = {"type": acceptance.channel.value, "accepted_at": int(acceptance.accepted_at.timestamp())}
    if acceptance.channel is AcceptanceChannel.ONLINE:
        form["online"] = {"ip_address": acceptance.ip_address, "user_agent": acceptance.user_agent}
    return form


def setup_intent_form(customer_id: str, account: BankAccount, acceptance: MandateAcceptance) -> dict[str, Any]:
    """Created and confirmed in one call: the IBAN becomes a `sepa_debit` payment method attached to the customer,
    and the mandate is created from the acceptance, for debits while the customer is away (`off_session`)."""
    return {
        "customer": customer_id,
        "payment_method_types": ["sepa_debit"],
        "usage": "off_session",
        "confirm": True,
        "payment_method_data": {
            "type": "sepa_debit",
            "sepa_debit": {"iban": compact_iban(account.iban)},
            "billing_details": {"name": account.holder_name.strip(), "email": account.email.strip()},
        },
        "mandate_data": {"customer_acceptance": acceptance_form(acceptance)},
    }


def payment_intent_form(instalment: Instalment) -> dict[str, Any]:
    return {
        "amount": instalment.amount_cents,
        "currency": instalment.currency,
        "customer": instalment.customer_id,
        "payment_method": instalment.payment_method_id,
        "mandate": instalment.mandate_id,
        "payment_method_types": ["sepa_debit"],
        "off_session": True,
        "confirm": True,
        "description": instalment.description or None,
        "metadata": {"subscription_id": instalment.subscription_id, "instalment": str(instalment.number)},
    }


def refund_form(payment_id: str, amount_cents: int | None, reason: RefundReason) -> dict[str, Any]:
    return {"payment_intent": payment_id, "amount": amount_cents, "reason": reason.value}
