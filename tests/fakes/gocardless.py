"""A fake GoCardless Bank Account Data (`/api/v2`), stateful, with the documented shapes (developer.gocardless.com/
bank-account-data and its OpenAPI document, checked 2026-12):

- JSON bodies; unknown body fields refused (400 "Unknown fields"); error bodies `{"summary", "detail",
  "status_code"}` (plus `type` on the account endpoints), field errors `{"<field>": ..., "status_code": 400}`;
- `POST /token/new/` with `{secret_id, secret_key}` gives `{access, access_expires, refresh, refresh_expires}`,
  `POST /token/refresh/` a new access; every other call needs `Authorization: Bearer <access>` while it is valid
  (401 "Invalid token" after `access_expires` seconds, on the fake's clock, or after `revoke_tokens()`);
- agreements bounded by the institution (`max_historical_days` <= its `transaction_total_days`,
  `access_valid_for_days` <= its `max_access_valid_for_days`); requisitions with a unique `reference` (a second one
  is refused on the `reference` field), listed by pages (`limit`, `offset`, `next`), deleted with their agreement;
- the account endpoints limited per account and endpoint (`account_daily_limit` successful calls in 24 hours, 429
  `RateLimitError` with `X-RateLimit-Account-Success-Limit/-Remaining/-Reset`), and refusing a consent that is gone
  (401 `AccessExpiredError`, 409 "Account suspended", 403 scope error).

The customer's side is played by the test: `open_link`, `authenticate` (GC, UA, SA, GA, LN: the agreement is
accepted now), `reject`, `suspend`, `withdraw_at_bank`, `set_status`; time passes with `advance`. Effects are
counted by our reference: `requisition.create`, `agreement.create` (an agreement counts when a requisition carries
it to the customer), `requisition.delete`; `orphan_agreements()` lists the agreements no requisition carries.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from souscription.integrations.open_banking.port import Transaction
from souscription.integrations.open_banking.sandbox import SandboxAccount, sandbox_accounts
from tests.fakes.base import FakeVendor, FaultPlan, Refuse, Reply, Request, missing, route

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SCOPES = ("balances", "details", "transactions")
LANGUAGES = frozenset({"BG", "CS", "DA", "DE", "EL", "EN", "ES", "ET", "FI", "FR", "HU", "IT", "LT", "LV", "NL", "NO"})
LANGUAGES |= frozenset({"PL", "PT", "RO", "RU", "SK", "SL", "SV"})
COUNTRIES = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR", "HU", "IE", "IS", "IT"}
    | {"LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"}
)
# id, name, BIC, bank code (for the IBANs), transaction_total_days, max_access_valid_for_days
INSTITUTIONS = (
    ("BNP_PARIBAS_BNPAFRPP", "BNP Paribas", "BNPAFRPP", "30004", 730, 180),
    ("SOCIETE_GENERALE_SOGEFRPP", "Société Générale", "SOGEFRPP", "30003", 540, 180),
    ("CREDIT_AGRICOLE_AGRIFRPP", "Crédit Agricole", "AGRIFRPP", "18206", 395, 180),
    ("BANQUE_POSTALE_PSSTFRPP", "La Banque Postale", "PSSTFRPP", "20041", 365, 90),
    ("NEOBANQUE_COURTE_NEOCFRP1", "Néobanque à historique court", "NEOCFRP1", "99999", 60, 90),
)
_AGREEMENT_FIELDS = {"institution_id", "max_historical_days", "access_valid_for_days", "access_scope", "reconfirmation"}
_REQUISITION_FIELDS = {
    *("redirect", "institution_id", "reference", "agreement", "user_language"),
    *("ssn", "account_selection", "redirect_immediate"),
}
_ACCOUNT_GONE = "Access has expired or it has been revoked. To restore access reconnect the account."


def error(status: int, summary: str, detail: str, **extra: Any) -> Reply:
    return Reply(status, json={"summary": summary, "detail": detail, "status_code": status, **extra})


def field_error(name: str, summary: str, detail: str, *, as_list: bool = False) -> Refuse:
    entry: Any = {"summary": summary, "detail": detail}
    return Refuse(Reply(400, json={name: [entry] if as_list else entry, "status_code": 400}))


def amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


class FakeGoCardless(FakeVendor):
    name = "gocardless"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        secret_id: str = "fake-secret-id",
        secret_key: str = "fake-secret-key",
        access_seconds: int = 86_400,
        refresh_seconds: int = 2_592_000,
        account_daily_limit: int = 4,
        seed: str = "fake-gocardless",
    ) -> None:
        super().__init__(faults)
        self.secret_id, self.secret_key, self.seed = secret_id, secret_key, seed
        self.reset(
            faults=faults,
            access_seconds=access_seconds,
            refresh_seconds=refresh_seconds,
            account_daily_limit=account_daily_limit,
        )

    def reset(
        self,
        *,
        faults: FaultPlan | None = None,
        access_seconds: int = 86_400,
        refresh_seconds: int = 2_592_000,
        account_daily_limit: int = 4,
    ) -> None:
        """A fresh GoCardless on the same server (a server takes half a second to stop: tests share one)."""
        with self.lock:
            self.faults = faults or FaultPlan()
            self.effects.clear()
            self.calls.clear()
            self.faults_injected.clear()
            self.access_seconds, self.refresh_seconds = access_seconds, refresh_seconds
            self.account_daily_limit = account_daily_limit
            self.now = START
            self.institutions = {row[0]: row for row in INSTITUTIONS}
            self.access_tokens: dict[str, datetime] = {}
            self.refresh_tokens: dict[str, datetime] = {}
            self.tokens_issued = self.tokens_refreshed = 0
            self.agreements: dict[str, dict[str, Any]] = {}
            self.adopted: set[str] = set()
            self.requisitions: dict[str, dict[str, Any]] = {}
            self.history: dict[str, list[str]] = {}
            self.accounts: dict[str, tuple[str, SandboxAccount]] = {}
            self.reads: dict[tuple[str, str], list[datetime]] = {}
            self.losing: dict[tuple[str, str], int] = {}

    @property
    def api(self) -> str:
        return self.url + "/api/v2"

    def lose_answers(self, method: str, path: str, count: int = 1) -> None:
        """The next `count` calls to `method path` take effect, but their answer is lost (a 503 comes back):
        the ambiguous failure only an idempotent retry survives."""
        with self.lock:
            self.losing[(method, path)] = count

    def _handle(self, request: Request) -> Reply:
        reply = super()._handle(request)
        with self.lock:
            left = self.losing.get((request.method, request.path), 0)
            if left and reply.status < 300:
                self.losing[(request.method, request.path)] = left - 1
                return error(503, "Service unavailable", "The answer was lost on the way back.")
        return reply

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        """The base writes the headers and the body in two sends; without TCP_NODELAY the second waits for the
        client's delayed ACK, 40 ms a call on Linux."""
        with contextlib.suppress(OSError):
            handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._send(handler, reply)

    # -- the test's side ---------------------------------------------------------------------------------------------

    def advance(self, *, seconds: float = 0, days: float = 0) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds, days=days)

    def revoke_tokens(self) -> None:
        """Access tokens die before their time (GoCardless rotated them): calls get 401 "Invalid token"."""
        with self.lock:
            self.access_tokens.clear()

    def requisition_of(self, reference: str) -> dict[str, Any]:
        with self.lock:
            return next(r for r in self.requisitions.values() if r["reference"] == reference)

    def set_status(self, requisition_id: str, status: str) -> None:
        with self.lock:
            self.requisitions[requisition_id]["status"] = status
            self.history.setdefault(requisition_id, []).append(status)

    def open_link(self, requisition_id: str) -> None:
        self.set_status(requisition_id, "GC")

    def authenticate(self, requisition_id: str, *, accounts: int = 2) -> list[str]:
        """The customer gives consent, passes strong authentication and picks accounts: linked, agreement accepted."""
        with self.lock:
            for status in ("GC", "UA", "SA", "GA"):
                self.set_status(requisition_id, status)
            requisition = self.requisitions[requisition_id]
            self.agreements[requisition["agreement"]]["accepted"] = self._stamp(self.now)
            bank_code = self.institutions[requisition["institution_id"]][3]
            generated = sandbox_accounts(
                seed=f"{self.seed}:{requisition_id}", today=self.now.date(), count=accounts, bank_code=bank_code
            )
            for account in generated:
                self.accounts[account.account_id] = (requisition_id, account)
            requisition["accounts"] = [account.account_id for account in generated]
            self.set_status(requisition_id, "LN")
            return list(requisition["accounts"])

    def reject(self, requisition_id: str) -> None:
        self.set_status(requisition_id, "UA")
        self.set_status(requisition_id, "RJ")

    def suspend(self, requisition_id: str) -> None:
        self.set_status(requisition_id, "SU")

    def withdraw_at_bank(self, requisition_id: str) -> None:
        """The customer withdraws the consent at the bank: GoCardless can no longer read the accounts."""
        self.set_status(requisition_id, "EX")

    def orphan_agreements(self) -> list[dict[str, Any]]:
        with self.lock:
            return [agreement for key, agreement in self.agreements.items() if key not in self.adopted]

    def authorize(self, request: Request) -> Reply | None:
        if request.path in ("/api/v2/token/new/", "/api/v2/token/refresh/"):
            return None
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        with self.lock:
            if self.access_tokens.get(token, START) > self.now:
                return None
        return error(401, "Invalid token", "Token is invalid or expired")

    # -- tokens ------------------------------------------------------------------------------------------------------

    @route("POST", r"/api/v2/token/new/")
    def token_new(self, request: Request) -> Reply:
        body = self._body(request, {"secret_id", "secret_key"})
        self._require(body, ("secret_id", "secret_key"))
        if (body["secret_id"], body["secret_key"]) != (self.secret_id, self.secret_key):
            return error(401, "Authentication failed", "No active account found with the given credentials")
        with self.lock:
            self.tokens_issued += 1
            access, refresh = uuid.uuid4().hex, uuid.uuid4().hex
            self.access_tokens[access] = self.now + timedelta(seconds=self.access_seconds)
            self.refresh_tokens[refresh] = self.now + timedelta(seconds=self.refresh_seconds)
        return Reply(
            200,
            json={
                "access": access,
                "access_expires": self.access_seconds,
                "refresh": refresh,
                "refresh_expires": self.refresh_seconds,
            },
        )

    @route("POST", r"/api/v2/token/refresh/")
    def token_refresh(self, request: Request) -> Reply:
        body = self._body(request, {"refresh"})
        self._require(body, ("refresh",))
        with self.lock:
            if self.refresh_tokens.get(body["refresh"], START) <= self.now:
                return error(401, "Invalid token", "Token is invalid or expired")
            self.tokens_refreshed += 1
            access = uuid.uuid4().hex
            self.access_tokens[access] = self.now + timedelta(seconds=self.access_seconds)
        return Reply(200, json={"access": access, "access_expires": self.access_seconds})

    # -- institutions ------------------------------------------------------------------------------------------------

    @route("GET", r"/api/v2/institutions/")
    def list_institutions(self, request: Request) -> Reply:
        country = (request.arg("country") or "").upper()
        if country and country not in COUNTRIES:
            return error(400, "Invalid country choice.", f"{country} is not a valid choice.")
        return Reply(200, json=[self._institution(row[0]) for row in INSTITUTIONS if not country or country == "FR"])

    @route("GET", r"/api/v2/institutions/(?P<institution_id>[^/]+)/")
    def get_institution(self, request: Request) -> Reply:
        if request.params["institution_id"] not in self.institutions:
            return error(404, "Not found.", "Not found.")
        return Reply(200, json=self._institution(request.params["institution_id"]))

    def _institution(self, institution_id: str) -> dict[str, Any]:
        _id, name, bic, _code, history, access = self.institutions[institution_id]
        return {
            "id": institution_id,
            "name": name,
            "bic": bic,
            "transaction_total_days": str(history),
            "max_access_valid_for_days": str(access),
            "countries": ["FR"],
            "logo": f"https://storage.googleapis.com/gc-prd-institution_icons-production/FR/PNG/{bic.lower()}.png",
            "supported_features": ["account_selection", "private_accounts"],
        }

    # -- agreements --------------------------------------------------------------------------------------------------

    @route("POST", r"/api/v2/agreements/enduser/")
    def create_agreement(self, request: Request) -> Reply:
        body = self._body(request, _AGREEMENT_FIELDS)
        self._require(body, ("institution_id",))
        institution = self.institutions.get(body["institution_id"])
        if institution is None:
            raise field_error(
                "institution_id",
                f"Unknown Institution ID {body['institution_id']}",
                "Get Institution IDs from /institutions/?country={$COUNTRY_CODE}",
            )
        history = self._bounded(
            body, "max_historical_days", 90, institution[4], f"{institution[0]} transaction_total_days"
        )
        access = self._bounded(body, "access_valid_for_days", 90, institution[5], "max_access_valid_for_days")
        scopes = body.get("access_scope", list(SCOPES))
        if not isinstance(scopes, list) or not scopes or any(scope not in SCOPES for scope in scopes):
            raise field_error(
                "access_scope",
                "Unknown value in access_scope",
                "Choose one or several from ['balances', 'details', 'transactions']",
                as_list=True,
            )
        with self.lock:
            agreement = self._agreement(institution[0], history, access, scopes)
        return Reply(201, json=agreement)

    @route("GET", r"/api/v2/agreements/enduser/(?P<agreement_id>[^/]+)/")
    def get_agreement(self, request: Request) -> Reply:
        with self.lock:
            agreement = self.agreements.get(request.params["agreement_id"])
        return Reply(200, json=agreement) if agreement else error(404, "Not found.", "Not found.")

    @route("DELETE", r"/api/v2/agreements/enduser/(?P<agreement_id>[^/]+)/")
    def delete_agreement(self, request: Request) -> Reply:
        agreement_id = request.params["agreement_id"]
        with self.lock:
            if self.agreements.pop(agreement_id, None) is None:
                return error(404, "Not found.", "Not found.")
        return Reply(
            200, json={"summary": "End User Agreement deleted", "detail": f"End User Agreement {agreement_id} deleted"}
        )

    def _agreement(self, institution_id: str, history: int, access: int, scopes: list[str]) -> dict[str, Any]:
        agreement_id = str(uuid.uuid4())
        agreement: dict[str, Any] = {
            "id": agreement_id,
            "created": self._stamp(self.now),
            "institution_id": institution_id,
            "max_historical_days": history,
            "access_valid_for_days": access,
            "access_scope": list(scopes),
            "accepted": None,
            "reconfirmation": False,
        }
        self.agreements[agreement_id] = agreement
        return agreement

    # -- requisitions ------------------------------------------------------------------------------------------------

    @route("POST", r"/api/v2/requisitions/")
    def create_requisition(self, request: Request) -> Reply:
        body = self._body(request, _REQUISITION_FIELDS)
        self._require(body, ("redirect", "institution_id"))
        if urlsplit(str(body["redirect"])).scheme not in ("http", "https"):
            raise field_error(
                "redirect", "Invalid redirect URI", "Redirect URI must have a valid URI structure", as_list=True
            )
        if body["institution_id"] not in self.institutions:
            raise field_error(
                "institution_id",
                f"Unknown Institution ID {body['institution_id']}",
                "Get Institution IDs from /institutions/?country={$COUNTRY_CODE}",
            )
        language = str(body.get("user_language") or "EN")
        if language.upper() not in LANGUAGES:
            raise field_error(
                "user_language",
                "Provided user_language is invalid or not supported",
                f"'{language}' is an invalid or unsupported language",
            )
        with self.lock:
            return Reply(201, json=self._requisition(body, language))

    def _requisition(self, body: dict[str, Any], language: str) -> dict[str, Any]:
        reference = str(body.get("reference") or uuid.uuid4())
        if any(known["reference"] == reference for known in self.requisitions.values()):
            raise field_error(
                "reference", "Client reference must be unique", f"Client reference: {reference} already exists"
            )
        agreement_id = body.get("agreement")
        if agreement_id is None:
            agreement_id = self._agreement(body["institution_id"], 90, 90, list(SCOPES))["id"]
        agreement = self.agreements.get(str(agreement_id))
        if agreement is None:
            raise field_error(
                "agreement",
                "Invalid EndUserAgreement ID",
                f"{agreement_id} is not a valid EndUserAgreement UUID. Please specify valid agreement.",
                as_list=True,
            )
        if agreement["institution_id"] != body["institution_id"]:
            raise field_error(
                "agreement",
                f"Incorrect Institution ID {body['institution_id']}",
                f"Provided Institution ID: '{body['institution_id']}' for requisition does not match EUA institution "
                f"ID '{agreement['institution_id']}'.",
            )
        requisition_id = str(uuid.uuid4())
        requisition = {
            "id": requisition_id,
            "created": self._stamp(self.now),
            "redirect": body["redirect"],
            "status": "CR",
            "institution_id": body["institution_id"],
            "agreement": agreement["id"],
            "reference": reference,
            "accounts": [],
            "user_language": language.upper(),
            "link": f"https://ob.gocardless.com/ob-psd2/start/{uuid.uuid4()}/{body['institution_id']}",
            "ssn": body.get("ssn"),
            "account_selection": bool(body.get("account_selection", False)),
            "redirect_immediate": bool(body.get("redirect_immediate", False)),
        }
        self.requisitions[requisition_id] = requisition
        self.history[requisition_id] = ["CR"]
        self.adopted.add(agreement["id"])
        self.effect("requisition.create", reference)
        self.effect("agreement.create", reference)
        return requisition

    @route("GET", r"/api/v2/requisitions/")
    def list_requisitions(self, request: Request) -> Reply:
        limit = int(request.arg("limit", "100") or 100)
        offset = int(request.arg("offset", "0") or 0)
        with self.lock:
            for requisition in self.requisitions.values():
                self._expire_if_due(requisition)
            rows = list(self.requisitions.values())
        base = f"http://{request.header('host')}/api/v2/requisitions/"
        after = offset + limit
        return Reply(
            200,
            json={
                "count": len(rows),
                "next": f"{base}?limit={limit}&offset={after}" if after < len(rows) else None,
                "previous": f"{base}?limit={limit}&offset={max(0, offset - limit)}" if offset else None,
                "results": rows[offset:after],
            },
        )

    @route("GET", r"/api/v2/requisitions/(?P<requisition_id>[^/]+)/")
    def get_requisition(self, request: Request) -> Reply:
        with self.lock:
            requisition = self.requisitions.get(request.params["requisition_id"])
            if requisition is None:
                return error(404, "Not found.", "Not found.")
            self._expire_if_due(requisition)
            return Reply(200, json=dict(requisition))

    @route("DELETE", r"/api/v2/requisitions/(?P<requisition_id>[^/]+)/")
    def delete_requisition(self, request: Request) -> Reply:
        requisition_id = request.params["requisition_id"]
        with self.lock:
            requisition = self.requisitions.pop(requisition_id, None)
            if requisition is None:
                return error(404, "Not found.", "Not found.")
            self.agreements.pop(requisition["agreement"], None)
            self.effect("requisition.delete", requisition["reference"])
        return Reply(
            200,
            json={
                "summary": "Requisition deleted",
                "detail": f"Requisition '{requisition_id}' deleted with all its End User Agreements",
            },
        )

    def _expire_if_due(self, requisition: dict[str, Any]) -> None:
        """GoCardless moves a linked requisition to EX when its agreement's access period is over."""
        agreement = self.agreements.get(requisition["agreement"]) or {}
        if requisition["status"] == "LN" and agreement.get("accepted"):
            accepted = datetime.fromisoformat(agreement["accepted"])
            if self.now >= accepted + timedelta(days=agreement["access_valid_for_days"]):
                self.set_status(requisition["id"], "EX")

    # -- accounts ----------------------------------------------------------------------------------------------------

    @route("GET", r"/api/v2/accounts/(?P<account_id>[^/]+)/")
    def get_account(self, request: Request) -> Reply:
        with self.lock:
            requisition_id, account = self._account(request.params["account_id"])
            requisition = self.requisitions.get(requisition_id)
            status = {"LN": "READY", "SU": "SUSPENDED"}.get(requisition["status"] if requisition else "", "EXPIRED")
            return Reply(
                200,
                json={
                    "id": account.account_id,
                    "created": self._stamp(START),
                    "last_accessed": self._stamp(self.now),
                    "iban": account.iban,
                    "institution_id": requisition["institution_id"] if requisition else "",
                    "status": status,
                    "owner_name": account.owner_name,
                },
            )

    @route("GET", r"/api/v2/accounts/(?P<account_id>[^/]+)/details/")
    def account_details(self, request: Request) -> Reply:
        account, _agreement = self._readable(request, "details")
        return self._counted(
            request,
            "details",
            {
                "account": {
                    "resourceId": account.account_id,
                    "iban": account.iban,
                    "currency": account.currency,
                    "ownerName": account.owner_name,
                    "name": account.name,
                    "product": account.product,
                    "cashAccountType": "CACC" if account.product == "Compte courant" else "SVGS",
                }
            },
        )

    @route("GET", r"/api/v2/accounts/(?P<account_id>[^/]+)/balances/")
    def account_balances(self, request: Request) -> Reply:
        account, _agreement = self._readable(request, "balances")
        rows = [
            {
                "balanceAmount": {"amount": amount(balance.amount_cents), "currency": balance.currency},
                "balanceType": balance.kind,
                "referenceDate": balance.reference_date.isoformat() if balance.reference_date else None,
            }
            for balance in account.balances
        ]
        return self._counted(request, "balances", {"balances": rows})

    @route("GET", r"/api/v2/accounts/(?P<account_id>[^/]+)/transactions/")
    def account_transactions(self, request: Request) -> Reply:
        account, agreement = self._readable(request, "transactions")
        start = datetime.fromisoformat(agreement["accepted"]).date() - timedelta(days=agreement["max_historical_days"])
        since, until = self._date(request, "date_from") or start, self._date(request, "date_to") or date.max
        if since > until:
            return error(
                400,
                "Incorrect date range",
                f"Starting date '{since}' is greater than end date '{until}'. When specifying date range, starting "
                "date must precede the end date",
            )
        rows = [
            row for row in account.transactions if row.booking_date and max(start, since) <= row.booking_date <= until
        ]
        return self._counted(
            request,
            "transactions",
            {
                "transactions": {
                    "booked": [self._booked(row) for row in rows if row.booked],
                    "pending": [self._pending(row) for row in rows if not row.booked],
                }
            },
        )

    @staticmethod
    def _booked(row: Transaction) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "transactionId": row.transaction_id,
            "bookingDate": row.booking_date.isoformat() if row.booking_date else None,
            "valueDate": row.booking_date.isoformat() if row.booking_date else None,
            "transactionAmount": {"amount": amount(row.amount_cents), "currency": row.currency},
            "remittanceInformationUnstructured": row.label,
            "bankTransactionCode": "PMNT",
        }
        if row.counterparty:
            payload["creditorName" if row.amount_cents < 0 else "debtorName"] = row.counterparty
        return payload

    @staticmethod
    def _pending(row: Transaction) -> dict[str, Any]:
        return {
            "valueDate": row.booking_date.isoformat() if row.booking_date else None,
            "transactionAmount": {"amount": amount(row.amount_cents), "currency": row.currency},
            "remittanceInformationUnstructured": row.label,
        }

    def _account(self, account_id: str) -> tuple[str, SandboxAccount]:
        owner = self.accounts.get(account_id)
        if owner is None:
            raise Refuse(
                error(
                    404, f"Account ID {account_id} not found", "Please check whether you specified a valid Account ID"
                )
            )
        return owner

    def _readable(self, request: Request, endpoint: str) -> tuple[SandboxAccount, dict[str, Any]]:
        """The account, when its consent still lets GoCardless read it (else the documented refusal)."""
        gone = f"Couldn't update account {endpoint}"
        with self.lock:
            requisition_id, account = self._account(request.params["account_id"])
            requisition = self.requisitions.get(requisition_id)
            if requisition is not None:
                self._expire_if_due(requisition)
            if requisition is None or requisition["status"] == "EX":
                raise Refuse(error(401, gone, _ACCOUNT_GONE, type="AccessExpiredError"))
            if requisition["status"] == "SU":
                raise Refuse(
                    error(
                        409,
                        "Account suspended",
                        "This account or its requisition was suspended due to numerous errors that occurred while "
                        "accessing it.",
                    )
                )
            agreement = self.agreements[requisition["agreement"]]
            if endpoint not in agreement["access_scope"]:
                raise Refuse(
                    error(
                        403,
                        "End User Agreement (EUA) access scope error",
                        f"EUA doesn't allow access to account {endpoint}. Check EUA access scope.",
                    )
                )
            return account, agreement

    def _counted(self, request: Request, endpoint: str, payload: dict[str, Any]) -> Reply:
        """The bank's limit: successful calls per account and endpoint in the last 24 hours."""
        key = (request.params["account_id"], endpoint)
        with self.lock:
            recent = [moment for moment in self.reads.get(key, []) if moment > self.now - timedelta(days=1)]
            reset = int((recent[0] + timedelta(days=1) - self.now).total_seconds()) if recent else 86_400
            if len(recent) >= self.account_daily_limit:
                self.reads[key] = recent
                raise Refuse(
                    Reply(
                        429,
                        json={
                            "summary": f"Couldn't update account {endpoint}",
                            "detail": "Daily request limit set by the Institution has been exceeded.",
                            "status_code": 429,
                            "type": "RateLimitError",
                        },
                        headers=self._limit_headers(0, reset),
                    )
                )
            self.reads[key] = [*recent, self.now]
            return Reply(
                200, json=payload, headers=self._limit_headers(self.account_daily_limit - len(recent) - 1, reset)
            )

    def _limit_headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "99",
            "X-RateLimit-Reset": "60",
            "X-RateLimit-Account-Success-Limit": str(self.account_daily_limit),
            "X-RateLimit-Account-Success-Remaining": str(remaining),
            "X-RateLimit-Account-Success-Reset": str(reset),
        }

    # -- shapes ------------------------------------------------------------------------------------------------------

    @staticmethod
    def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
        if (request.header("content-type") or "").split(";")[0].strip() != "application/json":
            raise Refuse(error(415, "Unsupported media type", "Send the body as application/json."))
        body = request.json()
        if not isinstance(body, dict):
            raise Refuse(error(400, "Parse error", "JSON parse error"))
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise Refuse(error(400, "Unknown fields", f"Unknown fields {set(unknown)} in body"))
        return body

    @staticmethod
    def _require(body: dict[str, Any], names: tuple[str, ...]) -> None:
        absent = missing(body, names)
        if absent:
            raise Refuse(
                Reply(400, json={**{name: ["This field is required."] for name in absent}, "status_code": 400})
            )

    @staticmethod
    def _bounded(body: dict[str, Any], name: str, default: int, ceiling: int, what: str) -> int:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ceiling:
            raise field_error(name, f"Incorrect {name}", f"{name} must be > 0 and <= {what} ({ceiling})", as_list=True)
        return value

    @staticmethod
    def _date(request: Request, name: str) -> date | None:
        value = request.arg(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise Refuse(error(400, "Invalid date", f"{name} must be a date (YYYY-MM-DD)")) from None

    @staticmethod
    def _stamp(moment: datetime) -> str:
        return moment.isoformat().replace("+00:00", "Z")
