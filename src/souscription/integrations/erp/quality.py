"""Data-quality checks before anything reaches the ERP (pure): the accounts must not fill with misspelt names,
impossible postcodes or amounts in euros where cents were meant.

`check_customer` and `check_invoice` return a `Checked` record: the record normalised (names cased, spaces
collapsed, postcode and codes in their canonical form) and every reject found, each naming the field, a stable code
and the fix in French. A record with a reject is not sent; `RejectCounts` counts the rejects by reason, which is the
"ERP data quality" KPI. Adapters check again before sending and raise `RecordRejected`, so nothing slips through."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import pycountry

from souscription.integrations.erp.port import Customer, InstalmentInvoice

R = TypeVar("R")

MAX_AMOUNT_CENTS = 100_000_000
"""One million euros: an instalment above it is a unit mistake (euros sent as cents), not a premium."""


@dataclass(frozen=True)
class Reject:
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class Checked(Generic[R]):
    record: R
    rejects: tuple[Reject, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.rejects


class RecordRejected(ValueError):
    """The record failed the data-quality checks: it was not sent; a person corrects the data."""

    def __init__(self, rejects: tuple[Reject, ...]) -> None:
        self.rejects = rejects
        super().__init__(" ; ".join(reject.message for reject in rejects))

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reject.code for reject in self.rejects)


@dataclass
class RejectCounts:
    """Records checked, records refused and rejects by reason (a record may fail for several reasons)."""

    checked: int = 0
    refused: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, checked: Checked[Any]) -> bool:
        """Count one checked record; True when it may be sent."""
        self.checked += 1
        if checked.ok:
            return True
        self.refused += 1
        self.by_reason.update({reject.code for reject in checked.rejects})
        return False


def customer_reference(customer_id: uuid.UUID) -> str:
    """The customer's reference in the ERP, from the platform's customer id: `CLI-` and 32 hexadecimal digits."""
    return f"CLI-{customer_id.hex.upper()}"


# -- customers -----------------------------------------------------------------------------------------------------


def check_customer(customer: Customer) -> Checked[Customer]:
    rejects: list[Reject] = []
    normalised = replace(
        customer,
        reference=_reference(customer.reference, "reference", rejects),
        name=_name(customer.name, rejects),
        email=_email(customer.email, rejects),
        street=_street(customer.street, rejects),
        city=_city(customer.city, rejects),
        country_code=_country(customer.country_code, rejects),
    )
    normalised = replace(normalised, postcode=_postcode(customer.postcode, normalised.country_code, rejects))
    return Checked(normalised, tuple(rejects))


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_NAME_CHARACTERS = re.compile(r"^[^\W\d_]+(?:[ '.-]+[^\W\d_]*)*\.?$")
PARTICLES = frozenset({"de", "du", "des", "van", "von", "der", "den", "di", "da", "del", "della", "dos", "das", "y"})
"""Lower case inside a name (Jean de la Fontaine, Vincent van Gogh); the articles le, la, les keep their capital
(Marine Le Pen), as in French usage."""


def normalise_name(raw: str) -> str:
    """Trim, collapse spaces, unify apostrophes and hyphens, and case each word typed all in capitals or all in
    lower case (JEANNE MARTIN, Jeanne MARTIN: Jeanne Martin); a word with its own mix of cases, such as McDonald or
    DiCaprio, is kept as the person typed it."""
    text = unicodedata.normalize("NFC", raw).translate(_APOSTROPHES)
    text = re.sub(r"\s*-\s*", "-", " ".join(text.split()))
    return " ".join(_cased_word(word, first=index == 0) for index, word in enumerate(text.split(" ")))


def _cased_word(word: str, *, first: bool) -> str:
    letters = [character for character in word if character.isalpha()]
    if not letters or not (all(c.islower() for c in letters) or all(c.isupper() for c in letters)):
        return word
    parts = word.lower().split("-")
    return "-".join(_cased_part(part, first=first and index == 0) for index, part in enumerate(parts))


def _cased_part(part: str, *, first: bool) -> str:
    if not first and part in PARTICLES:
        return part
    if part.startswith("d'") and len(part) > 2:
        return ("D'" if first else "d'") + part[2:].capitalize()
    return "'".join(piece.capitalize() for piece in part.split("'"))


def _name(raw: str, rejects: list[Reject]) -> str:
    name = normalise_name(raw)
    if not name:
        rejects.append(Reject("name", "name_missing", "Nom : indiquez le prénom et le nom du client."))
    elif len(name) > 128 or not _NAME_CHARACTERS.match(name):
        rejects.append(
            Reject(
                "name",
                "name_invalid",
                "Nom : lettres, espaces, traits d'union et apostrophes seulement (pas de chiffres ni de symboles), "
                "128 caractères au plus.",
            )
        )
    return name


_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_EMAIL_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def _email(raw: str, rejects: list[Reject]) -> str:
    email = raw.strip()
    local, at, domain = email.rpartition("@")
    if not at:
        rejects.append(Reject("email", "email_invalid", "Adresse électronique : la forme attendue est nom@domaine.fr."))
        return email
    domain = domain.lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = ""
    valid = len(email) <= 254 and len(local) <= 64 and _EMAIL_LOCAL.match(local) and _EMAIL_DOMAIN.match(ascii_domain)
    if not valid:
        rejects.append(
            Reject(
                "email",
                "email_invalid",
                "Adresse électronique : la forme attendue est nom@domaine.fr, sans espace ni accent avant le @.",
            )
        )
    return f"{local}@{domain}"


def _street(raw: str, rejects: list[Reject]) -> str:
    street = " ".join(raw.split())
    if not any(character.isalnum() for character in street):
        rejects.append(
            Reject("street", "street_missing", "Adresse : indiquez le numéro et la voie (12 rue des Lilas).")
        )
    elif len(street) > 128:
        rejects.append(Reject("street", "street_invalid", "Adresse : 128 caractères au plus ; abrégez la voie."))
    return street


def _city(raw: str, rejects: list[Reject]) -> str:
    city = " ".join(raw.split())
    if not any(character.isalpha() for character in city):
        rejects.append(Reject("city", "city_missing", "Ville : indiquez la commune (Lyon, Paris Cedex 08)."))
    elif len(city) > 64:
        rejects.append(Reject("city", "city_invalid", "Ville : 64 caractères au plus."))
    return city


def _country(raw: str, rejects: list[Reject]) -> str:
    code = raw.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        rejects.append(
            Reject("country_code", "country_invalid", "Pays : le code ISO 3166 à deux lettres (FR pour la France).")
        )
    return code


@dataclass(frozen=True)
class PostcodeRule:
    pattern: re.Pattern[str]
    example: str


POSTCODES: dict[str, PostcodeRule] = {
    # Metropolitan France 01000-95999, overseas 97xxx and 98xxx (98000 is Monaco's, which has its own rule).
    "FR": PostcodeRule(re.compile(r"(?:0[1-9]|[1-8]\d|9[0-8])\d{3}"), "cinq chiffres, par exemple 75001"),
    "MC": PostcodeRule(re.compile(r"980\d{2}"), "98000"),
    "BE": PostcodeRule(re.compile(r"[1-9]\d{3}"), "quatre chiffres, par exemple 1000"),
    "LU": PostcodeRule(re.compile(r"\d{4}"), "quatre chiffres, par exemple 1160 (sans L-)"),
    "CH": PostcodeRule(re.compile(r"[1-9]\d{3}"), "quatre chiffres, par exemple 1201"),
    "DE": PostcodeRule(re.compile(r"\d{5}"), "cinq chiffres, par exemple 10115"),
    "IT": PostcodeRule(re.compile(r"\d{5}"), "cinq chiffres, par exemple 00184"),
    "ES": PostcodeRule(re.compile(r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}"), "cinq chiffres, par exemple 28013"),
    "PT": PostcodeRule(re.compile(r"\d{4}-\d{3}"), "1000-001"),
    "NL": PostcodeRule(re.compile(r"[1-9]\d{3} [A-Z]{2}"), "1011 AB"),
    "GB": PostcodeRule(re.compile(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}"), "SW1A 1AA"),
}
_ANY_POSTCODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{1,9}")


def normalise_postcode(raw: str, country_code: str) -> str:
    """Upper case, single spaces; French and other all-digit codes lose their inner spaces (75 001 is 75001),
    Luxembourg's lose the `L-` prefix, Dutch and British ones get their one space before the last part."""
    code = " ".join(raw.upper().split())
    if country_code == "LU":
        code = code.removeprefix("L-").removeprefix("L ")
    if country_code in {"FR", "MC", "BE", "LU", "CH", "DE", "IT", "ES"}:
        code = code.replace(" ", "")
    if country_code in {"NL", "GB"}:
        compact = code.replace(" ", "")
        code = f"{compact[:-2]} {compact[-2:]}" if country_code == "NL" else f"{compact[:-3]} {compact[-3:]}"
    return code


