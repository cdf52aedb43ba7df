"""End-to-end dossiers per second, creation to `active`, on the embedded defaults, through the public API.

The path is production's: the applicant's requests (open, four steps, accept, sign) and the accountant's
validation go through Django's full stack and the API; DBOS workflows decide, price, render the offer and the
contract (a page merged with the product's static general conditions), sign it (PAdES, verified), record the
SEPA mandate, draft and post the first invoice. Printed with it, measured in the same run and folder: the
durable commit rate of raw SQLite (WAL, synchronous=FULL), and the commits one dossier costs (COMMIT statements
plus autocommitted writes, across the five department databases and the workflow database).

    .venv/bin/python benchmarks/dossiers.py [--dossiers 100] [--concurrency 1] [--product garantie_automobile]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DATA = Path(tempfile.mkdtemp(prefix="souscription-bench-"))
os.environ.update(SOUSCRIPTION_DATA_DIR=str(DATA), SOUSCRIPTION_LOG_LEVEL="WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from sqlalchemy import event  # noqa: E402

from souscription.platform import workflows  # noqa: E402
from souscription.simulation import simulate  # noqa: E402

TARGET = 25.0


class CommitCounter:
    """Counts transactions committed on every SQLite connection it is given (trace callback on statements)."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def install(self, connection: sqlite3.Connection) -> None:
        def trace(statement: str) -> None:
            head = statement.lstrip()[:7].upper()
            if head.startswith("COMMIT") or (head.startswith(self.WRITES) and not connection.in_transaction):
                with self._lock:
                    self.count += 1

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--product", default="garantie_automobile")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    baseline = sqlite_commits_per_second(2000)

    counter = CommitCounter()

    def on_django_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
        counter.install(connection.connection)

    connection_created.connect(on_django_connection)
    workflows.launch(settings.SOUSCRIPTION)
    engine = _system_engine()
    event.listen(engine, "connect", lambda dbapi_connection, _record: counter.install(dbapi_connection))
    engine.dispose()  # reconnect, so every workflow-database connection carries the counter
    try:
        simulate(product=args.product, count=5, seed=1, concurrency=1)  # warm-up: imports, caches, first PDFs
        before = counter.count
        outcome = simulate(product=args.product, count=args.dossiers, seed=2026, concurrency=args.concurrency)
        commits = counter.count - before
    finally:
        workflows.shutdown()
    rate = outcome.dossiers / outcome.seconds
    active = outcome.stages.get("active", 0)
    print(f"product                      : {args.product}, {args.dossiers} dossiers, concurrency {args.concurrency}")
    print(f"final stages                 : {dict(outcome.stages)}")
    print(f"API requests                 : {outcome.requests} ({outcome.requests / outcome.dossiers:.1f} per dossier)")
    print(f"dossiers per second          : {rate:.1f} (target >= {TARGET:.0f}; {active} reached active)")
    print(f"raw SQLite durable commits/s : {baseline:,.0f} (same folder, WAL, synchronous=FULL)")
    print(f"commits per dossier          : {commits / outcome.dossiers:.1f}")
    print(f"commit-bound ceiling         : {baseline / (commits / outcome.dossiers):.1f} dossiers/s")
    print(f"ratio to target              : {rate / TARGET:.2f}", file=sys.stdout)


def _system_engine() -> Any:
    from dbos._dbos import _get_dbos_instance

    return _get_dbos_instance()._sys_db.engine


if __name__ == "__main__":
    main()
