"""The GoCardless Bank Account Data adapter of the account-information port (`https://bankaccountdata.gocardless.
com/api/v2`): institutions, end user agreement + requisition (the consent and its bank link), requisition status
and accounts, account details, balances and transactions, requisition deletion. Every call goes through
`VendorClient` (timeouts, retries of transient failures, breaker, metrics).

Credentials: `VendorAccess.account` is the user secret's `secret_id`, `token` its `secret_key`. The adapter gets
its own access token (`POST /token/new/`, valid `access_expires` seconds, 24 h today), renews it with the refresh
token (`POST /token/refresh/`) before it ends, and gets a new one when GoCardless answers 401 "Invalid token".

Idempotency: GoCardless has no idempotency header. The requisition carries our `reference`, unique at GoCardless,
built from the caller's key: a second create with it is refused (400 on the `reference` field), and the adapter
then looks the requisition up by reference and returns it, deleting the agreement it had just made for nothing.
Agreements carry no reference of ours: an agreement whose answer was lost (a timeout after GoCardless made it) stays
behind unused. It grants nothing (no requisition points to it, no customer accepted it) and is the one effect
GoCardless gives us no way to deduplicate.

Rate limits: the account endpoints are limited per account by the bank (down to 4 successful calls a day per
endpoint) and answer 429 with `X-RateLimit-Account-Success-Reset` (seconds until the window resets), other
endpoints with `X-RateLimit-Reset`; GoCardless sends no `Retry-After`, so a small transport hands the reset to the
shared client as one: a short wait is waited, a long one parks the work (`VendorUnavailable.retry_after`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from souscription.configuration import VENDORS, VendorAccess
from souscription.integrations.errors import VendorError, VendorRejected
from souscription.integrations.http import VendorClient
from souscription.integrations.metrics import METRICS, Metrics
from souscription.integrations.open_banking import gocardless_states as states
from souscription.integrations.open_banking.consent import check_link_request, fit_terms
from souscription.integrations.open_banking.port import (
    AccessTerms,
    AccountDetails,
    Balance,
    Consent,
    ConsentLink,
    ConsentStatus,
    ConsentUnusable,
    Institution,
    Revocation,
    Transaction,
)
from souscription.integrations.resilience import CircuitBreaker, FailureKind, RetryPolicy

VENDOR = "gocardless"
RATE_LIMIT_RESETS = ("X-RateLimit-Account-Success-Reset", "X-RateLimit-Reset")


def error_code(response: httpx.Response) -> str:
    try:
        return states.error_code_of(response.json())
    except ValueError:
        return ""


class RateLimitHints(httpx.BaseTransport):
    """Copies GoCardless's rate-limit reset onto a 429 as `Retry-After`, the header the shared client reads."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if response.status_code == 429 and "Retry-After" not in response.headers:
            for name in RATE_LIMIT_RESETS:
                value = (response.headers.get(name) or "").strip()
                if value.isdigit():
                    response.headers["Retry-After"] = value
                    break
        return response

    def close(self) -> None:
        self._inner.close()


@dataclass
class _Token:
    access: str
    renew_at: datetime
    refresh: str
    refresh_until: datetime


class _Tokens:
    """The adapter's access token, shared by its threads: `POST /token/new/` is limited to 100 calls an hour."""

    def __init__(self, client: VendorClient, *, secret_id: str, secret_key: str, now: Callable[[], datetime]):
        self._client, self._secret_id, self._secret_key, self._now = client, secret_id, secret_key, now
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def header(self) -> dict[str, str]:
        with self._lock:
            token = self._token
            now = self._now()
            if token is None or now >= token.renew_at:
                token = self._renewed(token, now)
                self._token = token
            return {"Authorization": f"Bearer {token.access}"}

    def forget(self, header: Mapping[str, str]) -> None:
        """Drop the access token GoCardless refused, unless another thread already replaced it."""
        with self._lock:
            if self._token is not None and header.get("Authorization") == f"Bearer {self._token.access}":
                self._token.renew_at = self._now()

    def _renewed(self, token: _Token | None, now: datetime) -> _Token:
        if token is not None and now < token.refresh_until:
            try:
                body = self._post("/token/refresh/", "token_refresh", {"refresh": token.refresh})
            except VendorRejected as refused:
                if refused.status != 401:
                    raise
            else:
                return _Token(body["access"], _renew_at(now, body), token.refresh, token.refresh_until)
        body = self._post("/token/new/", "token_new", {"secret_id": self._secret_id, "secret_key": self._secret_key})
        refresh_until = now + timedelta(seconds=int(body.get("refresh_expires") or 0))
        return _Token(body["access"], _renew_at(now, body), body["refresh"], refresh_until)

    def _post(self, path: str, operation: str, payload: Mapping[str, str]) -> dict[str, Any]:
        response = self._client.request("POST", path, operation=operation, json=payload)
        body = response.json()
        if not isinstance(body, dict) or not body.get("access"):
            raise VendorRejected(VENDOR, operation, FailureKind.REJECTED, "jeton absent de la réponse")
        return body