def _postcode(raw: str, country_code: str, rejects: list[Reject]) -> str:
    code = normalise_postcode(raw, country_code)
    rule = POSTCODES.get(country_code)
    if rule is not None and not rule.pattern.fullmatch(code):
        message = f"Code postal : pour le pays {country_code}, {rule.example}."
        rejects.append(Reject("postcode", "postcode_invalid", message))
    elif rule is None and not _ANY_POSTCODE.fullmatch(code):
        rejects.append(Reject("postcode", "postcode_invalid", "Code postal : de 2 à 10 lettres ou chiffres."))
    return code


# -- identifiers ---------------------------------------------------------------------------------------------------

_CUSTOMER_REFERENCE = re.compile(r"CLI-[0-9A-F]{32}")
_INVOICE_ID = re.compile(r"[A-Z0-9][A-Z0-9/-]{2,31}")
_SUBSCRIPTION_ID = re.compile(r"SUB-\d{4}-\d{6}")


def _reference(raw: str, field_name: str, rejects: list[Reject]) -> str:
    reference = raw.strip().upper()
    if not _CUSTOMER_REFERENCE.fullmatch(reference):
        message = "Référence client : CLI- suivi des 32 chiffres hexadécimaux de l'identifiant client."
        rejects.append(Reject(field_name, "reference_invalid", message))
    return reference


