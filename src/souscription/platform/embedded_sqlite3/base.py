"""Django's SQLite backend as the embedded databases use it: writers queued at a gate, queries converted once.

**The gate.** SQLite lets one writer at a time into a database. The others, in `BEGIN IMMEDIATE`, wait in its busy
handler, which sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries rather than being woken, so a writer usually
starts several milliseconds after the lock was freed, and its process (one dossier at a time, the request waiting
for the workflow) sits idle meanwhile: with two processes serving dossiers, the platform database's waits came to
12.6 ms a dossier (`benchmarks/write_locks.py`). The gate is an exclusive `flock` on `<database>-writers`, taken
before `BEGIN IMMEDIATE` and given back at `COMMIT` or `ROLLBACK`: the kernel wakes the next writer as soon as it
is given back (`benchmarks/dossiers.py`, 2 processes, 200 dossiers, alternating runs: 15.5-15.7 dossiers/s with
the gate against 14.6-14.8 without).

SQLite's own lock still decides who writes: the gate only orders those who wait. A writer that does not pass it
(an autocommitted statement, another program) waits in the busy handler as before, and so does a gated writer
that finds one of those writing.

No deadlock: a thread never waits at a gate while it holds another. A transaction opened inside another
database's transaction skips its gate and waits for SQLite's lock alone, bounded by the database's `timeout`, as
it did without gates. So whoever holds a gate only waits for bounded things, and whoever waits at a gate holds
none. A lock on a file goes with its descriptor: a process that dies gives back its gates at once. In-memory
databases (one connection, nothing to share) have no gate.

**The queries.** Django writes its SQL with `%s` placeholders and converts each query to SQLite's `?` with a
regular expression at every execution, 2 % of a dossier's CPU. The platform runs a few hundred distinct queries,
so the conversion is kept (least recently used first out)."""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from typing import Any

from django.db.backends.sqlite3 import base

_held = threading.local()
"""How many gates this thread holds (Django's connections belong to one thread each)."""

CONVERTED_QUERIES = 2048


def gates_held() -> int:
    return int(getattr(_held, "count", 0))


def gate_path(database_name: str | os.PathLike[str]) -> str:
    return f"{os.fspath(database_name)}-writers"


@functools.lru_cache(maxsize=CONVERTED_QUERIES)
def qmark_style(query: str) -> str:
    """Django's conversion of a "format" style query (`%s`, `%%`) to SQLite's "qmark" style (`?`, `%`)."""
    return str(base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%"))


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is None:
            return qmark_style(query)
        return str(super().convert_query(query, param_names=param_names))


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate: int | None = None  # the lock file's descriptor, opened at the first transaction
        self._gate_locked = False

    def create_cursor(self, name: str | None = None) -> SQLiteCursorWrapper:
        return self.connection.cursor(factory=SQLiteCursorWrapper)  # type: ignore[no-any-return]

    def _start_transaction_under_autocommit(self) -> None:
        self._pass_gate()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private: not in the stubs
        except BaseException:
            self._leave_gate()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._leave_gate()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._leave_gate()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._leave_gate()
            if self._gate is not None:
                os.close(self._gate)
                self._gate = None

    def _pass_gate(self) -> None:
        if self._gate_locked or gates_held() or self.is_in_memory_db():
            return
        if self._gate is None:
            self._gate = os.open(gate_path(self.settings_dict["NAME"]), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._gate, fcntl.LOCK_EX)  # releases the GIL while it waits
        self._gate_locked = True
        _held.count = gates_held() + 1

    def _leave_gate(self) -> None:
        if not self._gate_locked or self._gate is None:
            return
        self._gate_locked = False
        _held.count = gates_held() - 1
        fcntl.flock(self._gate, fcntl.LOCK_UN)
