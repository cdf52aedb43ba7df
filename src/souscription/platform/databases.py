"""One database per department (seed 004), chosen by the app that owns a model.

Departments never share tables: a customer service record lives in `customer_service`, health data in
`legal`, bank data in `billing`. The platform's own tables (users, sessions, dossiers) are in `default`.
Relations across databases are refused, so a department can only reach another through its services.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

PLATFORM_DATABASE = "default"

DATABASE_OF_APP: dict[str, str] = {
    "customers": "customer_service",
    "tickets": "customer_service",
    "consents": "customer_service",
    "sales": "sales",
    "underwriting": "legal",
    "billing": "billing",
}
"""App label -> database alias. Any app not listed belongs to the platform database."""

IN_EVERY_DATABASE: frozenset[str] = frozenset({"audit"})
"""Apps whose tables exist in every database: the audit trail, written in the transaction of the action it
records, which runs in the action's own database. Their rows are always read and written with `.using(alias)`."""


def database_for_app(app_label: str) -> str:
    return DATABASE_OF_APP.get(app_label, PLATFORM_DATABASE)


def database_for_model(model: type[Model] | Model) -> str:
    return database_for_app(model._meta.app_label)


class DepartmentRouter:
    """Django database router: reads, writes and migrations of a model go to its department's database only."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return database_for_model(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return database_for_model(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        if {obj1._meta.app_label, obj2._meta.app_label} & IN_EVERY_DATABASE:
            return False  # an audit entry names its record by type and id, never by a foreign key
        return database_for_model(obj1) == database_for_model(obj2)

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return app_label in IN_EVERY_DATABASE or database_for_app(app_label) == db
