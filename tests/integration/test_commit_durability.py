"""Which commits wait for the disk: every commit does, except the few records the platform recovers by itself when
a power cut loses them (`databases.without_flush`): an idempotency key's claim and answer, the outbox's marks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from souscription.platform.databases import without_flush
from souscription.platform.models import IdempotencyRecord

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases="__all__")]


def flush_setting(alias: str = "default") -> str:
    """What the connection's next commit waits for: SQLite's `synchronous` level, PostgreSQL's `synchronous_commit`."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous" if connection.vendor == "sqlite" else "SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


DURABLE = {"sqlite": "2", "postgresql": "on"}  # FULL; on
RELAXED = {"sqlite": "1", "postgresql": "off"}  # NORMAL (in WAL mode: atomic, seen by all, flushed later); off


def vendor() -> str:
    return connections["default"].vendor


def test_every_commit_waits_for_the_disk_unless_told_otherwise() -> None:
    assert flush_setting() == DURABLE[vendor()]
    for alias in ("customer_service", "sales", "legal", "billing"):
        assert flush_setting(alias) == DURABLE[connections[alias].vendor]


def test_without_flush_relaxes_the_commits_inside_then_restores_the_setting() -> None:
    with without_flush("default"):
        assert flush_setting() == RELAXED[vendor()]
    assert flush_setting() == DURABLE[vendor()]


def test_the_setting_is_restored_when_the_work_inside_fails() -> None:
    with pytest.raises(ZeroDivisionError), without_flush("default"):
        _ = 1 / 0
    assert flush_setting() == DURABLE[vendor()]


def test_inside_a_transaction_it_changes_nothing_so_the_enclosing_commit_stays_durable() -> None:
    with transaction.atomic(using="default"), without_flush("default"):
        assert flush_setting() == DURABLE[vendor()]
    assert flush_setting() == DURABLE[vendor()]


@contextmanager
def statements_on_default() -> Iterator[list[str]]:
    """Every statement the default database runs, the driver-level ones included (SQLite's pragmas are sent on the
    raw connection, which Django's query log does not see)."""
    connection = connections["default"]
    connection.ensure_connection()
    if connection.vendor != "sqlite":
        with CaptureQueriesContext(connection) as captured:
            seen: list[str] = []
            yield seen
        seen.extend(query["sql"] for query in captured.captured_queries)
        return
    seen = []
    connection.connection.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        connection.connection.set_trace_callback(None)


def test_an_idempotency_claim_and_its_answer_are_written_without_waiting_for_the_disk() -> None:
    client = Client()
    headers = {"Idempotency-Key": "9e1c4a0b-3d5f-4e7a-8b2c-durability01"}
    with statements_on_default() as seen:
        opened = client.post(
            "/api/v1/dossiers", {"product": "garantie_automobile"}, content_type="application/json", headers=headers
        )
    assert opened.status_code == 201
    record = IdempotencyRecord.objects.get()
    assert record.status_code == 201
    relax, restore = ("PRAGMA synchronous=NORMAL", "PRAGMA synchronous=2")
    if vendor() != "sqlite":
        relax, restore = ("SET synchronous_commit TO off", "RESET synchronous_commit")
    claim = next(i for i, sql in enumerate(seen) if sql.startswith('INSERT INTO "platform_idempotencyrecord"'))
    answer = next(i for i, sql in enumerate(seen) if sql.startswith('UPDATE "platform_idempotencyrecord"'))
    dossier = next(i for i, sql in enumerate(seen) if sql.startswith('INSERT INTO "subscriptions_dossier"'))
    relaxed_before = [i for i, sql in enumerate(seen) if sql == relax]
    restored_after = [i for i, sql in enumerate(seen) if sql == restore]
    assert len(relaxed_before) == len(restored_after) == 2
    assert relaxed_before[0] < claim < restored_after[0] < dossier < relaxed_before[1] < answer < restored_after[1]
