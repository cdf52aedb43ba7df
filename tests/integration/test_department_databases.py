"""Seed 004: each department's data lives in its own database, and nowhere else."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from django.apps import apps
from django.db import connections

from souscription.audit.models import AuditEntry
from souscription.billing import services as billing
from souscription.customers import services as customers
from souscription.platform.databases import IN_EVERY_DATABASE, database_for_model
from souscription.sales import services as sales
from souscription.tickets import services as tickets
from souscription.underwriting import services as underwriting
from souscription.underwriting.models import ContractCopy

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]
ALIASES = ("default", "customer_service", "sales", "legal", "billing")
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def tables_in(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


def rows_in(alias: str, table: str) -> int:
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        return int(cursor.fetchone()[0])


def test_each_model_table_exists_only_in_its_department_database() -> None:
    tables = {alias: tables_in(alias) for alias in ALIASES}
    for model in apps.get_models():
        if model._meta.app_label in IN_EVERY_DATABASE:
            continue  # the next test states their rule
        home = database_for_model(model)
        table = model._meta.db_table
        assert table in tables[home], (model, home)
        elsewhere = [alias for alias in ALIASES if alias != home and table in tables[alias]]
        assert elsewhere == [], f"{model.__name__} also has a table in {elsewhere}"


def test_the_audit_tables_exist_in_every_database_so_an_entry_shares_its_action_transaction() -> None:
    audit_tables = {m._meta.db_table for m in apps.get_models() if m._meta.app_label in IN_EVERY_DATABASE}
    assert audit_tables == {"audit_auditentry", "audit_treehead"}
    for alias in ALIASES:
        assert audit_tables <= tables_in(alias), alias


def test_writing_a_customer_file_lands_each_slice_in_its_department_database_only() -> None:
    customer_id = uuid.uuid4()
    customers.register_customer(
        customer_id=customer_id,
        contact=customers.ContactDetails(first_name="Léa", last_name="Martin", email="lea.martin@exemple.fr"),
    )
    tickets.log_contact(
        ticket_id=uuid.uuid4(),
        customer_id=customer_id,
        channel="call",
        reason="Devis",
        operator_id=1,
        action="Appel reçu",
        at=NOW,
    )
    sales.record_profile(customer_id=customer_id, age_category="26-40", profession="Infirmière", sex="F")
    underwriting.file_investigation_report(
        report_id=uuid.uuid4(), customer_id=customer_id, author_id=2, findings="RAS", at=NOW
    )
    billing.draft_invoice(
        invoice_id=uuid.uuid4(),
        number="FAC-1",
        customer_id=customer_id,
        amount_cents=1200,
        drafted_by=3,
        issued_on=date(2026, 11, 2),
    )

    expected = {
        "customers_customer": "customer_service",
        "tickets_ticket": "customer_service",
        "tickets_ticketaction": "customer_service",
        "sales_commercialprofile": "sales",
        "underwriting_investigationreport": "legal",
        "billing_invoice": "billing",
    }
    for table, home in expected.items():
        assert rows_in(home, table) == 1, (table, home)
    # No other database even has these tables, so nothing can have been written there.
    for table, home in expected.items():
        assert [a for a in ALIASES if a != home and table in tables_in(a)] == []


def test_services_are_idempotent_on_their_ids() -> None:
    customer_id, report_id = uuid.uuid4(), uuid.uuid4()
    for _ in range(2):
        underwriting.file_investigation_report(
            report_id=report_id, customer_id=customer_id, author_id=2, findings="RAS", at=NOW
        )
    assert underwriting.report_count() == 1


def test_sales_merges_each_step_into_one_dossier_profile_even_when_another_request_created_it_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer_id = uuid.uuid4()
    sales.record_dossier_answers(
        subscription_id="SUB-2026-000042",
        product="garantie_automobile",
        customer_id=None,
        answers={"vehicle.make": "Renault", "vehicle.power_hp": 90},
        at=NOW,
    )
    sales.record_dossier_answers(
        subscription_id="SUB-2026-000042",
        product="garantie_automobile",
        customer_id=customer_id,
        answers={"vehicle.power_hp": 110, "billing.frequency": "monthly"},
        at=NOW,
    )
    assert sales.dossier_answers("SUB-2026-000042") == {
        "vehicle.make": "Renault",
        "vehicle.power_hp": 110,
        "billing.frequency": "monthly",
    }
    # Another request of the same dossier inserts the profile between this one's lookup and its insert.
    real_one, looked_up = sales.prepared.one, []

    def missed_first(*args: object, **kwargs: object) -> object:
        looked_up.append(kwargs.get("value"))
        return None if len(looked_up) == 1 else real_one(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sales.prepared, "one", missed_first)
    sales.record_dossier_answers(
        subscription_id="SUB-2026-000042",
        product="garantie_automobile",
        customer_id=None,
        answers={"driver.birth_date": "1990-04-02"},
        at=NOW,
    )
    monkeypatch.undo()
    profile = sales.dossier_answers("SUB-2026-000042")
    assert profile["driver.birth_date"] == "1990-04-02"
    assert profile["vehicle.make"] == "Renault"
    assert looked_up == ["SUB-2026-000042", "SUB-2026-000042"]


def test_legal_keeps_one_contract_copy_per_dossier_and_kind_and_audits_it_once() -> None:
    for pdf in (b"%PDF-1.7 first", b"%PDF-1.7 a replay"):
        underwriting.keep_contract_copy(
            subscription_id="SUB-2026-000043", kind="drafted", pdf=pdf, drafted_by="jurist:7", at=NOW
        )
    copy = ContractCopy.objects.get(subscription_id="SUB-2026-000043")
    assert (bytes(copy.pdf), copy.kind, copy.drafted_by) == (b"%PDF-1.7 first", "drafted", "jurist:7")
    assert underwriting.contract_copy("SUB-2026-000043", "drafted") == b"%PDF-1.7 first"
    entries = AuditEntry.objects.using("legal").filter(record_type="contract_copy", record_id=str(copy.id))
    assert [entry.action for entry in entries] == ["create"]
