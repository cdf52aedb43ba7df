"""One live process per executor id.

DBOS recovers, at launch, the pending workflows recorded under its executor id. Two live processes sharing
an id would both run the same workflows at once (checked on DBOS 3.4: the second launch re-queues the
first one's running workflow). So a process holds an exclusive lock on its id for as long as it lives: a
file lock next to a SQLite system database, a session advisory lock on PostgreSQL. Both are released by the
operating system or the server when the process dies, even by kill -9, so a restarted worker gets it back.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO, Any


class ExecutorAlreadyRunning(RuntimeError):
    code = "executor_already_running"

    def __init__(self, executor_id: str) -> None:
        super().__init__(
            f"L'exécuteur « {executor_id} » tourne déjà dans un autre processus. Donnez à chaque processus "
            "un identifiant distinct et stable (--executor-id ou SOUSCRIPTION_EXECUTOR_ID)."
        )


class ExecutorLock:
    def __init__(self, *, executor_id: str, workflow_database_url: str, data_dir: Path) -> None:
        self.executor_id = executor_id
        self._url = workflow_database_url
        self._data_dir = data_dir
        self._held: IO[str] | Any | None = None

    def acquire(self) -> None:
        if self._url.startswith("sqlite"):
            self._held = self._acquire_file()
        else:
            self._held = self._acquire_advisory()

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()

    def _acquire_file(self) -> IO[str]:
        folder = self._data_dir / "executors"
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / f"{_safe_name(self.executor_id)}.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ExecutorAlreadyRunning(self.executor_id) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def _acquire_advisory(self) -> Any:
        import psycopg

        url = self._url.replace("postgresql+psycopg://", "postgresql://")
        _ensure_database(url)
        connection = psycopg.connect(url, autocommit=True, application_name=f"souscription-{self.executor_id}")
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(self.executor_id),)).fetchone()
        if not row or not row[0]:
            connection.close()
            raise ExecutorAlreadyRunning(self.executor_id)
        return connection


def _ensure_database(url: str) -> None:
    """Create the workflow database if missing, as DBOS would at launch: the lock must live in it, and it
    must be taken before launch."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    name = str(params.get("dbname") or "")
    if not name:
        return
    with psycopg.connect(make_conninfo("", **{**params, "dbname": "postgres"}), autocommit=True) as maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _lock_key(executor_id: str) -> int:
    digest = hashlib.sha256(f"souscription-executor:{executor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _safe_name(executor_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in executor_id)[:100] or "_"
