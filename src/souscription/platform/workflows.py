"""The durable workflow runtime (DBOS Transact), configured from the platform's settings.

Embedded mode: `souscription serve` launches it in-process on a SQLite system database. Production:
`souscription worker` processes launch it on PostgreSQL, each under a stable executor id, so a restarted
worker recovers exactly the workflows it had in flight. Workflows of every context are registered by
importing each app's `workflows` module before launch (DBOS needs its decorators applied first).

The application version is pinned to the package version: DBOS only recovers workflows recorded under the
running version, and its default (a hash of the workflow source) would orphan in-flight dossiers on any
code change. Bump the package version when a workflow's sequence of steps changes incompatibly.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import structlog
from dbos import DBOS, DBOSClient, DBOSConfig
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.utils.module_loading import autodiscover_modules

from souscription import __version__
from souscription.configuration import Environment
from souscription.platform.embedded_sqlite3.workflow_gate import GatedConnection
from souscription.platform.executor_lock import ExecutorLock

P = ParamSpec("P")
R = TypeVar("R")

log = structlog.get_logger(__name__)
_lock = threading.Lock()
_state: dict[str, Any] = {"launched": False, "executor_id": None, "url": None, "lock": None}
_schedules: dict[str, dict[str, Any]] = {}
_queues: dict[str, dict[str, Any]] = {}
_after_launch: dict[str, Callable[[], Callable[[], None]]] = {}
_stoppers: list[Callable[[], None]] = []


def dbos_config(env: Environment, *, executor_id: str | None = None) -> DBOSConfig:
    config: DBOSConfig = {
        "name": "souscription",
        "system_database_url": env.workflow_database_url,
        "executor_id": executor_id or env.executor_id,
        "application_version": __version__,
        # DBOS logs every schema migration and poll at INFO through its own handler; ours is enough at INFO.
        "log_level": "WARNING" if env.log_level == "INFO" else env.log_level,
    }
    if env.workflow_database_url.startswith("sqlite"):
        # A file has no server to lose: the pool's ping before each checkout was one statement more per step.
        # Its writers queue at the database's gate rather than in SQLite's busy handler (`workflow_gate`).
        config["db_engine_kwargs"] = {"pool_pre_ping": False, "connect_args": {"factory": GatedConnection}}
    return config


WAL_SWITCH_SECONDS = 30.0


def write_ahead_log(url: str) -> None:
    """Put an embedded workflow database in WAL mode (kept in the file) before DBOS opens it.

    DBOS leaves SQLite's rollback journal: every step's commit then cost several syncs, and each write locked out
    the readers (its queue pollers, the other processes' executors), which slept in SQLite's busy handler
    (1, 2, 5, 10 ms...) until the writer was done. In WAL mode readers go on beside the one writer."""
    if not url.startswith("sqlite:///"):
        return
    path = url.removeprefix("sqlite:///")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    while True:
        connection = sqlite3.connect(path, timeout=WAL_SWITCH_SECONDS)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            # Processes started together on a new file each hold a shared lock and want the exclusive one to switch
            # it: SQLite refuses all but one at once, without its busy wait (that would deadlock). The one switches
            # in a moment, after which the others' PRAGMA finds WAL and needs no exclusive lock.
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        finally:
            connection.close()
        time.sleep(0.01)


def launch(env: Environment, *, executor_id: str | None = None) -> None:
    """Register every context's workflows, then start DBOS; it recovers this executor's pending workflows.

    Raises `ExecutorAlreadyRunning` when another live process holds the same executor id."""
    with _lock:
        if _state["launched"]:
            return
        autodiscover_modules("workflows")
        config = dbos_config(env, executor_id=executor_id)
        executor_lock = ExecutorLock(
            executor_id=str(config["executor_id"]),
            workflow_database_url=env.workflow_database_url,
            data_dir=env.data_dir,
        )
        executor_lock.acquire()
        try:
            write_ahead_log(env.workflow_database_url)
            DBOS(config=config)
            DBOS.launch()
            if _schedules:
                DBOS.apply_schedules(list(_schedules.values()))  # type: ignore[arg-type]
            for name, options in _queues.items():
                DBOS.register_queue(name, on_conflict="always_update", **options)
            _stoppers.extend(start() for start in _after_launch.values())
        except BaseException:
            executor_lock.release()
            raise
        _state.update(
            launched=True,
            executor_id=config["executor_id"],
            url=_redacted(env.workflow_database_url),
            lock=executor_lock,
        )
    log.info("workflows.launched", executor_id=config["executor_id"], version=__version__)


def shutdown() -> None:
    """Stop DBOS (tests, clean process exit). Pending workflows stay recorded and are recovered at next launch."""
    with _lock:
        if not _state["launched"]:
            return
        while _stoppers:
            _stoppers.pop()()
        DBOS.destroy(destroy_registry=False, workflow_completion_timeout_sec=5)
        _state["lock"].release()
        _state.update(launched=False, executor_id=None, url=None, lock=None)


def waiting_threads() -> list[threading.Thread]:
    """DBOS executor threads still alive after `shutdown`: workflows that wait (a parked or dead-lettered vendor
    call, a dossier waiting for its call's result). Their progress is in the workflow database."""
    return [thread for thread in threading.enumerate() if thread.name.startswith("dbos-executor")]


def end_process(code: int = 0) -> None:
    """Leave the process after `shutdown`, without joining the workflows that still wait. DBOS's executor threads
    are not daemons: the interpreter's normal exit joins them, which lasts as long as their wait (a dead-lettered
    call waits a day for a person). What they had done is recorded and the next launch recovers them, so they are
    left behind, as a `kill` would; with none waiting, the process ends normally."""
    if not waiting_threads():
        return
    log.info("workflows.left_waiting", threads=len(waiting_threads()))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def is_running() -> bool:
    return bool(_state["launched"])


def describe() -> str:
    if not _state["launched"]:
        return "non démarré (souscription serve ou souscription worker le démarre)"
    return f"exécuteur {_state['executor_id']} sur {_state['url']}"


@dataclass(frozen=True)
class FailedWorkflow:
    workflow_id: str
    name: str
    failed_at: datetime | None
    error: str
    """The exception's class only: its message may quote what the step read (an answer, an address)."""


def failed(*, limit: int = 100) -> list[FailedWorkflow]:
    """Workflows ended in error, the latest first: a fault that trying again did not get past (a bug, a schema
    error); each waits for a person, who fixes the cause and resumes it (`resume`)."""
    with _system() as system:
        if system is None:
            return []
        statuses = system.list_workflows(status=["ERROR"], limit=limit, sort_desc=True, load_input=False)
    return [
        FailedWorkflow(
            workflow_id=status.workflow_id,
            name=status.name,
            failed_at=datetime.fromtimestamp(status.updated_at / 1000, tz=UTC) if status.updated_at else None,
            error=type(status.error).__name__ if status.error is not None else "",
        )
        for status in statuses
    ]


def resume(workflow_ids: list[str]) -> list[str]:
    """Run the workflows ended in error again from the step that failed, under the same id (DBOS's rewind: the
    steps before keep their recorded results; a running `serve` or `worker` takes them); returns the ids that are
    not in error, left alone."""
    with _system() as system:
        if system is None:
            return list(workflow_ids)
        found = {status.workflow_id for status in system.list_workflows(workflow_ids=workflow_ids, status=["ERROR"])}
        for workflow_id in workflow_ids:
            if workflow_id in found:
                steps = system.list_workflow_steps(workflow_id)
                failed_step = next((step["function_id"] for step in steps if step.get("error") is not None), None)
                system.rewind_workflow(workflow_id, start_step=failed_step)
    return [workflow_id for workflow_id in workflow_ids if workflow_id not in found]


@contextmanager
def _system() -> Iterator[Any]:
    """DBOS itself in a process that launched it, else a client of the workflow database (the command line);
    None when no workflow ever ran (an embedded workflow database not created yet)."""
    if is_running():
        yield DBOS
        return
    url = settings.SOUSCRIPTION.workflow_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        yield None  # the client would create an empty file, without DBOS's tables
        return
    client = DBOSClient(system_database_url=url)
    try:
        yield client
    finally:
        client.destroy()


def releases_connections(function: Callable[P, R]) -> Callable[P, R]:
    """Recycle this thread's Django connections after a step, as Django does after a request: DBOS runs steps in
    its own threads, which Django's request cycle never cleans. A healthy SQLite connection is kept for the
    thread's next step (reopening a file and its pragmas cost more than a step's own work); a server connection
    is closed, since DBOS's pool threads would otherwise each pin one per database on the server."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                if connection.in_atomic_block:
                    continue  # a step called inside the caller's transaction: closing would silently discard it
                if connection.vendor == "sqlite":
                    connection.close_if_unusable_or_obsolete()
                else:
                    connection.close()

    return wrapper


def scheduled(*, name: str, cron: str, timezone: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a DBOS workflow (`scheduled_time`, `context`) on a cron schedule. DBOS 3 keeps schedules in its system
    database, created after launch: the decorator records the schedule, `launch` applies them all (creating or
    updating each by name), so a schedule changed in the code replaces the stored one."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        _schedules[name] = {"schedule_name": name, "workflow_fn": function, "schedule": cron, "cron_timezone": timezone}
        return function

    return decorate


def after_launch(name: str, start: Callable[[], Callable[[], None]]) -> None:
    """Run `start` once DBOS is launched (a background loop that needs it, such as the events relay); it returns
    the function that stops it, called at shutdown."""
    _after_launch[name] = start


def queue(name: str, **options: Any) -> None:
    """Declare a DBOS queue (limits: `worker_concurrency`, `limiter={"limit", "period"}`); DBOS 3 persists queues
    in its system database, so `launch` registers them after starting, replacing what an older release stored."""
    _queues[name] = options


TRANSIENT_RETRIES: dict[str, Any] = {"max_attempts": 5, "interval_seconds": 0.5, "backoff_rate": 2.0}
"""A step that met a transient database fault is tried again 4 times, 0.5 to 4 s apart (7.5 s in all)."""
_NOT_TRANSIENT = ("no such table", "no such column", "syntax error", "has no column", "datatype mismatch")


def transient_database_fault(error: BaseException) -> bool:
    """A fault that trying again may not meet: the database busy or locked past its timeout, a server connection
    lost or refused, a serialization failure; not a schema or query error, which would fail every time."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    message = str(error).lower()
    return not any(part in message for part in _NOT_TRANSIENT)


def step(**options: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`DBOS.step` for a step that uses the Django ORM: one local transaction, connections released after.

    Steps are already run again whole after a crash (DBOS records a step once it returned), so each is written to
    find what an earlier run committed; trying one again after a transient database fault is as safe, and spares
    the workflow an end in error that nothing would restart (its id makes the sweeper's start a no-op)."""
    settings = {"retries_allowed": True, **TRANSIENT_RETRIES, "should_retry": transient_database_fault, **options}

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        return DBOS.step(**settings)(releases_connections(function))

    return decorate


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
