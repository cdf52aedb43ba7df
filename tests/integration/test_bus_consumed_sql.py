"""The SQL de-duplication store on a real database: SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connections, transaction

from souscription.integrations.bus.consumed_sql import TABLE, SqlConsumedMessages
from tests.unit.test_bus_consumed import ConsumedMessagesContract, Failed, rolled_back

pytestmark = pytest.mark.integration


def sql_store(alias: str, **options: Any) -> SqlConsumedMessages:
    return SqlConsumedMessages(alias, connections=connections, transaction=transaction, **options)


def drop_table(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


@pytest.fixture
def postgres_alias(postgres_server_url: str, django_db_blocker: Any) -> Iterator[str]:
    """A throwaway PostgreSQL database, reachable as a Django connection alias of its own."""
    import dj_database_url
    import psycopg

    name, alias = f"bus_{uuid.uuid4().hex[:10]}", "bus_postgres"
    with psycopg.connect(postgres_server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    config = dj_database_url.parse(f"{postgres_server_url.rsplit('/', 1)[0]}/{name}")
    connections.settings[alias] = connections.configure_settings({**connections.settings, alias: config})[alias]
    try:
        with django_db_blocker.unblock():
            yield alias
            connections[alias].close()
    finally:
        del connections[alias]
        del connections.settings[alias]
        with psycopg.connect(postgres_server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SqlStoreContract(ConsumedMessagesContract):
    """The shared contract, plus what only a real table shows."""

    def test_without_prepare_the_table_is_created_and_survives_a_first_transaction_that_failed(
        self, store: SqlConsumedMessages
    ) -> None:
        fresh = sql_store(store.using)
        drop_table(store.using)
        with pytest.raises(Failed):
            rolled_back(fresh, lambda: fresh.first_time("billing", "m-1"))
        with fresh.atomic():
            assert fresh.first_time("billing", "m-1") is True
        with fresh.atomic():
            assert fresh.first_time("billing", "m-1") is False

    def test_old_rows_can_be_forgotten(self, store: SqlConsumedMessages) -> None:
        then = datetime(2026, 1, 1, tzinfo=UTC)
        old = sql_store(store.using, clock=lambda: then)
        with old.atomic():
            old.first_time("billing", "old")
        with store.atomic():
            store.first_time("billing", "recent")
        assert store.forget_before(then + timedelta(days=1)) == 1
        with store.atomic():
            assert store.first_time("billing", "recent") is False


@pytest.mark.django_db(databases=["default"], transaction=True)
class TestOnSqlite(SqlStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[SqlConsumedMessages]:
        store = sql_store("default")
        store.prepare()
        yield store
        drop_table("default")


@pytest.mark.postgres
class TestOnPostgresql(SqlStoreContract):
    @pytest.fixture
    def store(self, postgres_alias: str) -> SqlConsumedMessages:
        store = sql_store(postgres_alias)
        store.prepare()
        return store

    def test_two_workers_receiving_the_same_message_never_both_apply_it(self, store: SqlConsumedMessages) -> None:
        """The second transaction waits on the first one's row, then finds it: exactly one applies."""
        inside, answers = threading.Event(), []

        def second_worker() -> None:
            inside.wait()
            try:
                with store.atomic():
                    answers.append(store.first_time("billing", "m-race"))
            finally:
                connections[store.using].close()

        worker = threading.Thread(target=second_worker)
        worker.start()
        with store.atomic():
            answers.append(store.first_time("billing", "m-race"))
            inside.set()
            worker.join(timeout=0.5)
            assert worker.is_alive(), "the second worker waits for the first one's transaction"
        worker.join(timeout=10)
        assert answers == [True, False]
