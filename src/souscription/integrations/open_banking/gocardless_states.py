"""GoCardless Bank Account Data in the platform's words, pure: the state tables (requisition and account statuses),
the refusals that mean a consent is gone, and the reading of its JSON answers into the port's dataclasses.

Statuses checked 2026-12 against developer.gocardless.com/bank-account-data/statuses (CR, GC, UA, RJ, SA, GA, LN,
EX) and the published OpenAPI document (`Status1c5Enum`, which adds SU suspended, ER error and ID): every one is in
the table; a status not in it is refused (`UnknownVendorState`), never guessed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from souscription.integrations.open_banking.consent import consent_expiry
from souscription.integrations.open_banking.port import (
    AccessTerms,
    AccountDetails,
    AccountStatus,
    Balance,
    Consent,
    ConsentStatus,
    Institution,
    Scope,
    Transaction,
)

REQUISITION_STATUSES: Mapping[str, ConsentStatus] = {
    "CR": ConsentStatus.CREATED,  # created, the customer has not opened the link
    "GC": ConsentStatus.IN_PROGRESS,  # giving consent at GoCardless's screen
    "UA": ConsentStatus.IN_PROGRESS,  # undergoing authentication at the bank
    "SA": ConsentStatus.IN_PROGRESS,  # selecting accounts
    "GA": ConsentStatus.IN_PROGRESS,  # granting access
    "ID": ConsentStatus.IN_PROGRESS,  # in the OpenAPI enum only, undocumented: an intermediate step, polled on
    "LN": ConsentStatus.ACTIVE,  # linked
    "RJ": ConsentStatus.REJECTED,  # SSN check failed or wrong credentials at the bank
    "EX": ConsentStatus.EXPIRED,  # access expired as set in the end user agreement
    "SU": ConsentStatus.SUSPENDED,  # suspended after numerous consecutive errors on a linked account
    "ER": ConsentStatus.FAILED,  # in the OpenAPI enum: an error on GoCardless's side
}

ACCOUNT_STATUSES: Mapping[str, AccountStatus] = {
    "DISCOVERED": AccountStatus.PENDING,
    "PROCESSING": AccountStatus.PENDING,
    "READY": AccountStatus.READY,
    "ERROR": AccountStatus.ERROR,
    "SUSPENDED": AccountStatus.SUSPENDED,
    "EXPIRED": AccountStatus.EXPIRED,
}

UNUSABLE_CONSENT: Mapping[str, ConsentStatus] = {
    # 401 `type` on the account endpoints: expired or withdrawn at the bank, or the account closed.
    "AccessExpiredError": ConsentStatus.EXPIRED,
    "AccountInactiveError": ConsentStatus.EXPIRED,
    # 403 `summary`: the agreement behind the account is no longer valid (expired or deleted).
    "No valid End User Agreement": ConsentStatus.EXPIRED,
    # 409 `summary`: the account or its requisition is suspended.
    "Account suspended": ConsentStatus.SUSPENDED,
}
"""Refusals of an account read that mean the consent is gone: a new one is needed, not a retry."""

ACCESS_REFUSED_SUMMARY = "Invalid token"
"""The 401 `summary` of an access token expired or revoked: get another one and call again."""

REFERENCE_MAX = 256


class UnknownVendorState(ValueError):
    def __init__(self, kind: str, state: str) -> None:
        self.kind, self.state = kind, state
        super().__init__(f"GoCardless : {kind} « {state} » inconnu, absent de la table des états")


class MalformedPayload(ValueError):
    """An answer that does not have the documented shape."""


def consent_status(code: str) -> ConsentStatus:
    try:
        return REQUISITION_STATUSES[code]
    except KeyError:
        raise UnknownVendorState("statut de réquisition", code) from None


def account_status(code: str) -> AccountStatus:
    try:
        return ACCOUNT_STATUSES[code]
    except KeyError:
        raise UnknownVendorState("statut de compte", code) from None


def error_code_of(body: Any) -> str:
    """The stable part of a GoCardless error body, never its `detail` (it may quote an IBAN or a name):
    `type` when given (account endpoints), else `summary`, else `field:<names>` for field errors
    (`{"reference": {"summary", "detail"}, "status_code": 400}`)."""
    if not isinstance(body, dict):
        return ""
    for name in ("type", "summary"):
        if isinstance(body.get(name), str) and body[name]:
            return str(body[name])
    fields = sorted(str(name) for name in body if name != "status_code")
    return f"field:{','.join(fields)}" if fields else ""


def is_field_error(code: str, field: str) -> bool:
    return code.startswith("field:") and field in code.removeprefix("field:").split(",")


def reference_of(key: str) -> str:
    """Our requisition reference, from the caller's key: the key itself when it fits GoCardless's 256 characters,
    else a digest of it (stable, so a replayed step finds its requisition)."""
    if not key:
        raise ValueError("la clé d'idempotence est obligatoire")
    if len(key) <= REFERENCE_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def cents_of(amount: Any) -> int:
    """A GoCardless amount (a decimal string such as "-42.10") in cents; fractions of a cent are refused rather
    than rounded (no currency the platform handles has them, so one means a misread answer)."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise MalformedPayload(f"montant illisible : {amount!r}") from None
    if not value.is_finite():
        raise MalformedPayload(f"montant illisible : {amount!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise MalformedPayload(f"montant avec des fractions de centime : {amount!r}")
    return int(cents)


def parse_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise MalformedPayload(f"date et heure illisibles : {value!r}") from None


def parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise MalformedPayload(f"date illisible : {value!r}") from None


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedPayload(f"nombre illisible : {value!r}") from None


def institution_of(payload: Mapping[str, Any]) -> Institution:
    """`transaction_total_days` and `max_access_valid_for_days` come as strings ("540", "180")."""
    return Institution(
        institution_id=_required(payload, "id"),
        name=str(payload.get("name") or ""),
        bic=str(payload.get("bic") or ""),
        countries=tuple(str(country) for country in payload.get("countries") or ()),
        history_days=_int_or_none(payload.get("transaction_total_days")) or 90,
        max_access_days=_int_or_none(payload.get("max_access_valid_for_days")),
        logo=str(payload.get("logo") or ""),
    )


def terms_of(agreement: Mapping[str, Any]) -> AccessTerms:
    try:
        scopes = frozenset(Scope(str(scope)) for scope in agreement.get("access_scope") or ())
    except ValueError:
        raise MalformedPayload("portée d'accès inconnue") from None
    return AccessTerms(
        history_days=_int_or_none(agreement.get("max_historical_days")) or 0,
        access_days=_int_or_none(agreement.get("access_valid_for_days")) or 0,
        scopes=scopes,
    )


def consent_of(requisition: Mapping[str, Any], agreement: Mapping[str, Any] | None) -> Consent:
    """A requisition, with its agreement when it has one: the expiry is the agreement's `accepted` plus its
    `access_valid_for_days`, as GoCardless computes it."""
    vendor_status = _required(requisition, "status")
    terms = terms_of(agreement) if agreement else None
    accepted = parse_datetime(agreement.get("accepted")) if agreement else None
    return Consent(
        consent_id=_required(requisition, "id"),
        reference=str(requisition.get("reference") or ""),
        institution_id=str(requisition.get("institution_id") or ""),
        status=consent_status(vendor_status),
        vendor_status=vendor_status,
        account_ids=tuple(str(account) for account in requisition.get("accounts") or ()),
        terms=terms,
        accepted_at=accepted,
        expires_at=consent_expiry(accepted_at=accepted, access_days=terms.access_days if terms else None),
    )


def details_of(account_id: str, details: Mapping[str, Any], metadata: Mapping[str, Any]) -> AccountDetails:
    """`GET /accounts/{id}/details/` (`{"account": {...}}`, Berlin Group names) and `GET /accounts/{id}/` (the
    account's processing status)."""
    account = details.get("account")
    if not isinstance(account, dict):
        raise MalformedPayload("détails du compte absents")
    return AccountDetails(
        account_id=account_id,
        iban=str(account.get("iban") or metadata.get("iban") or ""),
        currency=str(account.get("currency") or ""),
        owner_name=str(account.get("ownerName") or metadata.get("owner_name") or ""),
        name=str(account.get("name") or account.get("displayName") or ""),
        product=str(account.get("product") or account.get("cashAccountType") or ""),
        status=account_status(str(metadata.get("status") or "READY")),
    )


def balances_of(body: Mapping[str, Any]) -> list[Balance]:
    rows = body.get("balances")
    if not isinstance(rows, list):
        raise MalformedPayload("soldes absents")
    return [
        Balance(
            kind=str(row.get("balanceType") or ""),
            amount_cents=cents_of(_amount(row, "balanceAmount")["amount"]),
            currency=str(_amount(row, "balanceAmount").get("currency") or ""),
            reference_date=parse_date(row.get("referenceDate")),
        )
        for row in rows
    ]


def transactions_of(body: Mapping[str, Any]) -> list[Transaction]:
    """Booked then pending, as `{"transactions": {"booked": [...], "pending": [...]}}` gives them."""
    groups = body.get("transactions")
    if not isinstance(groups, dict):
        raise MalformedPayload("opérations absentes")
    booked = [transaction_of(row, booked=True) for row in groups.get("booked") or ()]
    return booked + [transaction_of(row, booked=False) for row in groups.get("pending") or ()]


def transaction_of(row: Mapping[str, Any], *, booked: bool) -> Transaction:
    money = _amount(row, "transactionAmount")
    cents = cents_of(money.get("amount"))
    # The counterparty of a debit is its creditor, of a credit its debtor; banks fill one or the other.
    names = ("creditorName", "debtorName") if cents < 0 else ("debtorName", "creditorName")
    return Transaction(
        transaction_id=str(row.get("transactionId") or row.get("internalTransactionId") or _digest(row)),
        booked=booked,
        booking_date=parse_date(row.get("bookingDate") or row.get("bookingDateTime") or row.get("valueDate")),
        amount_cents=cents,
        currency=str(money.get("currency") or ""),
        label=_label(row),
        counterparty=next((str(row[name]) for name in names if row.get(name)), ""),
    )


def _label(row: Mapping[str, Any]) -> str:
    if row.get("remittanceInformationUnstructured"):
        return str(row["remittanceInformationUnstructured"])
    lines = row.get("remittanceInformationUnstructuredArray")
    if isinstance(lines, list) and lines:
        return " ".join(str(line) for line in lines)
    return str(row.get("remittanceInformationStructured") or row.get("additionalInformation") or "")


def _amount(row: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    money = row.get(name)
    if not isinstance(money, dict) or "amount" not in money:
        raise MalformedPayload(f"{name} absent")
    return money


def _digest(row: Mapping[str, Any]) -> str:
    """Pending transactions often have no id: a digest of the row stays the same from one read to the next."""
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _required(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if value in (None, ""):
        raise MalformedPayload(f"champ {name} absent")
    return str(value)
