"""Odoo's words to ours, and ours to Odoo's (pure): the invoice's state and payment state as the dossier's
`erp_sync`, our records as the field values Odoo's `create` and `write` take, money in cents both ways.

Checked against Odoo's `account.move` (19.0): `state` is draft, posted or cancel; `payment_state` is not_paid,
in_payment, paid, partial, reversed, blocked (since 18.0: an accountant blocked the payment) or invoicing_legacy
(invoices from before the Accounting app, whose payments Odoo does not follow). Anything else is refused, never
guessed: Odoo changed, or the answer is not an invoice's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from souscription.integrations.erp.port import Customer, ErpInvoice, ErpSync, InstalmentInvoice

MOVE_STATES: Final[Mapping[str, ErpSync]] = {
    "draft": ErpSync.PENDING,
    "posted": ErpSync.SYNCED,  # refined by the payment state below
    "cancel": ErpSync.CANCELLED,
}

PAYMENT_STATES: Final[Mapping[str, ErpSync]] = {
    "not_paid": ErpSync.SYNCED,
    "in_payment": ErpSync.IN_PAYMENT,
    "paid": ErpSync.PAID,
    "partial": ErpSync.PARTIALLY_PAID,
    "reversed": ErpSync.REVERSED,
    "blocked": ErpSync.BLOCKED,
    # Odoo does not follow the payments of such an invoice: it is posted, the payment port says the rest.
    "invoicing_legacy": ErpSync.SYNCED,
}


class OdooAnswerInvalid(ValueError):
    """Odoo answered with a shape or a value the adapter does not know: nothing is guessed, a person looks."""

    code = "invalid_answer"


class UnknownOdooState(OdooAnswerInvalid):
    code = "unknown_state"


def erp_sync_of(state: object, payment_state: object) -> ErpSync:
    """The dossier's `erp_sync` for an invoice in `state` with `payment_state`; the payment state counts once the
    invoice is posted (a draft is `not_paid` too, and that says nothing about money)."""
    if not isinstance(state, str) or state not in MOVE_STATES:
        raise UnknownOdooState(f"état de facture Odoo inconnu : {state!r}")
    if not isinstance(payment_state, str) or payment_state not in PAYMENT_STATES:
        raise UnknownOdooState(f"état de paiement Odoo inconnu : {payment_state!r}")
    if state == "posted":
        return PAYMENT_STATES[payment_state]
    return MOVE_STATES[state]


# -- money ---------------------------------------------------------------------------------------------------------


def amount_of(cents: int) -> float:
    """Odoo's monetary fields are JSON numbers in the currency's unit: 12345 cents is 123.45."""
    return float(Decimal(cents).scaleb(-2))


def cents_of(value: object) -> int:
    """Back from Odoo's float to whole cents, half up (109.99999999 is 11000)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OdooAnswerInvalid(f"montant Odoo illisible : {value!r}")
    try:
        return int((Decimal(str(value)) * 100).quantize(Decimal(1), ROUND_HALF_UP))
    except InvalidOperation:
        raise OdooAnswerInvalid(f"montant Odoo illisible : {value!r}") from None


def tax_percent(rate: Decimal) -> float:
    """An `account.tax` of type percent holds its rate in percent: 0.09 is 9.0."""
    return float(rate * 100)


# -- records -------------------------------------------------------------------------------------------------------

PARTNER_FIELDS: Final = ("id", "name", "email", "street", "zip", "city", "country_id", "ref", "active")
MOVE_FIELDS: Final = (
    "id",
    "name",
    "ref",
    "move_type",
    "state",
    "payment_state",
    "partner_id",
    "currency_id",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
)
LINE_FIELDS: Final = ("name", "quantity", "price_unit", "tax_ids")


def partner_vals(customer: Customer, country_id: int) -> dict[str, Any]:
    """`res.partner` values of a customer (an archived partner is brought back: it is invoiced again)."""
    return {
        "name": customer.name,
        "email": customer.email,
        "street": customer.street,
        "zip": customer.postcode,
        "city": customer.city,
        "country_id": country_id,
        "ref": customer.reference,
        "active": True,
    }


def partner_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The values of `wanted` that differ from the partner as read (a many-to-one reads as `[id, name]`), so an
    up-to-date partner is not written again (each write is a line in the partner's history)."""
    changes = {}
    for name, value in wanted.items():
        known = current.get(name)
        if isinstance(known, list) and known:
            known = known[0]
        if known in (False, None):
            known = "" if isinstance(value, str) else known
        if known != value:
            changes[name] = value
    return changes


def many2one_id(value: object) -> int | None:
    """`[42, "Name"]` (or 42) is 42; Odoo's `false` is None."""
    if isinstance(value, list) and value and isinstance(value[0], int):
        return value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is False or value is None:
        return None
    raise OdooAnswerInvalid(f"référence Odoo illisible : {value!r}")


def invoice_vals(
    invoice: InstalmentInvoice, *, partner_id: int, currency_id: int, tax_id: int | None
) -> dict[str, Any]:
    """`account.move` values of a customer invoice with one line; `ref` carries our invoice number, which is how
    the adapter finds it again (Odoo has no idempotency key), and `invoice_origin` the subscription."""
    line = {
        "name": invoice.label,
        "quantity": 1,
        "price_unit": amount_of(invoice.amount_excl_tax_cents),
        "tax_ids": [[6, 0, [tax_id] if tax_id is not None else []]],
    }
    return {
        "move_type": "out_invoice",
        "partner_id": partner_id,
        "ref": invoice.invoice_id,
        "invoice_origin": invoice.subscription_id,
        "invoice_date": invoice.issued_on.isoformat(),
        "currency_id": currency_id,
        "invoice_line_ids": [[0, 0, line]],
    }


def credit_note_vals(move: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], *, reason: str) -> dict[str, Any]:
    """The credit note (`out_refund`) of a posted invoice: its lines again, `reversed_entry_id` pointing at it (the
    link Odoo's own « Avoir » button makes, and the adapter's way to find it again). Odoo dates it when it posts."""
    if not lines:
        raise OdooAnswerInvalid("la facture Odoo n'a aucune ligne à rembourser")
    return {
        "move_type": "out_refund",
        "partner_id": many2one_id(move.get("partner_id")),
        "currency_id": many2one_id(move.get("currency_id")),
        "reversed_entry_id": move["id"],
        "ref": f"Avoir sur {move.get('ref') or move.get('name')} : {reason}",
        "invoice_line_ids": [
            [
                0,
                0,
                {
                    "name": line["name"],
                    "quantity": line["quantity"],
                    "price_unit": line["price_unit"],
                    "tax_ids": [[6, 0, list(line.get("tax_ids") or [])]],
                },
            ]
            for line in lines
        ],
    }


def number_of(move: Mapping[str, Any]) -> str:
    """Odoo names a draft `/` (or `false`): it gets its number when posted."""
    name = move.get("name")
    return name if isinstance(name, str) and name != "/" else ""


def erp_invoice_of(move: Mapping[str, Any], invoice_id: str) -> ErpInvoice:
    return ErpInvoice(
        erp_id=str(move["id"]),
        invoice_id=invoice_id,
        number=number_of(move),
        sync=erp_sync_of(move.get("state"), move.get("payment_state")),
        amount_excl_tax_cents=cents_of(move.get("amount_untaxed")),
        tax_cents=cents_of(move.get("amount_tax")),
        total_cents=cents_of(move.get("amount_total")),
        residual_cents=cents_of(move.get("amount_residual")),
    )
