"""Each department's models are routed to its own database, without touching a database."""

from __future__ import annotations

from django.apps import apps

from souscription.platform.databases import DepartmentRouter

EXPECTED = {
    "customers": "customer_service",
    "tickets": "customer_service",
    "consents": "customer_service",
    "sales": "sales",
    "underwriting": "legal",
    "billing": "billing",
    "identity": "default",
    "auth": "default",
    "sessions": "default",
}


ALIASES = ("default", "customer_service", "sales", "legal", "billing")


def test_every_model_reads_writes_and_migrates_only_in_its_department_database() -> None:
    router = DepartmentRouter()
    for model in apps.get_models():
        if model._meta.app_label == "audit":
            continue  # the next test states its own rule
        expected = EXPECTED.get(model._meta.app_label, "default")
        assert router.db_for_read(model) == expected, model
        assert router.db_for_write(model) == expected, model
        for alias in ALIASES:
            assert router.allow_migrate(alias, model._meta.app_label) is (alias == expected), (model, alias)


def test_the_audit_trail_migrates_to_every_database_so_each_action_is_logged_in_its_own() -> None:
    router = DepartmentRouter()
    audit_models = [model for model in apps.get_models() if model._meta.app_label == "audit"]
    assert {model.__name__ for model in audit_models} == {"AuditEntry", "TreeHead"}
    for model in audit_models:
        assert all(router.allow_migrate(alias, "audit", model._meta.model_name) for alias in ALIASES)


def test_an_audit_entry_never_relates_to_a_record_by_foreign_key() -> None:
    from souscription.audit.models import AuditEntry
    from souscription.customers.models import Customer

    assert DepartmentRouter().allow_relation(AuditEntry(), Customer()) is False


def test_a_relation_across_departments_is_refused() -> None:
    from souscription.billing.models import Invoice
    from souscription.customers.models import Customer
    from souscription.tickets.models import Ticket

    router = DepartmentRouter()
    assert router.allow_relation(Customer(), Invoice()) is False
    assert router.allow_relation(Customer(), Ticket()) is True
