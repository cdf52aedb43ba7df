"""End-to-end dossiers per second, creation to `active`, on the embedded defaults, through the public API.

The path is production's: the applicant's requests (open, four steps, accept, sign) and the accountant's
validation go through Django's full stack and the API; DBOS workflows decide, price, render the offer and the
contract (a page merged with the product's static general conditions), sign it (PAdES, verified), record the
SEPA mandate, draft and post the first invoice. Printed with it, measured in the same run and folder: the
durable commit rate of raw SQLite (WAL, synchronous=FULL), and the commits one dossier costs (COMMIT statements
plus autocommitted writes, across the five department databases and the workflow database), with those that do not
wait for the disk (`platform.databases.without_flush`) counted apart.

Production serves with several processes over the same databases (one DBOS executor each; the GIL lets one
process use one core): `--processes N` runs N such processes, each driving its own share of the applicants with its
own staff, and the rate is all the dossiers over the time from the common start to the last one's end. The CPU
time one dossier costs is printed too (user and system, all processes): it is the number to bring down.

    .venv/bin/python benchmarks/dossiers.py [--dossiers 100] [--processes 1] [--concurrency 1]
                                            [--product garantie_automobile]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The processes of one run share the folder: a child (spawned: a fresh interpreter) reads it from the environment.
DATA = Path(os.environ.get("SOUSCRIPTION_BENCH_DATA") or tempfile.mkdtemp(prefix="souscription-bench-"))
os.environ.update(SOUSCRIPTION_BENCH_DATA=str(DATA), SOUSCRIPTION_DATA_DIR=str(DATA), SOUSCRIPTION_LOG_LEVEL="WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from sqlalchemy import event  # noqa: E402

from souscription.platform import workflows  # noqa: E402
from souscription.simulation import simulate  # noqa: E402

TARGET = 25.0


class CommitCounter:
    """Counts transactions committed on every SQLite connection it is given (trace callback on statements), and
    among them those that did not wait for the disk (made under `PRAGMA synchronous=NORMAL`: `without_flush`)."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self) -> None:
        self.count = 0
        self.unflushed = 0
        self._lock = threading.Lock()

    def install(self, connection: sqlite3.Connection) -> None:
        relaxed = [False]

        def trace(statement: str) -> None:
            head = statement.lstrip()[:7].upper()
            if head.startswith("PRAGMA") and "synchronous=" in statement:
                relaxed[0] = statement.rstrip().upper().endswith(("NORMAL", "OFF", "=1", "=0"))
            elif head.startswith("COMMIT") or (head.startswith(self.WRITES) and not connection.in_transaction):
                with self._lock:
                    self.count += 1
                    self.unflushed += relaxed[0]

        connection.set_trace_callback(trace)


def sqlite_commits_per_second(count: int) -> float:
    connection = sqlite3.connect(DATA / "baseline.sqlite3", isolation_level=None)
    connection.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (v TEXT);")
    started = time.perf_counter()
    for index in range(count):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (?)", (str(index),))
        connection.execute("COMMIT")
    return count / (time.perf_counter() - started)


@dataclass
class Share:
    """What one process measured of its share of the run."""

    stages: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    commits: int = 0
    unflushed: int = 0
    cpu_seconds: float = 0.0
    started: float = 0.0
    ended: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=100)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=1, help="applicants at once in each process")
    parser.add_argument("--product", default="garantie_automobile")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    connections.close_all()  # a spawned process must not inherit a thing; this one reopens with its counter
    baseline = sqlite_commits_per_second(2000)
    counts = [
        args.dossiers // args.processes + (1 if i < args.dossiers % args.processes else 0)
        for i in range(args.processes)
    ]
    if args.processes == 1:
        shares = [drive(0, counts[0], 0, args.product, args.concurrency, None)]
    else:
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(args.processes), context.Queue()
        children = [
            context.Process(
                target=_child,
                args=(results, i, counts[i], sum(counts[:i]), args.product, args.concurrency, barrier),
            )
            for i in range(args.processes)
        ]
        for child in children:
            child.start()
        shares = [results.get() for _child_process in children]
        for child in children:
            child.join()
    report(args, shares, baseline)


def _child(results: Any, *args: Any) -> None:
    results.put(drive(*args))
    workflows.end_process(0)


def drive(index: int, count: int, first: int, product: str, concurrency: int, barrier: Any) -> Share:
    """One process's share: its own DBOS executor, its staff, its applicants; counted from the common start."""
    counter = CommitCounter()

    def on_django_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
        counter.install(connection.connection)

    connection_created.connect(on_django_connection)
    connections.close_all()
    workflows.launch(settings.SOUSCRIPTION, executor_id=f"bench-{index}")
    engine = _system_engine()
    event.listen(engine, "connect", lambda dbapi_connection, _record: counter.install(dbapi_connection))
    engine.dispose()  # reconnect, so every workflow-database connection carries the counter
    share = Share()
    marks: dict[str, Any] = {}

    def ready() -> None:
        if barrier is not None:
            barrier.wait()
        marks.update(
            commits=counter.count,
            unflushed=counter.unflushed,
            usage=resource.getrusage(resource.RUSAGE_SELF),
            at=time.time(),
        )

    try:
        # Warm-up: imports, caches, first PDFs; its applicants are not the measured ones.
        simulate(product=product, count=3, seed=1, first=100_000 + 10 * index, team=f"p{index}")
        outcome = simulate(
            product=product, count=count, seed=2026, concurrency=concurrency, first=first, team=f"p{index}", ready=ready
        )
        share.ended = time.time()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        share.commits = counter.count - marks["commits"]
        share.unflushed = counter.unflushed - marks["unflushed"]
    finally:
        workflows.shutdown()
    share.started, share.stages, share.requests = marks["at"], outcome.stages, outcome.requests
    share.cpu_seconds = (usage.ru_utime - marks["usage"].ru_utime) + (usage.ru_stime - marks["usage"].ru_stime)
    return share


def report(args: argparse.Namespace, shares: list[Share], baseline: float) -> None:
    stages: Counter[str] = sum((share.stages for share in shares), Counter())
    dossiers = sum(stages.values())
    seconds = max(share.ended for share in shares) - min(share.started for share in shares)
    requests = sum(share.requests for share in shares)
    commits = sum(share.commits for share in shares) / dossiers
    unflushed = sum(share.unflushed for share in shares) / dossiers
    cpu_ms = 1000 * sum(share.cpu_seconds for share in shares) / dossiers
    rate = dossiers / seconds
    print(
        f"product                      : {args.product}, {dossiers} dossiers, {args.processes} process(es), "
        f"concurrency {args.concurrency} each"
    )
    print(f"final stages                 : {dict(stages)}")
    print(f"API requests                 : {requests} ({requests / dossiers:.1f} per dossier)")
    print(
        f"dossiers per second          : {rate:.1f} (target >= {TARGET:.0f}; {stages.get('active', 0)} reached active)"
    )
    print(f"CPU per dossier              : {cpu_ms:.0f} ms (user + system, every process)")
    print(f"raw SQLite durable commits/s : {baseline:,.0f} (same folder, WAL, synchronous=FULL)")
    durable = commits - unflushed
    print(f"commits per dossier          : {commits:.1f} ({durable:.1f} durable, {unflushed:.1f} not flushed)")
    print(f"commit-bound ceiling         : {baseline / durable:.1f} dossiers/s (durable commits)")
    print(f"ratio to target              : {rate / TARGET:.2f}")


def _system_engine() -> Any:
    from dbos._dbos import _get_dbos_instance

    return _get_dbos_instance()._sys_db.engine


if __name__ == "__main__":
    main()
