"""Shared fixtures. Real services (PostgreSQL) come from the environment; without them, tests say why they skip.

`SOUSCRIPTION_TEST_POSTGRES_URL` names a PostgreSQL server where tests may create throwaway databases.
`SOUSCRIPTION_REQUIRE_POSTGRES=1` (set by `.ci/run`) turns a missing server into a failure, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def _require(variable: str, purpose: str) -> str:
    url = os.environ.get(variable, "")
    if url:
        return url
    message = f"{variable} n'est pas défini : {purpose} (ex. postgresql://postgres@127.0.0.1:5432/postgres)."
    if os.environ.get("SOUSCRIPTION_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    return _require("SOUSCRIPTION_TEST_POSTGRES_URL", "tests against a real PostgreSQL are skipped")


@pytest.fixture(scope="session", autouse=True)
def _audit_tables_flushable() -> Iterator[None]:
    """Transactional tests end with a flush of every table, which the audit trail's append-only triggers refuse
    (DELETE on SQLite, TRUNCATE on PostgreSQL): the triggers are lifted for the flush only, as an administrator
    would, and put back right after, so every other statement of every test still meets them."""
    import importlib

    from django.db.backends.base.operations import BaseDatabaseOperations

    triggers = importlib.import_module("souscription.audit.migrations.0002_append_only_triggers")
    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        editor = _TriggerEditor(self.connection)
        triggers.drop_triggers(None, editor)
        try:
            original(self, sql_list)
        finally:
            triggers.create_triggers(None, editor)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


class _TriggerEditor:
    """What the trigger migration's functions use of a schema editor: the connection and `execute`."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, sql: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)


_EXIT_STATUS = pytest.StashKey[int]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Tests leave workflows waiting on purpose (a dead-lettered vendor call waits a day for a person): once the
    report is written, the run ends without joining their threads, as `souscription worker` does at shutdown."""
    from souscription.platform import workflows

    workflows.end_process(config.stash.get(_EXIT_STATUS, 0))
