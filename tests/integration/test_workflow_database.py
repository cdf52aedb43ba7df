"""The embedded workflow database (DBOS's system database on SQLite) is in WAL mode, as the departments' are."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
