"""The ERP port over Odoo's external JSON-2 API (Odoo 19): `POST /json/2/<model>/<method>`, a bearer API key,
`X-Odoo-Database` when one server hosts several databases, a JSON object of named arguments, the method's return
value as the answer, and errors as 4xx/5xx with `{name, message, arguments, context, debug}` (docs/integrations/
odoo.md).

Odoo has no idempotency key, and each call is its own transaction. So every write is "look it up, then act only if
needed", and that whole step is what is retried, never the bare write: a `create` whose answer was lost is found on
the next attempt by its reference (the partner's `ref`, our customer reference; the invoice's `ref`, our invoice
number; the credit note's `reversed_entry_id`), and an `action_post` is sent only to a draft. The writes themselves
go through a client that makes one attempt; lookups go through the retrying client.

The caller's `key` is accepted as the port requires but not sent: the references above are Odoo's keys, and they
are stronger than a key per call (one invoice number gives one invoice in the books whoever sends it, and however
often)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from souscription.configuration import VendorAccess
from souscription.integrations.erp.odoo_states import (
    LINE_FIELDS,
    MOVE_FIELDS,
    PARTNER_FIELDS,
    OdooAnswerInvalid,
    cents_of,
    credit_note_vals,
    erp_invoice_of,
    invoice_vals,
    many2one_id,
    number_of,
    partner_changes,
    partner_vals,
    tax_percent,
)
from souscription.integrations.erp.port import (
    Customer,
    ErpCustomer,
    ErpInvoice,
    ErpReversal,
    InstalmentInvoice,
    ReversalOutcome,
    tax_cents,
)
from souscription.integrations.erp.quality import Checked, RecordRejected, check_customer, check_invoice
from souscription.integrations.errors import VendorRejected, VendorUnavailable
from souscription.integrations.http import VendorClient, breaker_for
from souscription.integrations.metrics import METRICS, Metrics
from souscription.integrations.resilience import CircuitBreaker, FailureKind, RetryPolicy

VENDOR = "odoo"
WRITES = frozenset({"partner.create", "move.create", "move.post", "move.cancel"})
"""The calls that are not idempotent in Odoo: sent once each, the step around them is what is retried."""
T = TypeVar("T")
R = TypeVar("R")


def odoo_error_code(response: httpx.Response) -> str:
    """The exception's qualified name (`odoo.exceptions.ValidationError`): never its message, which may quote
    the record's personal data."""
    try:
        name = response.json().get("name", "")
    except (ValueError, AttributeError):
        return ""
    return name if isinstance(name, str) else ""


