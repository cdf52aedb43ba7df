"""The embedded databases' SQLite backend (`platform.embedded_sqlite3`). Writers queue at a gate: a lock file taken
before `BEGIN IMMEDIATE` and given back at the end of the transaction, however it ends; never waited for by a
thread that already holds another database's gate. Queries are converted to SQLite's placeholders as Django does,
once per distinct query."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connections, transaction

from souscription.platform.embedded_sqlite3.base import gate_path, gates_held, qmark_style
from souscription.platform.embedded_sqlite3.workflow_gate import GatedConnection

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture(autouse=True)
def _embedded_only() -> None:
    if connections["default"].vendor != "sqlite":
        pytest.skip("the gate is the embedded SQLite backend's; PostgreSQL queues its writers itself")


@contextmanager
def other_descriptor(alias: str) -> Iterator[int]:
    """The gate's lock file opened apart, as another process would."""
    descriptor = os.open(gate_path(connections[alias].settings_dict["NAME"]), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def gate_is_free(alias: str) -> bool:
    with other_descriptor(alias) as descriptor:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return True


def test_a_transaction_holds_its_database_gate_until_it_commits() -> None:
    assert gate_is_free("default")
    with transaction.atomic(using="default"):
        assert not gate_is_free("default")
        assert gate_is_free("billing")
        assert gates_held() == 1
    assert gate_is_free("default")
    assert gates_held() == 0


def test_the_gate_is_given_back_when_the_transaction_rolls_back() -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic(using="sales"):
        _ = 1 / 0
    assert gate_is_free("sales")
    assert gates_held() == 0


def test_the_gate_is_given_back_when_the_connection_closes_inside_the_transaction() -> None:
    with transaction.atomic(using="legal"):
        connections["legal"].close()
        assert gate_is_free("legal")
    assert gates_held() == 0


def test_a_transaction_inside_another_databases_transaction_does_not_wait_at_its_gate() -> None:
    """Waiting there while holding the outer gate could deadlock with a writer doing the reverse: the inner one
    waits for SQLite's lock alone, bounded by the database's timeout."""
    with transaction.atomic(using="default"), transaction.atomic(using="billing"):
        assert not gate_is_free("default")
        assert gate_is_free("billing")
        assert gates_held() == 1
    assert gate_is_free("default")
    assert gate_is_free("billing")


def test_a_gate_held_longer_than_the_databases_timeout_is_passed_by_and_sqlite_decides() -> None:
    """A holder that stopped (or a thread that holds the gate while it waits for the writer behind it) must not
    make anyone wait for ever: after the database's timeout the writer goes on to SQLite's own lock."""
    options = connections["default"].settings_dict["OPTIONS"]
    before = options.get("timeout")
    options["timeout"] = 0.2
    try:
        with other_descriptor("default") as stopped_holder:
            fcntl.flock(stopped_holder, fcntl.LOCK_EX)
            with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
                assert gates_held() == 0  # in, without the gate: SQLite's lock was free
            fcntl.flock(stopped_holder, fcntl.LOCK_UN)
    finally:
        options["timeout"] = before
    with transaction.atomic(using="default"):
        assert gates_held() == 1  # the next writer queues at the gate again


def test_a_writer_waiting_at_the_gate_enters_once_the_holder_commits_and_sees_its_write() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS gate_probe (writer TEXT)")
        cursor.execute("DELETE FROM gate_probe")
    asked, entered = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    def second_writer() -> None:
        try:
            asked.set()
            with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
                entered.set()
                cursor.execute("SELECT writer FROM gate_probe")
                seen.append([row[0] for row in cursor.fetchall()])
                cursor.execute("INSERT INTO gate_probe VALUES ('second')")
        finally:
            connections["default"].close()

    waiter = threading.Thread(target=second_writer)
    with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
        cursor.execute("INSERT INTO gate_probe VALUES ('first')")
        waiter.start()
        assert asked.wait(10)
        # Whatever the machine's speed, the second writer cannot be inside while this transaction is open.
        assert not entered.wait(0.3)
    waiter.join(30)
    assert entered.is_set()
    assert seen == [["first"]]
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT writer FROM gate_probe ORDER BY rowid")
        assert [row[0] for row in cursor.fetchall()] == ["first", "second"]
        cursor.execute("DROP TABLE gate_probe")


def test_queries_are_converted_as_django_converts_them_placeholders_and_literal_percents() -> None:
    assert qmark_style("SELECT %s, 'a%%b' WHERE x LIKE %s") == "SELECT ?, 'a%b' WHERE x LIKE ?"
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT %s, 'a%%b', %s", [1, "deux"])
        assert cursor.fetchone() == (1, "a%b", "deux")
        cursor.execute("SELECT %s, 'a%%b', %s", [3, "quatre"])  # the kept conversion, other values
        assert cursor.fetchone() == (3, "a%b", "quatre")
        cursor.execute("SELECT %(amount)s, %(currency)s", {"amount": 12, "currency": "EUR"})
        assert cursor.fetchone() == (12, "EUR")
        cursor.execute("SELECT 'sans paramètre %%'")  # Django leaves a query without parameters as written
        assert cursor.fetchone() == ("sans paramètre %%",)


@pytest.mark.usefixtures("workflow_runtime")
def test_the_embedded_workflow_database_writers_queue_at_its_gate_too() -> None:
    """DBOS's own SQLite connections are the gated ones (`workflow_gate`), the gate next to its database file."""
    from dbos._dbos import _get_dbos_instance

    engine = _get_dbos_instance()._sys_db.engine
    with engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        assert isinstance(dbapi, GatedConnection)
        connection.exec_driver_sql("INSERT INTO dbos_migrations (version) VALUES (-1)")
        assert os.path.exists(gate_path(engine.url.database or ""))
        assert gates_held() == 1
        connection.rollback()
    assert gates_held() == 0
