"""Right to erasure (GDPR art. 17): data keys destroyed and rows deleted where no retention applies; signed
contracts, invoices and the ledger kept and listed; the erasure in the audit trail without the erased values."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from souscription.audit.models import AuditEntry
from souscription.billing import services as billing
from souscription.billing.models import BankAccount, Invoice, LedgerEntry
from souscription.customers import services as customers
from souscription.gdpr import access, erasure
from souscription.identity.models import User
from souscription.platform.encryption.keyring import DataKeyShredded
from souscription.platform.encryption.store import FieldCipher
from souscription.sales.models import CommercialProfile
from souscription.tickets.models import Ticket
from souscription.underwriting import services as underwriting
from souscription.underwriting.models import ContractCopy, DataKey, HealthDeclaration
from tests.integration.gdpr_people import (
    CAR_IBAN,
    EMAIL,
    HEALTH_IBAN,
    PROFESSION_MARKER,
    REPORT_MARKER,
    TICKET_MARKER,
    customer_known_everywhere,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
DATABASES = ("default", "customer_service", "sales", "legal", "billing")


def test_a_forced_erasure_shreds_health_and_iban_deletes_contact_and_profile_and_keeps_contract_and_invoices() -> None:
    known = customer_known_everywhere()
    declaration = HealthDeclaration.objects.get(subscription_id=known.health_sid)
    health_copy = declaration.answers_sealed  # as a backup would still hold it

    result = erasure.erase_customer(customer_id=known.customer_id, force=True, dry_run=False)

    with pytest.raises(DataKeyShredded):
        FieldCipher(DataKey, database="legal").open(
            health_copy, table=HealthDeclaration._meta.db_table, record_id=declaration.id, field="answers"
        )
    assert underwriting.latest_health_declaration(known.health_sid) is None
    with pytest.raises(DataKeyShredded):
        billing.mandate_account(known.car_sid)  # the mandate stays, its IBAN can no longer be read
    assert not BankAccount.objects.exists()
    assert customers.contact_of(known.customer_id) is None
    assert not CommercialProfile.objects.filter(customer_id=known.customer_id).exists()
    assert not Ticket.objects.filter(customer_id=known.customer_id).exists()

    assert ContractCopy.objects.filter(subscription_id=known.car_sid, kind="signed").exists()
    invoice = Invoice.objects.get(subscription_id=known.car_sid)
    assert LedgerEntry.objects.filter(invoice_number=invoice.number).exists()
    kept = {(k.category, k.reference) for k in result.kept}
    assert {("signed_contract", known.car_sid), ("invoice", invoice.number)} <= kept
    assert ("sepa_mandate", billing.mandate_reference(known.car_sid)) in kept
    assert (result.erased["legal"]["data_keys_destroyed"], result.erased["billing"]["data_keys_destroyed"]) == (1, 2)
    assert result.erased["customer_service"]["contacts"] == 1


def test_the_audit_trail_records_the_erasure_in_each_database_without_the_erased_values_and_still_verifies() -> None:
    known = customer_known_everywhere()
    erasure.erase_customer(customer_id=known.customer_id, force=True, dry_run=False)
    erased = {db: list(AuditEntry.objects.using(db).filter(action="erase")) for db in DATABASES}
    assert all(erased.values()), {db: len(entries) for db, entries in erased.items()}
    written = json.dumps([e.details for entries in erased.values() for e in entries], ensure_ascii=False)
    for value in (
        EMAIL,
        "Martin",
        CAR_IBAN,
        HEALTH_IBAN,
        PROFESSION_MARKER,
        TICKET_MARKER,
        REPORT_MARKER,
        "1980-05-14",
    ):
        assert value not in written, value
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().count(", OK") == len(DATABASES)


def test_a_contract_in_force_keeps_what_it_needs_and_everything_else_is_erased() -> None:
    known = customer_known_everywhere()
    result = erasure.erase_customer(customer_id=known.customer_id, force=False, dry_run=False)
    assert customers.contact_of(known.customer_id) is not None
    assert billing.bank_answers(known.car_sid)["billing.iban"] == CAR_IBAN
    assert ("dossier", known.car_sid) in {(k.category, k.reference) for k in result.kept}
    assert ("contact", str(known.customer_id)) in {(k.category, k.reference) for k in result.kept}
    # The health dossier had no contract: its keys are gone and so are its rows; the marketing profile too.
    assert not DataKey.objects.filter(subject=known.health_sid).exists()
    assert billing.bank_answers(known.health_sid) == {}
    assert not CommercialProfile.objects.filter(customer_id=known.customer_id).exists()


def test_the_erase_command_lists_what_is_kept_and_a_dry_run_changes_nothing() -> None:
    known = customer_known_everywhere()
    out = io.StringIO()
    call_command("gdpr", "erase", "--customer", EMAIL, "--force", "--dry-run", stdout=out)
    assert f"gardé\tsigned_contract\t{known.car_sid}" in out.getvalue()
    assert customers.contact_of(known.customer_id) is not None
    assert DataKey.objects.filter(subject=known.health_sid).exists()
    assert not AuditEntry.objects.using("customer_service").filter(action="erase").exists()

    out = io.StringIO()
    call_command("gdpr", "erase", "--customer", str(known.customer_id), "--force", "--format", "json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["erased"]["customer_service"]["contacts"] == 1
    assert {k["category"] for k in body["kept"]} >= {"signed_contract", "invoice", "audit_trail"}
    assert customers.contact_of(known.customer_id) is None


def test_the_customers_portal_account_is_exported_and_erased_with_them() -> None:
    known = customer_known_everywhere()
    User.objects.create_user(EMAIL, "Parapluie-Tulipe-2026", account_type="customer", email_verified_at=timezone.now())
    export = access.export_customer(customer_id=known.customer_id, output_format="json", actor=None, now=timezone.now())
    assert export["databases"]["default"]["portal_account"]["email"] == EMAIL
    result = erasure.erase_customer(customer_id=known.customer_id, force=True, dry_run=False)
    assert not User.objects.filter(email=EMAIL).exists()
    assert AuditEntry.objects.using("default").filter(action="erase", record_type="customer_account").count() == 1
    assert result.kept  # the signed contract and the invoices stay, listed
