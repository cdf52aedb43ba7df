"""A fake Odoo 19 speaking the external JSON-2 API, stateful, as strict as the real one where the adapter meets it.

What it enforces, as Odoo does (its JSON-2 controller `controllers/json2.py`, odoo/http.py, account.move):
- `POST /json/2/<model>/<method>` only (any other method or path under /json/2 is a 404); `Content-Type:
  application/json`; the body a JSON object (400 otherwise); `Authorization: bearer <key>` (401 `Invalid apikey`
  for a wrong key, 403 without one); `X-Odoo-Database` naming its database when `database` is set (404 otherwise:
  an assumption, Odoo's answer depends on its dbfilter);
- named arguments bound to the method's signature (422 for a missing or unexpected one), `ids` refused on
  model methods (`create`, `search_read`: 422), unknown model or method 404, private methods 404;
- errors as `{name, message, arguments, context, debug}`: UserError and ValidationError 422, MissingError 404,
  AccessError 403, an unknown field a `builtins.ValueError` 500 (as Odoo, which does not validate field names
  before running);
- `account.move`: amounts computed from the lines and their percent taxes (half up to the cent), draft named `/`,
  `action_post` numbers it (`INV/2026/00001`, credit notes `RINV/...`) and refuses an entry already posted
  (`UserError`, as `_post` does), `button_cancel` resets a posted entry and cancels it, refuses a cancelled one.

Side effects are counted under the record's reference: `partner.create` (partner `ref`), `move.create`,
`move.post`, `move.cancel` (invoice `ref`), `move.reverse` (the reversed invoice's `ref`). A test walks the
payment states (`start_payment`, `pay`, `block_payment`, `set_payment_state`) and can lose the answer of the next
call to a method (`lose_answer`: Odoo did it, the platform never heard) or make it unavailable (`unavailable`)."""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import socket
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.base import FakeVendor, FaultPlan, Reply, Request, route

API_KEY = "6578616d706c65206a736f6e20617069206b6579"
RPC = re.compile(r"/json/2/(?P<model>[^/]+)/(?P<method>[^/]+)")

WRITABLE = {
    "res.partner": {"name", "email", "street", "zip", "city", "country_id", "ref", "active", "customer_rank"},
    "account.move": {
        "move_type",
        "partner_id",
        "ref",
        "invoice_origin",
        "invoice_date",
        "currency_id",
        "invoice_line_ids",
        "reversed_entry_id",
        "narration",
    },
}
COMPUTED = {
    "res.partner": {"id", "display_name"},
    "res.country": {"id", "name", "code"},
    "res.currency": {"id", "name", "active", "symbol"},
    "account.tax": {"id", "name", "amount", "amount_type", "type_tax_use", "price_include", "active"},
    "account.move": {
        "id",
        "name",
        "state",
        "payment_state",
        "amount_untaxed",
        "amount_tax",
        "amount_total",
        "amount_residual",
        "display_name",
    },
    "account.move.line": {"id", "move_id", "name", "quantity", "price_unit", "tax_ids", "display_type", "balance"},
}
MANY2ONE = {
    ("res.partner", "country_id"): "res.country",
    ("account.move", "partner_id"): "res.partner",
    ("account.move", "currency_id"): "res.currency",
    ("account.move", "reversed_entry_id"): "account.move",
    ("account.move.line", "move_id"): "account.move",
}
MOVE_TYPES = {"entry", "out_invoice", "out_refund", "in_invoice", "in_refund", "out_receipt", "in_receipt"}
PAYMENT_STATES = {"not_paid", "in_payment", "paid", "partial", "reversed", "blocked", "invoicing_legacy"}


class OdooError(Exception):
    """An exception as Odoo's JSON-2 dispatcher serialises it (`odoo.http.serialize_exception`)."""

    def __init__(self, status: int, name: str, message: str, *, werkzeug: bool = False) -> None:
        self.status, self.name, self.message = status, name, message
        self.arguments = [message, status] if werkzeug else [message]
        super().__init__(message)

    def reply(self) -> Reply:
        debug = f'Traceback (most recent call last):\n  File "fake odoo"\n{self.name}: {self.message}\n'
        body: dict[str, Any] = {
            "name": self.name,
            "message": self.message,
            "arguments": self.arguments,
            "context": {},
            "debug": debug,
        }
        return Reply(self.status, json=body, content_type="application/json; charset=utf-8")


