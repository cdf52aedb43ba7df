"""The database itself refuses to change or remove audit rows: UPDATE and DELETE (and TRUNCATE on PostgreSQL).

A trigger stops a bug or a careless administrator, not an attacker with full rights (who can drop it): that one
is caught by the hash tree and the signed heads. Applied in every database, whatever its vendor.

SQLite rebuilds a table to alter it (new table, copy, drop, rename), which drops its triggers: a later migration
that alters these tables must create the triggers again.
"""

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

TABLES = ("audit_auditentry", "audit_treehead")
MESSAGE = "journal d''audit en ajout seul : modification et suppression refusées"


def _sqlite(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        for verb in ("UPDATE", "DELETE")
    ]


def _postgresql(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    ]


POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def create_triggers(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = [sql for table in TABLES for sql in _sqlite(table)]
    elif vendor == "postgresql":
        statements = [POSTGRESQL_FUNCTION] + [sql for table in TABLES for sql in _postgresql(table)]
    else:
        raise RuntimeError(f"Journal d'audit : base « {vendor} » non prise en charge (SQLite ou PostgreSQL).")
    for sql in statements:
        schema_editor.execute(sql)


def drop_triggers(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
