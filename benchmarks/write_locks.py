"""Who holds each embedded database's write lock, and who waits for it, during the dossier benchmark.

Every Django transaction on SQLite is timed from `BEGIN IMMEDIATE` to its `COMMIT` or `ROLLBACK` (held) and inside
`BEGIN IMMEDIATE` (waiting for another writer: at the database's gate, then in SQLite's busy handler if an
ungated writer holds the lock; see `platform.embedded_sqlite3`), by call site: the innermost function of
`souscription` outside the platform's plumbing. With several processes, what one process waits for is what the
others hold: the lock to shorten is the one with the most waiting. Autocommitted writes and DBOS's own transactions
(the workflow database) are not counted. Finding the call site costs a little on every transaction, so the rates of
this run are below those of `dossiers.py`; compare sites with each other, not with another benchmark.

    .venv/bin/python benchmarks/write_locks.py [the arguments of dossiers.py, e.g. --dossiers 120 --processes 2]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import dossiers  # the benchmark this one instruments; its folder is on the path when run as a script

from souscription.platform.embedded_sqlite3 import base  # the backend the settings name: gate and BEGIN timed together

PLUMBING = ("/platform/workflows.py", "/platform/databases.py", "/platform/prepared.py")
_held: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # count, held, waited
_open: dict[int, tuple[float, str]] = {}
_guard = threading.Lock()


def _site() -> str:
    frame: Any = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "/souscription/" in name and not name.endswith(PLUMBING):
            return f"{name.split('/souscription/')[-1]}:{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


def _instrument() -> None:
    begin, commit, rollback = (
        base.DatabaseWrapper._start_transaction_under_autocommit,
        base.DatabaseWrapper._commit,
        base.DatabaseWrapper._rollback,
    )

    def timed_begin(self: Any) -> None:
        asked = time.perf_counter()
        begin(self)
        granted = time.perf_counter()
        site = _site()
        with _guard:
            _held[(self.alias, site)][2] += granted - asked
        _open[id(self)] = (time.perf_counter(), site)

    def ending(end: Any) -> Any:
        def timed_end(self: Any) -> None:
            end(self)
            opened = _open.pop(id(self), None)
            if opened is not None:
                with _guard:
                    entry = _held[(self.alias, opened[1])]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - opened[0]

        return timed_end

    base.DatabaseWrapper._start_transaction_under_autocommit = timed_begin  # type: ignore[method-assign]
    base.DatabaseWrapper._commit = ending(commit)  # type: ignore[method-assign]
    base.DatabaseWrapper._rollback = ending(rollback)  # type: ignore[method-assign]


def _simulate_counted_from_ready(*args: Any, **kwargs: Any) -> Any:
    """The measured run counts from its `ready` (staff signed in, other processes ready), as the rates do."""
    ready = kwargs.get("ready")
    if ready is not None:

        def ready_then_count() -> None:
            ready()
            with _guard:
                _held.clear()

        kwargs["ready"] = ready_then_count
    return _simulate(*args, **kwargs)


def _drive_and_dump(*args: Any) -> Any:
    """One process's share of the run, then what its transactions held and waited, for the parent to add up."""
    share = _drive(*args)
    rows = [[alias, site, *numbers] for (alias, site), numbers in _held.items()]
    (dossiers.DATA / f"write-locks-{os.getpid()}.json").write_text(json.dumps(rows))
    return share


def report(count: int) -> None:
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in Path(dossiers.DATA).glob("write-locks-*.json"):
        for alias, site, transactions, held, waited in json.loads(path.read_text()):
            entry = totals[(alias, site)]
            entry[0] += transactions
            entry[1] += held
            entry[2] += waited
    by_database: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for (alias, _site_name), (transactions, held, waited) in totals.items():
        by_database[alias][0] += transactions
        by_database[alias][1] += held
        by_database[alias][2] += waited
    print(f"\nwrite locks, per dossier ({count} dossiers, from the common start):")
    for alias, (transactions, held, waited) in sorted(by_database.items(), key=lambda item: -item[1][2]):
        print(
            f"  {alias:18} {transactions / count:5.1f} transactions, held {1000 * held / count:5.1f} ms, "
            f"waited {1000 * waited / count:5.1f} ms"
        )
    print("busiest call sites (held + waited):")
    ranked = sorted(totals.items(), key=lambda item: -(item[1][1] + item[1][2]))[:15]
    for (alias, site), (transactions, held, waited) in ranked:
        print(
            f"  {alias:18} {site:55} {transactions / count:4.1f} tx, held {1000 * held / count:4.1f} ms, "
            f"waited {1000 * waited / count:4.1f} ms"
        )


_instrument()
_drive, dossiers.drive = dossiers.drive, _drive_and_dump
_simulate, dossiers.simulate = dossiers.simulate, _simulate_counted_from_ready

if __name__ == "__main__":
    dossiers.main()
    arguments = sys.argv[1:]
    report(int(arguments[arguments.index("--dossiers") + 1]) if "--dossiers" in arguments else 100)