def _renew_at(now: datetime, body: Mapping[str, Any]) -> datetime:
    """A little before the access token ends, so a call never leaves with a token about to die."""
    life = timedelta(seconds=int(body.get("access_expires") or 0))
    return now + life - min(timedelta(seconds=60), life / 10)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GoCardlessBankData:
    """`AccountInformationPort` on GoCardless Bank Account Data."""

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
        draw: Callable[[], float] | None = None,
        now: Callable[[], datetime] = _utcnow,
        page_size: int = 100,
    ) -> None:
        if not access.account or not access.token:
            raise ValueError("GoCardless : secret_id (SOUSCRIPTION_GOCARDLESS_ACCOUNT) et secret_key (_TOKEN) requis")
        options: dict[str, Any] = {"draw": draw} if draw is not None else {}
        self._client = VendorClient(
            vendor=VENDOR,
            base_url=access.url or VENDORS[VENDOR][1],
            timeout=timeout,
            policy=policy or RetryPolicy(),
            error_code=error_code,
            metrics=metrics or METRICS,
            transport=RateLimitHints(transport or httpx.HTTPTransport()),
            sleep=sleep,
            breaker=breaker,
            **options,
        )
        self._tokens = _Tokens(self._client, secret_id=access.account, secret_key=access.token, now=now)
        self._now = now
        self._page_size = page_size

    def close(self) -> None:
        self._client.close()

    # -- the port ------------------------------------------------------------------------------------------------

    def institutions(self, *, country: str) -> list[Institution]:
        response = self._call("GET", "/institutions/", operation="institutions", params={"country": country.lower()})
        with _reading("institutions"):
            return [states.institution_of(row) for row in _list(response)]

    def institution(self, institution_id: str) -> Institution:
        response = self._call("GET", f"/institutions/{_segment(institution_id)}/", operation="institution")
        with _reading("institution"):
            return states.institution_of(_object(response))

    def start_consent(
        self, *, key: str, institution_id: str, terms: AccessTerms, redirect_url: str, language: str = "fr"
    ) -> ConsentLink:
        reference = states.reference_of(key)
        check_link_request(redirect_url=redirect_url, language=language)
        fitted = fit_terms(terms, self.institution(institution_id))
        agreement_id = self._create_agreement(institution_id, fitted)
        payload = {
            "redirect": redirect_url,
            "institution_id": institution_id,
            "reference": reference,
            "agreement": agreement_id,
            "user_language": language.upper(),
        }
        try:
            requisition = _object(self._call("POST", "/requisitions/", operation="requisition_create", json=payload))
        except VendorRejected as refused:
            try:
                requisition = self._replayed(refused, reference, institution_id)
            except VendorRejected:
                self._delete_spare_agreement(agreement_id)
                raise
            if requisition.get("agreement") != agreement_id:
                self._delete_spare_agreement(agreement_id)
        with _reading("requisition_create"):
            return ConsentLink(
                consent_id=str(requisition["id"]),
                reference=reference,
                link=str(requisition["link"]),
                status=states.consent_status(str(requisition["status"])),
                institution_id=institution_id,
                terms=fitted,
            )

    def consent(self, consent_id: str) -> Consent:
        """A requisition GoCardless no longer knows (404) was deleted: revoked, by us or from its dashboard."""
        response = self._call(
            "GET", f"/requisitions/{_segment(consent_id)}/", operation="requisition_read", accept=(404,)
        )
        if response.status_code == 404:
            return Consent(consent_id, "", "", ConsentStatus.REVOKED, vendor_status="deleted")
        requisition = _object(response)
        agreement = None
        if requisition.get("agreement"):
            found = self._call(
                "GET",
                f"/agreements/enduser/{_segment(str(requisition['agreement']))}/",
                operation="agreement_read",
                accept=(404,),
            )
            agreement = None if found.status_code == 404 else _object(found)
        with _reading("requisition_read"):
            return states.consent_of(requisition, agreement)

    def account(self, account_id: str) -> AccountDetails:
        details = self._account_call(f"/accounts/{_segment(account_id)}/details/", "account_details")
        metadata = self._account_call(f"/accounts/{_segment(account_id)}/", "account_read")
        with _reading("account_details"):
            return states.details_of(account_id, _object(details), _object(metadata))

    def balances(self, account_id: str) -> list[Balance]:
        response = self._account_call(f"/accounts/{_segment(account_id)}/balances/", "account_balances")
        with _reading("account_balances"):
            return states.balances_of(_object(response))

    def transactions(self, account_id: str, *, since: date | None = None) -> list[Transaction]:
        params = {"date_from": since.isoformat()} if since else None
        response = self._account_call(f"/accounts/{_segment(account_id)}/transactions/", "account_transactions", params)
        with _reading("account_transactions"):
            return states.transactions_of(_object(response))

    def revoke(self, *, key: str, consent_id: str) -> Revocation:
        """`DELETE /requisitions/{id}/` (GoCardless deletes its agreement with it). Deleting is idempotent by
        nature (a second one is a 404, taken as done), so `key` is not sent: GoCardless has nowhere to put it."""
        found = self._call("GET", f"/requisitions/{_segment(consent_id)}/", operation="requisition_read", accept=(404,))
        accounts = () if found.status_code == 404 else tuple(str(a) for a in _object(found).get("accounts") or ())
        self._call("DELETE", f"/requisitions/{_segment(consent_id)}/", operation="requisition_delete", accept=(404,))
        return Revocation(consent_id=consent_id, account_ids=accounts, revoked_at=self._now())

    # -- consent creation ----------------------------------------------------------------------------------------

    def _create_agreement(self, institution_id: str, terms: AccessTerms) -> str:
        payload = {
            "institution_id": institution_id,
            "max_historical_days": terms.history_days,
            "access_valid_for_days": terms.access_days,
            "access_scope": sorted(scope.value for scope in terms.scopes),
        }
        response = self._call("POST", "/agreements/enduser/", operation="agreement_create", json=payload)
        with _reading("agreement_create"):
            return str(_object(response)["id"])

    def _replayed(self, refused: VendorRejected, reference: str, institution_id: str) -> dict[str, Any]:
        """The requisition a refused create already made (our step replayed, or the first answer lost)."""
        if not states.is_field_error(refused.vendor_code, "reference"):
            raise refused
        found = self._requisition_by_reference(reference)
        if found is None:
            raise refused
        if found.get("institution_id") != institution_id:
            raise VendorRejected(
                VENDOR,
                "requisition_create",
                FailureKind.REJECTED,
                "cette clé a déjà servi à un consentement auprès d'une autre banque",
                status=refused.status,
                vendor_code="reference_reused",
            ) from None
        return found

    def _requisition_by_reference(self, reference: str) -> dict[str, Any] | None:
        """GoCardless cannot filter requisitions by reference: the pages are read until it is found."""
        params: dict[str, Any] = {"limit": self._page_size}
        while True:
            page = _object(self._call("GET", "/requisitions/", operation="requisitions_list", params=params))
            for requisition in page.get("results") or ():
                if isinstance(requisition, dict) and requisition.get("reference") == reference:
                    return requisition
            following = page.get("next")
            if not following:
                return None
            params = {name: values[0] for name, values in parse_qs(urlsplit(str(following)).query).items()}

    def _delete_spare_agreement(self, agreement_id: str) -> None:
        """Best effort: an agreement no requisition uses grants nothing; failing to delete it must not fail the
        consent the customer is waiting for."""
        try:
            self._call(
                "DELETE", f"/agreements/enduser/{_segment(agreement_id)}/", operation="agreement_delete", accept=(404,)
            )
        except VendorError:
            return

    # -- the HTTP side -------------------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """One call with a valid access token; a token GoCardless refuses is replaced once."""
        for attempt in (1, 2):
            header = self._tokens.header()
            try:
                return self._client.request(
                    method, path, operation=operation, json=json, params=params, headers=header, accept=accept
                )
            except VendorRejected as refused:
                if attempt == 2 or refused.status != 401 or refused.vendor_code != states.ACCESS_REFUSED_SUMMARY:
                    raise
                self._tokens.forget(header)
        raise AssertionError("unreachable")

    def _account_call(self, path: str, operation: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        try:
            return self._call("GET", path, operation=operation, params=params)
        except VendorRejected as refused:
            gone = states.UNUSABLE_CONSENT.get(refused.vendor_code)
            if gone is None:
                raise
            raise ConsentUnusable(
                VENDOR, operation, gone, status=refused.status, vendor_code=refused.vendor_code
            ) from None


@contextmanager
def _reading(operation: str) -> Iterator[None]:
    """An answer without the documented shape, or a status outside the table, is refused, never guessed."""
    try:
        yield
    except (states.MalformedPayload, KeyError, TypeError) as error:
        raise VendorRejected(
            VENDOR, operation, FailureKind.REJECTED, f"réponse illisible : {error}", vendor_code="malformed"
        ) from None
    except states.UnknownVendorState as unknown:
        raise VendorRejected(
            VENDOR, operation, FailureKind.REJECTED, str(unknown), vendor_code=f"unknown_state:{unknown.state}"
        ) from None


def _segment(value: str) -> str:
    """An id inside a path, escaped: an id is data, never more path."""
    return quote(value, safe="")


def _object(response: httpx.Response) -> dict[str, Any]:
    body = _json(response)
    if not isinstance(body, dict):
        raise VendorRejected(VENDOR, "read", FailureKind.REJECTED, "réponse illisible", vendor_code="malformed")
    return body


def _list(response: httpx.Response) -> list[dict[str, Any]]:
    body = _json(response)
    if not isinstance(body, list):
        raise VendorRejected(VENDOR, "read", FailureKind.REJECTED, "réponse illisible", vendor_code="malformed")
    return [row for row in body if isinstance(row, dict)]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise VendorRejected(
            VENDOR, "read", FailureKind.REJECTED, "réponse illisible (pas du JSON)", vendor_code="malformed"
        ) from None
