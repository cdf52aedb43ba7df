"""Each department's models are routed to its own database, without touching a database."""

from __future__ import annotations

from django.apps import apps

from souscription.platform.databases import DepartmentRouter

EXPECTED = {
    "customers": "customer_service",
    "tickets": "customer_service",
    "sales": "sales",
    "underwriting": "legal",
    "billing": "billing",
    "identity": "default",
    "auth": "default",
    "sessions": "default",
}


def test_every_model_reads_writes_and_migrates_only_in_its_department_database() -> None:
    router = DepartmentRouter()
    for model in apps.get_models():
        expected = EXPECTED.get(model._meta.app_label, "default")
        assert router.db_for_read(model) == expected, model
        assert router.db_for_write(model) == expected, model
        for alias in ("default", "customer_service", "sales", "legal", "billing"):
            assert router.allow_migrate(alias, model._meta.app_label) is (alias == expected), (model, alias)


def test_a_relation_across_departments_is_refused() -> None:
    from souscription.billing.models import Invoice
    from souscription.customers.models import Customer
    from souscription.tickets.models import Ticket

    router = DepartmentRouter()
    assert router.allow_relation(Customer(), Invoice()) is False
    assert router.allow_relation(Customer(), Ticket()) is True
