"""The embedded workflow database (DBOS's system database on SQLite) is in WAL mode, as the departments' are."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from souscription.platform import workflows


def journal_mode(path: Path | str) -> str:
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        connection.close()


def test_a_new_workflow_database_is_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "var" / "workflows.sqlite3"
    workflows.write_ahead_log(f"sqlite:///{path}")
    assert journal_mode(path) == "wal"


def test_an_existing_rollback_journal_database_is_switched_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "workflows.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE workflow_status (id TEXT)")
    connection.execute("INSERT INTO workflow_status VALUES ('quote:SUB-1:r1')")
    connection.commit()
    connection.close()
    assert journal_mode(path) == "delete"
    workflows.write_ahead_log(f"sqlite:///{path}")
    assert journal_mode(path) == "wal"
    assert sqlite3.connect(path).execute("SELECT id FROM workflow_status").fetchall() == [("quote:SUB-1:r1",)]


def test_a_server_database_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a URL taken for a file's path would create its folders here
    workflows.write_ahead_log("postgresql://postgres@127.0.0.1:5432/postgres")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_the_launched_runtime_s_workflow_database_is_in_wal_mode(workflow_runtime: None) -> None:
    url = workflows._state["url"]  # the session's runtime is always on a SQLite file (tests/integration/conftest.py)
    assert journal_mode(url.removeprefix("sqlite:///")) == "wal"


def _switch(url: str, barrier: Any, outcomes: Any) -> None:
    barrier.wait()
    try:
        workflows.write_ahead_log(url)
        outcomes.put("wal")
    except sqlite3.OperationalError as error:
        outcomes.put(f"{type(error).__name__}: {error}")


def test_processes_started_together_on_a_new_file_all_switch_it(tmp_path: Path) -> None:
    """A server and its workers started at once on a fresh data folder. Without the retry, 4 rounds in 20 of 6 such
    processes had a start fail with `database is locked` (8 of the 120 processes)."""
    # forkserver: the processes fork from a fresh single-threaded server, not from this one and its runtime's threads
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # imported once by the server, not by each process it forks
    for round_number in range(10):
        url = f"sqlite:///{tmp_path / f'round-{round_number}' / 'workflows.sqlite3'}"
        barrier, outcomes = context.Barrier(6), context.Queue()
        starts = [context.Process(target=_switch, args=(url, barrier, outcomes)) for _ in range(6)]
        for start in starts:
            start.start()
        results = [outcomes.get(timeout=60) for _ in starts]
        for start in starts:
            start.join(timeout=60)
        assert results == ["wal"] * 6, (round_number, results)
        assert journal_mode(url.removeprefix("sqlite:///")) == "wal"
