"""The message ids a consumer applied, in a table of the consumer's own database (SQLite or PostgreSQL).

The row is inserted in the consumer's transaction (`atomic()` on the same connection alias as the consumer's
writes), so "applied" and "recorded as applied" commit together. `INSERT ... ON CONFLICT DO NOTHING` on the
primary key decides: one row inserted is the first time; none is a duplicate. On PostgreSQL a concurrent
transaction inserting the same key waits for the first one, then inserts nothing, so two workers that receive
the same message never both apply it.

The table is created here with `CREATE TABLE IF NOT EXISTS` rather than by a Django migration, so this package
touches no app's models or routers; it should become a migration of the app that owns the bus's tables.

`souscription.integrations` imports no Django (an import-linter contract), so the caller hands Django's
`connections` and `transaction` in: `SqlConsumedMessages("billing", connections=connections,
transaction=transaction)`. The connection is looked up at each call, as Django's are per thread."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

TABLE = "bus_consumed_message"

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    consumer VARCHAR(200) NOT NULL,
    message_id VARCHAR(200) NOT NULL,
    consumed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (consumer, message_id)
)
"""

_INSERT = (
    f"INSERT INTO {TABLE} (consumer, message_id, consumed_at) VALUES (%s, %s, %s) "  # noqa: S608 - constant
    "ON CONFLICT (consumer, message_id) DO NOTHING"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Connections(Protocol):
    """What is used of `django.db.connections`."""

    def __getitem__(self, alias: str) -> Any: ...


class Transactions(Protocol):
    """What is used of `django.db.transaction`."""

    def atomic(self, using: str) -> AbstractContextManager[Any]: ...

    def on_commit(self, func: Callable[[], None], using: str) -> None: ...


class SqlConsumedMessages:
    def __init__(
        self,
        using: str = "default",
        *,
        connections: Connections,
        transaction: Transactions,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.using = using
        self._connections, self._transaction = connections, transaction
        self._clock = clock
        self._table_ready = False

    def prepare(self) -> None:
        """Create the table if it is missing; call it once at start-up, outside any transaction."""
        with self._connections[self.using].cursor() as cursor:
            cursor.execute(_CREATE)
        self._table_ready = True

    def atomic(self) -> AbstractContextManager[None]:
        return self._transaction.atomic(using=self.using)

    def first_time(self, consumer: str, message_id: str) -> bool:
        connection = self._connections[self.using]
        if not self._table_ready:
            self._create_in_transaction()
        consumed_at = connection.ops.adapt_datetimefield_value(self._clock())
        with connection.cursor() as cursor:
            cursor.execute(_INSERT, [consumer, message_id, consumed_at])
            return bool(cursor.rowcount == 1)

    def _create_in_transaction(self) -> None:
        """Without `prepare()`: create it in the caller's transaction, and trust it exists only once that
        transaction committed (a rolled-back creation on PostgreSQL leaves no table behind)."""
        with self._connections[self.using].cursor() as cursor:
            cursor.execute(_CREATE)
        self._transaction.on_commit(self._mark_ready, using=self.using)

    def _mark_ready(self) -> None:
        self._table_ready = True

    def forget_before(self, moment: datetime) -> int:
        """Delete the rows of messages consumed before `moment` (retention: redeliveries come within hours, not
        months); returns how many. Only safe past the longest time a message can stay in a queue."""
        connection = self._connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE consumed_at < %s",  # noqa: S608 - constant table name
                [connection.ops.adapt_datetimefield_value(moment)],
            )
            return int(cursor.rowcount)
