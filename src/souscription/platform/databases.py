"""One database per department (seed 004), chosen by the app that owns a model.

Departments never share tables: a customer service record lives in `customer_service`, health data in
`legal`, bank data in `billing`. The platform's own tables (users, sessions, dossiers) are in `default`.
Relations across databases are refused, so a department can only reach another through its services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
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


@contextmanager
def without_flush(using: str) -> Iterator[None]:
    """Commits made inside skip the wait for the disk: other processes see them at once and a killed process loses
    none, but a power cut may lose the last ones (on SQLite, until the next durable commit to the same database,
    whose flush carries the earlier writes of its log). Only for records the platform recovers by itself when they
    are lost, such as an idempotency key's claim and stored answer (a lost one makes the client's retry run again).

    Inside a transaction it changes nothing: the enclosing transaction's commit keeps its durability."""
    connection = connections[using]
    if connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()
    relax, restore = _flush_statements(connection)
    _run(connection, relax)
    try:
        yield
    finally:
        _run(connection, restore)


def _flush_statements(connection: Any) -> tuple[str, str]:
    """The statements that relax, then restore, a connection's wait for the disk at commit."""
    if connection.vendor == "sqlite":
        # NORMAL in WAL mode: the commit is atomic and seen by all; its flush is left to a later commit. The level
        # to restore is read once per connection opened (its `init_command` sets it), not at every use.
        raw = connection.connection
        known = getattr(connection, "_durable_level", None)
        if known is None or known[0] is not raw:
            (level,) = raw.execute("PRAGMA synchronous").fetchone()
            known = connection._durable_level = (raw, int(level))
        return "PRAGMA synchronous=NORMAL", f"PRAGMA synchronous={known[1]}"
    if connection.vendor == "postgresql":
        return "SET synchronous_commit TO off", "RESET synchronous_commit"
    return "", ""


def _run(connection: Any, statement: str) -> None:
    if not statement:
        return
    if connection.vendor == "sqlite":
        connection.connection.execute(statement)  # a pragma: no need for Django's cursor and its bookkeeping
        return
    with connection.cursor() as cursor:
        cursor.execute(statement)
