"""The workflow database's connections (`embedded_sqlite3.workflow_gate`): a writer takes the database's gate before
its first write and gives it back when its transaction ends, however it ends; a reader never takes it; a writer
behind the holder enters as soon as it commits; a thread holding another gate does not wait at this one."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from souscription.platform.embedded_sqlite3 import base
from souscription.platform.embedded_sqlite3.workflow_gate import GatedConnection


def connect(path: Path, *, busy_timeout: float = 5.0) -> GatedConnection:
    connection = sqlite3.connect(
        path, factory=GatedConnection, isolation_level="IMMEDIATE", check_same_thread=False, timeout=busy_timeout
    )
    assert isinstance(connection, GatedConnection)
    return connection


def gate_is_free(path: Path) -> bool:
    descriptor = os.open(base.gate_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "workflows.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE operation_outputs (workflow TEXT, step INTEGER)")
    return path


def test_a_write_holds_the_gate_until_the_commit_and_a_read_never_takes_it(database: Path) -> None:
    connection = connect(database)
    connection.cursor().execute("SELECT count(*) FROM operation_outputs").fetchone()
    assert gate_is_free(database)
    connection.cursor().execute("INSERT INTO operation_outputs VALUES ('quote:1', 1)")
    assert not gate_is_free(database)
    assert base.gates_held() == 1
    connection.commit()
    assert gate_is_free(database)
    assert base.gates_held() == 0


def test_the_gate_is_given_back_at_a_rollback_and_at_close(database: Path) -> None:
    connection = connect(database)
    connection.cursor().executemany("INSERT INTO operation_outputs VALUES (?, ?)", [("quote:1", 1), ("quote:1", 2)])
    connection.rollback()
    assert gate_is_free(database)
    connection.cursor().execute("UPDATE operation_outputs SET step = 3")
    connection.close()
    assert gate_is_free(database)
    assert base.gates_held() == 0


def test_a_write_that_fails_before_its_transaction_began_gives_the_gate_back(database: Path) -> None:
    connection = connect(database)
    with pytest.raises(sqlite3.OperationalError):
        connection.cursor().execute("INSERT INTO no_such_table VALUES (1)")
    assert gate_is_free(database) == (not connection.in_transaction)
    connection.rollback()
    assert gate_is_free(database)


def test_a_writer_behind_the_holder_enters_once_it_commits_and_sees_its_write(database: Path) -> None:
    # No busy wait for the second: without the gate its write would fail at once with "database is locked".
    first, second = connect(database), connect(database, busy_timeout=0)
    first.cursor().execute("INSERT INTO operation_outputs VALUES ('quote:1', 1)")
    entered = threading.Event()

    def write_behind() -> None:
        second.cursor().execute("UPDATE operation_outputs SET step = step + 1")
        entered.set()
        second.commit()

    writer = threading.Thread(target=write_behind)
    writer.start()
    assert not entered.wait(0.2)  # queued at the gate while the first holds it
    first.commit()
    writer.join(timeout=5)
    assert entered.is_set()
    assert connect(database).cursor().execute("SELECT step FROM operation_outputs").fetchall() == [(2,)]


def test_a_thread_holding_another_gate_does_not_wait_at_this_one(database: Path, tmp_path: Path) -> None:
    """Waiting there while holding the other could deadlock with a writer doing the reverse: SQLite decides."""
    other = tmp_path / "default.sqlite3"
    with sqlite3.connect(other) as setup:
        setup.execute("CREATE TABLE dossier (stage TEXT)")
    outer = connect(other)
    outer.cursor().execute("INSERT INTO dossier VALUES ('draft')")
    assert base.gates_held() == 1
    inner = connect(database)
    inner.cursor().execute("INSERT INTO operation_outputs VALUES ('quote:1', 1)")
    assert gate_is_free(database)
    assert base.gates_held() == 1
    inner.commit()
    outer.commit()
    assert base.gates_held() == 0


def test_a_gate_held_too_long_is_passed_by(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder that stopped must not stop every writer: after the wait, SQLite's own lock decides."""
    monkeypatch.setattr("souscription.platform.embedded_sqlite3.workflow_gate.GATE_SECONDS", 0.05)
    descriptor = os.open(base.gate_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        connection = connect(database)
        connection.cursor().execute("INSERT INTO operation_outputs VALUES ('quote:1', 1)")
        assert base.gates_held() == 0  # in without the gate, SQLite's lock being free
        connection.commit()
    finally:
        os.close(descriptor)


def test_an_in_memory_database_has_no_gate() -> None:
    connection = sqlite3.connect(":memory:", factory=GatedConnection, isolation_level="IMMEDIATE")
    connection.cursor().execute("CREATE TABLE t (x)")
    connection.cursor().execute("INSERT INTO t VALUES (1)")
    assert base.gates_held() == 0
    connection.commit()
