"""Readiness: every department database answers and has its migrations applied, the workflow runtime runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from souscription.platform import workflows


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def readiness_checks() -> list[Check]:
    checks = [_database_check(alias) for alias in connections]
    checks.append(Check("workflows", workflows.is_running(), workflows.describe()))
    return checks


def _database_check(alias: str) -> Check:
    name = f"database:{alias}"
    try:
        connection = connections[alias]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return Check(name, False, f"injoignable : {type(error).__name__}")
    if pending:
        return Check(name, False, f"{len(pending)} migration(s) à appliquer : souscription migrate")
    return Check(name, True, connection.vendor)