class OdooErp:
    """`ErpPort` for Odoo. Raises `VendorUnavailable`, `VendorRejected` or `quality.RecordRejected`."""

    def __init__(
        self,
        access: VendorAccess,
        *,
        timeout: float | None = None,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: Metrics | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        draw: Callable[[], float] | None = None,
    ) -> None:
        if not access.url or not access.token:
            raise ValueError("Odoo : SOUSCRIPTION_ODOO_URL et SOUSCRIPTION_ODOO_TOKEN sont obligatoires.")
        self._headers = {"Authorization": f"bearer {access.token}"}
        if access.account:
            self._headers["X-Odoo-Database"] = access.account
        self._policy = policy or RetryPolicy()
        self._sleep = sleep or time.sleep
        self._draw = draw or random.random
        shared: dict[str, Any] = {
            "vendor": VENDOR,
            "base_url": access.url,
            "auth": lambda: self._headers,
            "timeout": timeout or 10.0,
            "error_code": odoo_error_code,
            "metrics": metrics or METRICS,
            "transport": transport,
            "sleep": self._sleep,
            "draw": self._draw,
            "breaker": breaker or breaker_for(VENDOR),
        }
        self._lookups = VendorClient(policy=self._policy, **shared)
        self._writes = VendorClient(policy=RetryPolicy(attempts=1), **shared)
        self._ids: dict[tuple[str, str], int] = {}
        self._ids_lock = threading.Lock()

    def close(self) -> None:
        self._lookups.close()
        self._writes.close()

    # -- the port ------------------------------------------------------------------------------------------------

    def upsert_customer(self, customer: Customer, *, key: str) -> ErpCustomer:
        record = _sendable(check_customer(customer))
        wanted = partner_vals(record, self._country_id(record.country_code))
        return self._converge("upsert_customer", lambda: self._upsert_once(record, wanted))

    def post_invoice(self, invoice: InstalmentInvoice, *, customer_erp_id: str, key: str) -> ErpInvoice:
        record = _sendable(check_invoice(invoice))
        if not customer_erp_id.isdigit():
            raise ValueError(f"Odoo : identifiant de partenaire « {customer_erp_id} » illisible (upsert_customer).")
        return self._converge("post_invoice", lambda: self._post_once(record, int(customer_erp_id)))

    def invoice_status(self, invoice_id: str) -> ErpInvoice | None:
        reference = invoice_id.strip().upper()
        move = self._find_invoice(reference)
        return None if move is None else self._parsed("invoice_status", erp_invoice_of, move, reference)

    def reverse_invoice(self, invoice_id: str, *, reason: str, key: str) -> ErpReversal:
        reference, why = invoice_id.strip().upper(), " ".join(reason.split())
        if not why:
            raise ValueError("Odoo : indiquez le motif de l'avoir (il figure sur la pièce comptable).")
        return self._converge("reverse_invoice", lambda: self._reverse_once(reference, why))

    # -- one attempt of each write: look up, then act only if needed ---------------------------------------------

    def _upsert_once(self, record: Customer, wanted: Mapping[str, Any]) -> ErpCustomer:
        found = self._find_one("res.partner", "partner.search", [["ref", "=", record.reference]], PARTNER_FIELDS)
        if found is None:
            created = self._call(
                self._writes, "res.partner", "create", "partner.create", vals_list=[{**wanted, "customer_rank": 1}]
            )
            return ErpCustomer(str(self._created_id("upsert_customer", created)), record.reference, created=True)
        changes = partner_changes(found, wanted)
        if changes:
            self._call(self._lookups, "res.partner", "write", "partner.write", ids=[found["id"]], vals=changes)
        return ErpCustomer(str(found["id"]), record.reference, created=False)

    def _post_once(self, record: InstalmentInvoice, partner_id: int) -> ErpInvoice:
        move = self._find_invoice(record.invoice_id)
        if move is None:
            vals = invoice_vals(
                record,
                partner_id=partner_id,
                currency_id=self._currency_id(record.currency),
                tax_id=self._tax_id(record.tax_rate),
            )
            created = self._call(self._writes, "account.move", "create", "move.create", vals_list=[vals])
            move = self._read_move(self._created_id("post_invoice", created))
        if move.get("state") == "draft":
            self._check_matches(move, record, partner_id)
            move = self._posted(move)
        return self._parsed("post_invoice", erp_invoice_of, move, record.invoice_id)

    def _reverse_once(self, reference: str, reason: str) -> ErpReversal:
        move = self._find_invoice(reference)
        if move is None:
            return ErpReversal(reference, ReversalOutcome.NOTHING_TO_REVERSE)
        if move.get("state") == "draft":
            self._call(self._writes, "account.move", "button_cancel", "move.cancel", ids=[move["id"]])
        if move.get("state") in ("draft", "cancel"):
            return ErpReversal(reference, ReversalOutcome.CANCELLED)
        domain = [["move_type", "=", "out_refund"], ["reversed_entry_id", "=", move["id"]], ["state", "!=", "cancel"]]
        credit = self._find_one("account.move", "move.search", domain, MOVE_FIELDS)
        if credit is None:
            lines = self._call(
                self._lookups,
                "account.move.line",
                "search_read",
                "move_line.search",
                domain=[["move_id", "=", move["id"]], ["display_type", "=", "product"]],
                fields=list(LINE_FIELDS),
            )
            vals = self._parsed("reverse_invoice", lambda: credit_note_vals(move, _rows(lines), reason=reason))
            created = self._call(self._writes, "account.move", "create", "move.create", vals_list=[vals])
            credit = self._read_move(self._created_id("reverse_invoice", created))
        if credit.get("state") == "draft":
            credit = self._posted(credit)
        return ErpReversal(reference, ReversalOutcome.CREDIT_NOTE, str(credit["id"]), number_of(credit))

    def _posted(self, move: Mapping[str, Any]) -> dict[str, Any]:
        """Post a draft. Odoo refuses to post a posted entry (422, `UserError`): when another worker posted it in
        between, the refusal is the answer we wanted."""
        try:
            self._call(self._writes, "account.move", "action_post", "move.post", ids=[move["id"]])
        except VendorRejected:
            current = self._read_move(move["id"])
            if current.get("state") != "posted":
                raise
            return current
        return self._read_move(move["id"])

    def _check_matches(self, move: Mapping[str, Any], record: InstalmentInvoice, partner_id: int) -> None:
        """A draft is posted only if it is the invoice we mean: our customer, our amounts (a tax configured
        « included in price » in Odoo, say, would change them). Otherwise it stays a draft for an accountant."""
        expected_tax = tax_cents(record.amount_excl_tax_cents, record.tax_rate)
        found = self._parsed(
            "post_invoice",
            lambda: (
                many2one_id(move.get("partner_id")),
                cents_of(move.get("amount_untaxed")),
                cents_of(move.get("amount_tax")),
            ),
        )
        if found != (partner_id, record.amount_excl_tax_cents, expected_tax):
            raise _rejected(
                "post_invoice",
                "invoice_mismatch",
                f"la facture {record.invoice_id} dans Odoo ne correspond pas (client, montant hors taxe ou taxe) : "
                "elle reste en brouillon, un comptable la vérifie",
            )

    # -- lookups ---------------------------------------------------------------------------------------------------

    def _find_invoice(self, reference: str) -> dict[str, Any] | None:
        domain = [["move_type", "=", "out_invoice"], ["ref", "=", reference]]
        return self._find_one("account.move", "move.search", domain, MOVE_FIELDS)

    def _find_one(
        self, model: str, operation: str, domain: list[list[Any]], fields: Sequence[str]
    ) -> dict[str, Any] | None:
        """The one record matching `domain`, archived ones included; a cancelled one only when it is alone (a
        person may cancel our invoice and make another by hand). Two live matches: a person must merge them."""
        rows = _rows(
            self._call(
                self._lookups,
                model,
                "search_read",
                operation,
                domain=domain,
                fields=list(fields),
                order="id desc",
                limit=5,
                context={"active_test": False},
            )
        )
        live = [row for row in rows if row.get("state") != "cancel"]
        if len(live) > 1:
            ids = ", ".join(str(row.get("id")) for row in live)
            raise _rejected(
                operation, "duplicate_reference", f"plusieurs fiches Odoo ({ids}) portent la même référence"
            )
        return live[0] if live else (rows[0] if rows else None)

    def _read_move(self, move_id: int) -> dict[str, Any]:
        rows = _rows(
            self._call(self._lookups, "account.move", "read", "move.read", ids=[move_id], fields=list(MOVE_FIELDS))
        )
        if not rows:
            raise _rejected("move.read", "invalid_answer", f"la pièce Odoo {move_id} est introuvable")
        return rows[0]

    def _country_id(self, code: str) -> int:
        return self._configured("res.country", "country.search", [["code", "=", code]], code, "le pays")

    def _currency_id(self, code: str) -> int:
        return self._configured("res.currency", "currency.search", [["name", "=", code]], code, "la devise active")

    def _tax_id(self, rate: Decimal) -> int | None:
        if rate == 0:
            return None
        domain: list[list[Any]] = [
            ["type_tax_use", "=", "sale"],
            ["amount_type", "=", "percent"],
            ["amount", "=", tax_percent(rate)],
            ["price_include", "=", False],
        ]
        return self._configured("account.tax", "tax.search", domain, f"{tax_percent(rate):g} %", "une taxe de vente de")

    def _configured(self, model: str, operation: str, domain: list[list[Any]], what: str, label: str) -> int:
        """Ids of the database's configuration (countries, currencies, taxes), cached for the adapter's life:
        they change when an administrator changes the database, not between two invoices."""
        cache_key = (model, what)
        with self._ids_lock:
            known = self._ids.get(cache_key)
        if known is not None:
            return known
        rows = _rows(self._call(self._lookups, model, "search_read", operation, domain=domain, fields=["id"], limit=1))
        if not rows or not isinstance(rows[0].get("id"), int):
            raise _rejected(operation, "not_configured", f"{label} {what} n'existe pas dans Odoo : configurez-la")
        found = int(rows[0]["id"])
        with self._ids_lock:
            self._ids[cache_key] = found
        return found

    # -- plumbing ----------------------------------------------------------------------------------------------------

    def _call(self, client: VendorClient, model: str, method: str, operation: str, **arguments: Any) -> Any:
        response = client.request("POST", f"/json/2/{model}/{method}", operation=operation, json=arguments)
        try:
            return response.json()
        except ValueError:
            raise _rejected(operation, "invalid_answer", "Odoo a répondu autre chose que du JSON") from None

    def _converge(self, operation: str, attempt_once: Callable[[], T]) -> T:
        """Retry the whole look-up-then-act step when a write failed transiently, with the policy's backoff: the
        next attempt sees what the lost one did. A lookup that failed has had its retries already."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return attempt_once()
            except VendorUnavailable as failure:
                retry = failure.operation in WRITES and self._policy.should_retry(
                    attempt, failure.kind, failure.retry_after
                )
                if not retry:
                    raise
                self._sleep(self._policy.delay(attempt, self._draw(), failure.retry_after))

    def _created_id(self, operation: str, created: object) -> int:
        """`create` answers the new records' ids: `[42]`."""
        if isinstance(created, list) and len(created) == 1 and isinstance(created[0], int):
            return created[0]
        raise _rejected(operation, "invalid_answer", "Odoo n'a pas rendu l'identifiant de la fiche créée")

    def _parsed(self, operation: str, parse: Callable[..., R], *arguments: Any) -> R:
        try:
            return parse(*arguments)
        except OdooAnswerInvalid as invalid:
            raise _rejected(operation, invalid.code, str(invalid)) from None


def _sendable(checked: Checked[T]) -> T:
    if not checked.ok:
        raise RecordRejected(checked.rejects)
    return checked.record


def _rows(answer: object) -> list[dict[str, Any]]:
    if isinstance(answer, list) and all(isinstance(row, dict) for row in answer):
        return answer
    raise _rejected("search_read", "invalid_answer", "Odoo n'a pas rendu une liste de fiches")


def _rejected(operation: str, code: str, message: str) -> VendorRejected:
    return VendorRejected(VENDOR, operation, FailureKind.REJECTED, message, vendor_code=code)
