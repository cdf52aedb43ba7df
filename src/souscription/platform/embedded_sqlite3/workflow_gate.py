"""The embedded workflow database's writers queued at a gate, as the embedded Django databases' are (`base`).

DBOS opens its SQLite system database through SQLAlchemy and the `sqlite3` module, which begins a transaction
(`BEGIN IMMEDIATE`, the isolation level DBOS sets) just before the first INSERT, UPDATE, DELETE or REPLACE; a
writer finding the database locked then waits in SQLite's busy handler (DBOS sets 30 s), which sleeps 1, 2, 5, 10,
15, 20, 25... ms between tries. Every step records its output there, so with two processes serving dossiers each
one sat idle several milliseconds a dossier past the moment the lock was freed. Passed as the connection `factory`
(`workflows.dbos_config`), `GatedConnection` takes the database's gate, the exclusive `flock` on
`<database>-writers` the Django backend uses, before that first write, and gives it back at commit, rollback or
close; a writer finding it taken tries again within a millisecond.

The rules are the Django backend's: SQLite's own lock still decides who writes, a writer waits at the gate for
`GATE_SECONDS` at most and then goes on to SQLite's lock without it, and a thread that holds another gate (a
workflow started inside a Django transaction) does not wait at this one."""

from __future__ import annotations

import sqlite3
from typing import Any

from souscription.platform.embedded_sqlite3 import base

GATE_SECONDS = 5.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN")
"""What begins a write transaction: the statements before which `sqlite3` issues its implicit BEGIN, and BEGIN."""


def _writes(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_WRITES)


def _file_of(database: Any) -> str | None:
    """The database file a connection opens, None for an in-memory one (nothing shared, no gate)."""
    name = str(database)
    if name.startswith("file:"):
        name = name.removeprefix("file:").partition("?")[0]
    return None if name in {"", ":memory:"} or "mode=memory" in str(database) else name


class GatedCursor(sqlite3.Cursor):
    connection: GatedConnection

    def execute(self, sql: str, parameters: Any = (), /) -> GatedCursor:
        return self._gated(sql, super().execute, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> GatedCursor:
        return self._gated(sql, super().executemany, parameters)

    def _gated(self, sql: str, run: Any, parameters: Any) -> GatedCursor:
        connection = self.connection
        if not connection.in_transaction and _writes(sql):
            connection.pass_gate()
        try:
            run(sql, parameters)
        finally:
            if not connection.in_transaction:
                connection.leave_gate()  # a statement that failed before its transaction began, or a DDL
        return self


class GatedConnection(sqlite3.Connection):
    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        name = _file_of(database)
        self._gate = base.Gate(name) if name is not None else None

    def cursor(self, factory: Any = GatedCursor) -> Any:
        return super().cursor(factory)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_gate()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_gate()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._gate is not None:
                self._gate.close()

    def pass_gate(self) -> None:
        if self._gate is not None:
            self._gate.enter(seconds=GATE_SECONDS)

    def leave_gate(self) -> None:
        if self._gate is not None:
            self._gate.leave()