def http_error(status: int, exception: str, message: str) -> OdooError:
    return OdooError(status, f"werkzeug.exceptions.{exception}", message, werkzeug=True)


def user_error(message: str) -> OdooError:
    return OdooError(422, "odoo.exceptions.UserError", message)


def validation_error(message: str) -> OdooError:
    return OdooError(422, "odoo.exceptions.ValidationError", message)


def invalid_field(model: str, field: str) -> OdooError:
    return OdooError(500, "builtins.ValueError", f"Invalid field {field!r} on model {model!r}")


def money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


class FakeOdoo(FakeVendor):
    name = "odoo"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        api_key: str = API_KEY,
        database: str = "souscription",
        tax_percents: tuple[float, ...] = (9.0, 20.0),
    ) -> None:
        super().__init__(faults)
        self.api_key, self.database, self._tax_percents = api_key, database, tax_percents
        self.reset()

    def reset(self) -> None:
        """Back to a fresh database (same server): tests share one server, as starting and stopping one costs
        the base server's half-second poll."""
        with self.lock:
            self.records: dict[str, dict[int, dict[str, Any]]] = {model: {} for model in COMPUTED}
            self._next_id: Counter[str] = Counter()
            self._sequences: Counter[str] = Counter()
            self._lost: Counter[tuple[str, str]] = Counter()
            self._unavailable: Counter[tuple[str, str]] = Counter()
            self.effects.clear()
            self.calls.clear()
            self.faults_injected.clear()
            self._seed(self._tax_percents)

    def _seed(self, tax_percents: tuple[float, ...]) -> None:
        for code, country in (("FR", "France"), ("BE", "Belgium"), ("LU", "Luxembourg"), ("DE", "Germany")):
            self._insert("res.country", {"code": code, "name": country})
        self._insert("res.currency", {"name": "EUR", "symbol": "€", "active": True})
        self._insert("res.currency", {"name": "USD", "symbol": "$", "active": False})
        for percent in tax_percents:
            # Decoys first: a purchase tax and a tax included in the price at the same rate must not be picked.
            base = {"amount": percent, "amount_type": "percent", "active": True}
            self._insert("account.tax", {**base, "name": f"{percent:g}% achat", "type_tax_use": "purchase"})
            self._insert(
                "account.tax", {**base, "name": f"{percent:g}% TTC", "type_tax_use": "sale", "price_include": True}
            )
            self._insert(
                "account.tax", {**base, "name": f"{percent:g}%", "type_tax_use": "sale", "price_include": False}
            )

    # -- what a test uses ------------------------------------------------------------------------------------------

    def partner(self, ref: str) -> dict[str, Any] | None:
        with self.lock:
            return next((dict(p) for p in self.records["res.partner"].values() if p.get("ref") == ref), None)

    def moves(self, move_type: str = "out_invoice") -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m) for m in self.records["account.move"].values() if m["move_type"] == move_type]

    def move(self, ref: str) -> dict[str, Any]:
        found = [m for m in self.moves() if m.get("ref") == ref]
        assert len(found) == 1, f"{len(found)} invoices with ref {ref}"
        return found[0]

    def credit_notes_of(self, ref: str) -> list[dict[str, Any]]:
        original = self.move(ref)["id"]
        return [m for m in self.moves("out_refund") if m.get("reversed_entry_id") == original]

    def start_payment(self, ref: str) -> None:
        """A payment registered, not yet matched with the bank statement."""
        self.set_payment_state(ref, "in_payment")

    def pay(self, ref: str, cents: int | None = None) -> None:
        """A payment reconciled with the invoice: in full, or `cents` of it."""
        with self.lock:
            move = self._by_ref(ref)
            paid = Decimal(cents).scaleb(-2) if cents is not None else Decimal(str(move["amount_residual"]))
            residual = Decimal(str(move["amount_residual"])) - paid
            move["amount_residual"] = money(residual)
            move["payment_state"] = "paid" if residual <= 0 else "partial"

    def block_payment(self, ref: str) -> None:
        self.set_payment_state(ref, "blocked")

    def set_payment_state(self, ref: str, state: str) -> None:
        """Any value, even one Odoo does not have: the adapter must refuse what it does not know."""
        with self.lock:
            self._by_ref(ref)["payment_state"] = state

    def archive_partner(self, ref: str) -> None:
        with self.lock:
            next(p for p in self.records["res.partner"].values() if p.get("ref") == ref)["active"] = False

    def seed_invoice(self, ref: str, *, partner_ref: str, price_unit: float, tax_percent: float) -> int:
        """A draft invoice made in Odoo by hand, with our reference."""
        with self.lock:
            partner = next(p for p in self.records["res.partner"].values() if p.get("ref") == partner_ref)
            tax = next(
                t["id"]
                for t in self.records["account.tax"].values()
                if t["amount"] == tax_percent and t["type_tax_use"] == "sale" and not t.get("price_include")
            )
            vals = {"move_type": "out_invoice", "partner_id": partner["id"], "ref": ref, "currency_id": 1}
            line = {"name": "Saisie manuelle", "quantity": 1, "price_unit": price_unit, "tax_ids": [[6, 0, [tax]]]}
            return self._create_move({**vals, "invoice_line_ids": [[0, 0, line]]}, count=False)

    def lose_answer(self, model: str, method: str, times: int = 1) -> None:
        """The next `times` calls to `model.method` are carried out, then the connection drops before the answer."""
        with self.lock:
            self._lost[(model, method)] += times

    def unavailable(self, model: str, method: str, times: int = 1) -> None:
        """The next `times` calls to `model.method` get a 503 before anything is done."""
        with self.lock:
            self._unavailable[(model, method)] += times

    # -- HTTP ------------------------------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Reply | None:
        if request.method != "POST" or not RPC.fullmatch(request.path):
            return None  # Odoo's catch-all 404 under /json/2 is public
        header = request.header("authorization") or ""
        bearer = re.match(r"^bearer\s+(.+)$", header, re.IGNORECASE)
        if bearer is None:
            return OdooError(403, "odoo.http.SessionExpiredException", "Session expired").reply()
        if bearer.group(1) != self.api_key:
            return http_error(401, "Unauthorized", "Invalid apikey").reply()
        if self.database and request.header("x-odoo-database") != self.database:
            return http_error(404, "NotFound", "database not found").reply()
        return None

    @route("POST", r"/json/2/(?P<model>[^/]+)/(?P<method>[^/]+)")
    def rpc(self, request: Request) -> Reply:
        try:
            with self.lock:
                arguments = self._arguments(request)
                call = (request.params["model"], request.params["method"])
                if self._unavailable[call] > 0:
                    self._unavailable[call] -= 1
                    return Reply(503, body=b"Service Unavailable", content_type="text/html")
                result = self._run(*call, arguments)
        except OdooError as error:
            return error.reply()
        # The method's return value, whatever it is (`false` from action_post included).
        return Reply(200, body=json.dumps(result).encode(), content_type="application/json; charset=utf-8")

    def not_found(self, request: Request) -> Reply:
        if request.path.startswith("/json/2"):
            return http_error(404, "NotFound", "Did you mean POST /json/2/<model>/<method>?").reply()
        return http_error(404, "NotFound", "The requested URL was not found on the server.").reply()

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        """Lost answers: the call is carried out, then the connection is closed without a word."""
        path = urlsplit(handler.path).path
        match = RPC.fullmatch(path)
        call = (match["model"], match["method"]) if match and handler.command == "POST" else ("", "")
        with self.lock:
            lose = self._lost[call] > 0
            if lose:
                self._lost[call] -= 1
                self.calls.append(("POST", path, None))
        if not lose:
            super()._dispatch(handler)
            return
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        self._handle(Request("POST", path, {}, headers, body))
        self._reset(handler)

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        # The base server writes the headers and the body separately: without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK hold every answer back ~40 ms.
        with contextlib.suppress(OSError):
            handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._send(handler, reply)

    def _arguments(self, request: Request) -> dict[str, Any]:
        content_type = (request.header("content-type") or "").split(";")[0].strip()
        if content_type != "application/json":
            message = "Request inferred type is compatible with ['http'] but '/json/2/rpc' was expected."
            raise http_error(400, "BadRequest", message)
        if not request.body:
            return {}
        try:
            arguments = json.loads(request.body)
        except ValueError as exc:
            raise http_error(400, "BadRequest", f"could not parse the body as json: {exc.args[0]}") from None
        if not isinstance(arguments, dict):
            raise http_error(400, "BadRequest", "could not parse the body, expecting a json object")
        return arguments

    # -- the ORM, as much as the adapter meets ---------------------------------------------------------------------

    def _methods(self, model: str) -> dict[str, tuple[Callable[..., Any], bool]]:
        """Public methods of a model: (function, is a model method that takes no ids)."""
        methods: dict[str, tuple[Callable[..., Any], bool]] = {
            "search_read": (self._search_read, True),
            "read": (self._read, False),
            "create": (self._create, True),
        }
        if model in WRITABLE:
            methods["write"] = (self._write, False)
        if model == "account.move":
            methods["action_post"] = (self._action_post, False)
            methods["button_cancel"] = (self._button_cancel, False)
        return methods

    def _run(self, model: str, method: str, arguments: dict[str, Any]) -> Any:
        if model not in COMPUTED:
            raise http_error(404, "NotFound", f"the model {model!r} does not exist")
        if method.startswith("_"):
            message = f"Private methods (such as '{model}.{method}') cannot be called remotely."
            raise http_error(404, "NotFound", message)
        known = self._methods(model).get(method)
        if known is None:
            raise http_error(404, "NotFound", f"The method '{model}.{method}' does not exist")
        function, model_method = known
        ids = arguments.pop("ids", [])
        context = arguments.pop("context", {})
        if model_method and ids:
            raise http_error(422, "UnprocessableEntity", f"cannot call {model}.{method} with ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids) or not isinstance(context, dict):
            raise OdooError(500, "builtins.TypeError", "ids must be a list of integers, context an object")
        try:
            inspect.signature(function).bind(model, ids, context, **arguments)
        except TypeError as exc:
            raise http_error(422, "UnprocessableEntity", exc.args[0]) from None
        return function(model, ids, context, **arguments)

    def _search_read(
        self,
        model: str,
        ids: list[int],
        context: dict[str, Any],
        domain: list[Any] | None = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        rows = [r for r in self.records[model].values() if self._matches(model, r, domain or [])]
        if context.get("active_test", True):
            rows = [r for r in rows if r.get("active", True)]
        if order not in (None, "id", "id asc", "id desc"):
            raise OdooError(500, "builtins.ValueError", f"Invalid order {order!r}")
        rows.sort(key=lambda r: r["id"], reverse=order == "id desc")
        rows = rows[offset : offset + limit if limit else None]
        return [self._shown(model, r, fields) for r in rows]

    def _read(
        self,
        model: str,
        ids: list[int],
        context: dict[str, Any],
        fields: list[str] | None = None,
        load: str = "_classic_read",
    ) -> list[dict[str, Any]]:
        return [self._shown(model, self._existing(model, i), fields) for i in ids]

    def _create(self, model: str, ids: list[int], context: dict[str, Any], vals_list: Any) -> list[int]:
        if model not in WRITABLE:
            raise OdooError(403, "odoo.exceptions.AccessError", f"You are not allowed to create '{model}' records.")
        values = [vals_list] if isinstance(vals_list, dict) else vals_list
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            raise OdooError(500, "builtins.TypeError", "vals_list must be a list of objects")
        for vals in values:
            self._check_fields(model, vals)
        if model == "res.partner":
            return [self._create_partner(vals) for vals in values]
        return [self._create_move(vals) for vals in values]

    def _write(self, model: str, ids: list[int], context: dict[str, Any], vals: dict[str, Any]) -> bool:
        self._check_fields(model, vals)
        for i in ids:
            record = self._existing(model, i)
            if model == "account.move" and record["state"] != "draft":
                raise user_error("You cannot edit a posted or cancelled entry; reset it to draft first.")
            self._check_many2one(model, vals)
            record.update(vals)
        return True

    def _action_post(self, model: str, ids: list[int], context: dict[str, Any]) -> bool:
        moves = [self._existing(model, i) for i in ids]
        for move in moves:
            if move["state"] == "posted":
                raise user_error(f"The entry {move['name']} (id {move['id']}) is already posted.")
            if move["state"] != "draft":
                raise user_error("Only draft journal entries can be posted.")
            if not any(line["display_type"] == "product" for line in self._lines(move["id"])):
                raise user_error("You need to add a line before posting.")
            if not self.records["res.currency"][move["currency_id"]]["active"]:
                raise user_error("You cannot validate a document with an inactive currency.")
        for move in moves:
            move.setdefault("invoice_date", date.today().isoformat())
            year = str(move["invoice_date"])[:4]
            prefix = "RINV" if move["move_type"] == "out_refund" else "INV"
            self._sequences[f"{prefix}/{year}"] += 1
            move["name"] = f"{prefix}/{year}/{self._sequences[f'{prefix}/{year}']:05d}"
            move["state"], move["payment_state"] = "posted", "not_paid"
            self.effect("move.post", self._effect_key(move))
        return False

    def _button_cancel(self, model: str, ids: list[int], context: dict[str, Any]) -> bool:
        moves = [self._existing(model, i) for i in ids]
        if any(move["state"] == "cancel" for move in moves):
            raise user_error("Only draft journal entries can be cancelled.")
        for move in moves:
            move["state"] = "cancel"  # a posted entry is reset to draft first, as Odoo's shortcut does
            self.effect("move.cancel", self._effect_key(move))
        return True

    # -- records ---------------------------------------------------------------------------------------------------

    def _insert(self, model: str, values: dict[str, Any]) -> int:
        self._next_id[model] += 1
        record_id = self._next_id[model]
        self.records[model][record_id] = {"id": record_id, **values}
        return record_id

    def _create_partner(self, vals: dict[str, Any]) -> int:
        if not vals.get("name"):
            raise validation_error("Contacts require a name")
        self._check_many2one("res.partner", vals)
        partner_id = self._insert("res.partner", {"active": True, "customer_rank": 0, **vals})
        self.effect("partner.create", str(vals.get("ref") or partner_id))
        return partner_id

    def _create_move(self, vals: dict[str, Any], *, count: bool = True) -> int:
        move_type = vals.get("move_type", "entry")
        if move_type not in MOVE_TYPES:
            raise validation_error(f"Wrong value for account.move.move_type: {move_type!r}")
        self._check_many2one("account.move", vals)
        if vals.get("invoice_date") is not None:
            try:
                date.fromisoformat(str(vals["invoice_date"]))
            except ValueError as exc:
                raise OdooError(500, "builtins.ValueError", str(exc)) from None
        commands = vals.get("invoice_line_ids", [])
        record = {k: v for k, v in vals.items() if k != "invoice_line_ids"}
        record.setdefault("currency_id", 1)
        move_id = self._insert("account.move", {**record, "move_type": move_type, "name": "/", "state": "draft"})
        self.records["account.move"][move_id]["payment_state"] = "not_paid"
        self._add_lines(move_id, commands)
        if count:
            reversed_id = vals.get("reversed_entry_id")
            if reversed_id:
                self.effect("move.reverse", str(self.records["account.move"][reversed_id].get("ref")))
            else:
                self.effect("move.create", str(vals.get("ref") or move_id))
        return move_id

    def _add_lines(self, move_id: int, commands: Any) -> None:
        untaxed, tax = Decimal(0), Decimal(0)
        for command in self._commands(commands):
            line = command[2]
            unknown = set(line) - {"name", "quantity", "price_unit", "tax_ids", "account_id"}
            if unknown:
                raise invalid_field("account.move.line", sorted(unknown)[0])
            taxes = self._tax_ids(line.get("tax_ids", []))
            subtotal = (Decimal(str(line.get("price_unit", 0))) * Decimal(str(line.get("quantity", 1)))).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            )
            for tax_id in taxes:
                tax += (subtotal * Decimal(str(self.records["account.tax"][tax_id]["amount"])) / 100).quantize(
                    Decimal("0.01"), ROUND_HALF_UP
                )
            untaxed += subtotal
            self._insert(
                "account.move.line",
                {
                    "move_id": move_id,
                    "name": line.get("name", ""),
                    "quantity": line.get("quantity", 1),
                    "price_unit": line.get("price_unit", 0),
                    "tax_ids": taxes,
                    "display_type": "product",
                },
            )
        # Odoo adds its own lines (the tax, the receivable): a reader must keep to the product lines.
        self._insert("account.move.line", {"move_id": move_id, "name": "Taxe", "display_type": "tax", "tax_ids": []})
        self._insert(
            "account.move.line", {"move_id": move_id, "name": "", "display_type": "payment_term", "tax_ids": []}
        )
        total = untaxed + tax
        self.records["account.move"][move_id].update(
            amount_untaxed=money(untaxed),
            amount_tax=money(tax),
            amount_total=money(total),
            amount_residual=money(total),
        )

    @staticmethod
    def _commands(commands: Any) -> list[list[Any]]:
        """`[[0, 0, {values}], ...]`: creation commands only, as the adapter sends."""
        if not isinstance(commands, list) or not all(
            isinstance(c, list) and len(c) == 3 and c[0] == 0 and isinstance(c[2], dict) for c in commands
        ):
            raise validation_error("invoice_line_ids expects a list of commands [0, 0, {values}]")
        return commands

    def _tax_ids(self, commands: Any) -> list[int]:
        ids: list[int] = []
        for command in commands if isinstance(commands, list) else [None]:
            if isinstance(command, list) and len(command) == 3 and command[0] == 6 and isinstance(command[2], list):
                ids = list(command[2])
            elif isinstance(command, list) and len(command) >= 2 and command[0] == 4:
                ids.append(command[1])
            else:
                raise validation_error("tax_ids expects [[6, 0, [ids]]] or [[4, id]]")
        for tax_id in ids:
            tax = self.records["account.tax"].get(tax_id)
            if tax is None or tax["type_tax_use"] != "sale":
                raise validation_error(f"Tax {tax_id} cannot be used on a customer invoice.")
        return ids

    def _lines(self, move_id: int) -> list[dict[str, Any]]:
        return [line for line in self.records["account.move.line"].values() if line["move_id"] == move_id]

    def _check_fields(self, model: str, vals: dict[str, Any]) -> None:
        for field in vals:
            if field not in WRITABLE.get(model, set()) and field not in COMPUTED[model]:
                raise invalid_field(model, field)
            if field not in WRITABLE.get(model, set()):
                raise validation_error(f"The field {field!r} of {model!r} is computed by Odoo.")

    def _check_many2one(self, model: str, vals: dict[str, Any]) -> None:
        for (owner, field), target in MANY2ONE.items():
            value = vals.get(field)
            if owner == model and value not in (None, False) and value not in self.records[target]:
                raise validation_error(f"The operation cannot be completed: {field} refers to a missing record.")

    def _existing(self, model: str, record_id: int) -> dict[str, Any]:
        record = self.records[model].get(record_id)
        if record is None:
            message = f"Record does not exist or has been deleted.\n(Record: {model}({record_id},), User: 2)"
            raise OdooError(404, "odoo.exceptions.MissingError", message)
        return record

    def _matches(self, model: str, record: dict[str, Any], domain: list[Any]) -> bool:
        for leaf in domain:
            if not (isinstance(leaf, list) and len(leaf) == 3 and isinstance(leaf[0], str)):
                raise OdooError(500, "builtins.ValueError", f"Invalid leaf {leaf!r}")
            name, operator, value = leaf
            if name not in COMPUTED[model] and name not in WRITABLE.get(model, set()):
                raise OdooError(500, "builtins.ValueError", f"Invalid field {model}.{name} in leaf {leaf!r}")
            actual = record.get(name, False)
            if operator == "=":
                ok = actual == value
            elif operator == "!=":
                ok = actual != value
            elif operator in ("in", "not in") and isinstance(value, list):
                ok = (actual in value) == (operator == "in")
            else:
                raise OdooError(500, "builtins.ValueError", f"Invalid leaf {leaf!r}")
            if not ok:
                return False
        return True

    def _shown(self, model: str, record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        """A record as `read` shows it: a many-to-one as `[id, display name]`, an empty value as `false`."""
        names = fields or sorted(COMPUTED[model] | WRITABLE.get(model, set()))
        shown: dict[str, Any] = {"id": record["id"]}
        for name in names:
            if name not in COMPUTED[model] and name not in WRITABLE.get(model, set()):
                raise invalid_field(model, name)
            value = record.get(name, False)
            target = MANY2ONE.get((model, name))
            if target and value:
                linked = self.records[target][value]
                value = [value, linked.get("name") or linked.get("ref") or str(value)]
            shown[name] = False if value is None or value == "" else value
        return shown

    def _by_ref(self, ref: str) -> dict[str, Any]:
        found = [m for m in self.records["account.move"].values() if m.get("ref") == ref]
        assert len(found) == 1, f"{len(found)} moves with ref {ref}"
        return found[0]

    def _effect_key(self, move: dict[str, Any]) -> str:
        reversed_id = move.get("reversed_entry_id")
        if reversed_id:
            return f"avoir:{self.records['account.move'][reversed_id].get('ref')}"
        return str(move.get("ref") or move["id"])
