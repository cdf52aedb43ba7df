"""Django's SQLite backend as the embedded databases use it: writers queued at a gate, queries converted once.

**The gate.** SQLite lets one writer at a time into a database. The others, in `BEGIN IMMEDIATE`, wait in its busy
handler, which sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, so a writer usually starts several milliseconds
after the lock was freed, and its process (one dossier at a time, the request waiting for the workflow) sits idle
meanwhile: with two processes serving dossiers, the platform database's waits came to 12.6 ms a dossier
(`benchmarks/write_locks.py`), 6.5 ms with the gate. The gate is an exclusive `flock` on `<database>-writers`,
taken before `BEGIN IMMEDIATE` and given back at `COMMIT` or `ROLLBACK`; a writer finding it taken tries again
after 0.1 ms, then twice as long each time up to 1 ms (`benchmarks/dossiers.py`, 2 processes, 200 dossiers:
15.5-16.3 dossiers/s with the gate against 14.6-14.8 without).

SQLite's own lock still decides who writes: the gate only orders those who wait. A writer that does not pass it
(an autocommitted statement, a connection in manual transaction mode, another program) waits in the busy handler
as before, and so does a gated writer that finds one of those writing.

Never a wait without end: a writer waits at the gate for the database's `timeout` at most, then goes on without
it, to SQLite's lock and its busy timeout, as without gates (a holder that stopped, or a thread that holds a
transaction while it waits for the writer queued behind it, then ends in SQLite's "database is locked", as it
would have). And a thread never waits at a gate while it holds another: a transaction opened inside another
database's transaction skips its gate. A lock on a file goes with the file: a process that dies gives back its
gates at once, a thread that ends without closing its connection gives them back when the collector closes the
file. In-memory databases (one connection, nothing to share) have no gate.

**The queries.** Django writes its SQL with `%s` placeholders and converts each query to SQLite's `?` with a
regular expression at every execution, 2 % of a dossier's CPU. The platform runs a few hundred distinct queries,
so the conversion is kept (least recently used first out)."""

from __future__ import annotations

import fcntl
import functools
import os
import threading
import time
from typing import Any, BinaryIO

from django.db.backends.sqlite3 import base

_held = threading.local()
"""How many gates this thread holds (Django's connections belong to one thread each)."""

CONVERTED_QUERIES = 2048


def gates_held() -> int:
    return int(getattr(_held, "count", 0))


POLL_FIRST, POLL_LONGEST = 0.0001, 0.001
"""While the gate is held, it is tried again after 0.1 ms, then twice as long each time up to 1 ms (SQLite's busy
handler: 1, 2, 5, 10, 15, 20, 25 ms...)."""


def wait_for(descriptor: int, *, seconds: float) -> bool:
    """Take the gate's lock, trying until `seconds` have passed; False if it stayed held all along.

    A blocking `flock` would be woken the moment the lock is given back, but it cannot be given a time limit, and a
    writer must never wait forever for a holder that stopped (nor hang with a thread that holds a transaction
    while it waits for the very writer queued behind it); short tries keep the wake-up within a millisecond."""
    deadline, pause = time.monotonic() + seconds, POLL_FIRST
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
        time.sleep(pause)
        pause = min(pause * 2, POLL_LONGEST)


def gate_path(database_name: str | os.PathLike[str]) -> str:
    return f"{os.fspath(database_name)}-writers"


class Gate:
    """One connection's place at a database's gate: entered before its first write, left when its transaction
    ends, however it ends."""

    def __init__(self, database_name: str | os.PathLike[str]) -> None:
        self._path = gate_path(database_name)
        self._file: BinaryIO | None = None  # the lock file, opened at the first transaction
        self.locked = False

    def enter(self, *, seconds: float) -> None:
        """Wait for the gate (`seconds` at most); not when this thread already holds one, which could deadlock."""
        if self.locked or gates_held() > 0:
            return
        if self._file is None:
            # A file object, not a bare descriptor: a thread that ends without closing its connection (they live
            # as long as their thread) leaves it to the garbage collector, which closes it and frees the lock.
            self._file = open(self._path, "ab")  # noqa: SIM115 - kept open, see above
        if not wait_for(self._file.fileno(), seconds=seconds):
            return  # held too long (a stopped process?): no place in the queue, SQLite's own lock and timeout rule
        self.locked = True
        _held.count = gates_held() + 1

    def leave(self) -> None:
        if not self.locked or self._file is None:
            return
        self.locked = False
        _held.count = max(gates_held() - 1, 0)
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        self.leave()
        if self._file is not None:
            self._file.close()
            self._file = None


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
        self._gate: Gate | None = None

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
            if self._gate is not None:
                self._gate.close()
                self._gate = None

    def _pass_gate(self) -> None:
        if self.is_in_memory_db():
            return
        if self._gate is None:
            self._gate = Gate(self.settings_dict["NAME"])
        self._gate.enter(seconds=float(self.settings_dict["OPTIONS"].get("timeout", 5)))

    def _leave_gate(self) -> None:
        if self._gate is not None:
            self._gate.leave()