# -- invoices ------------------------------------------------------------------------------------------------------


def check_invoice(invoice: InstalmentInvoice) -> Checked[InstalmentInvoice]:
    rejects: list[Reject] = []
    invoice_id = invoice.invoice_id.strip().upper()
    if not _INVOICE_ID.fullmatch(invoice_id):
        message = "Numéro de facture : de 3 à 32 lettres capitales, chiffres, - ou /, comme F-2026-000123-01."
        rejects.append(Reject("invoice_id", "invoice_id_invalid", message))
    subscription_id = invoice.subscription_id.strip().upper()
    if not _SUBSCRIPTION_ID.fullmatch(subscription_id):
        message = "Souscription : l'identifiant a la forme SUB-AAAA-NNNNNN."
        rejects.append(Reject("subscription_id", "subscription_id_invalid", message))
    normalised = replace(
        invoice,
        invoice_id=invoice_id,
        subscription_id=subscription_id,
        customer_reference=_reference(invoice.customer_reference, "customer_reference", rejects),
        currency=_currency(invoice.currency, rejects),
        label=_label(invoice.label, rejects),
    )
    _check_amount(invoice.amount_excl_tax_cents, rejects)
    _check_tax_rate(invoice.tax_rate, rejects)
    if not isinstance(invoice.issued_on, date) or isinstance(invoice.issued_on, datetime):
        rejects.append(Reject("issued_on", "issued_on_invalid", "Date d'émission : une date (AAAA-MM-JJ), sans heure."))
    return Checked(normalised, tuple(rejects))


def _check_amount(amount: object, rejects: list[Reject]) -> None:
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT_CENTS:
        message = (
            "Montant hors taxe : un nombre entier de centimes, strictement positif et d'au plus un million d'euros "
            "(12345 pour 123,45 €)."
        )
        rejects.append(Reject("amount_excl_tax_cents", "amount_invalid", message))


def _check_tax_rate(rate: object, rejects: list[Reject]) -> None:
    valid = isinstance(rate, Decimal) and rate.is_finite() and 0 <= rate < 1
    if valid and isinstance(rate, Decimal):
        exponent = rate.as_tuple().exponent
        valid = isinstance(exponent, int) and exponent >= -6
    if not valid:
        message = 'Taux de taxe : une fraction décimale entre 0 et 1, six décimales au plus (Decimal("0.09") pour 9 %).'
        rejects.append(Reject("tax_rate", "tax_rate_invalid", message))


def _currency(raw: str, rejects: list[Reject]) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        rejects.append(Reject("currency", "currency_invalid", "Devise : le code ISO 4217 à trois lettres (EUR)."))
    return code


def _label(raw: str, rejects: list[Reject]) -> str:
    label = " ".join(raw.split())
    if not label:
        rejects.append(
            Reject("label", "label_missing", "Libellé : indiquez l'objet de la facture (prime d'assurance).")
        )
    elif len(label) > 256:
        rejects.append(Reject("label", "label_invalid", "Libellé : 256 caractères au plus."))
    return label
