"""On PostgreSQL: the audit log is written under its advisory lock, verifies, and refuses UPDATE, DELETE, TRUNCATE."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, migrate, platform_env

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

WRITE = """
from django.db import transaction
from souscription.audit.domain import Action
from souscription.audit.services import record, seal
with transaction.atomic(using="default"):
    for number in range(70):
        record(database="default", actor="7", role="jurist", action=Action.CHANGE, record_type="dossier",
               record_id=str(number), source="203.0.113.7", details={"email": "jeanne.dupont@exemple.fr"})
seal("default")
"""


@pytest.fixture
def platform_database(postgres_server_url: str) -> Iterator[str]:
    import psycopg

    name = f"audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_server_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def souscription(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "souscription", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_log_on_postgresql_verifies_and_refuses_update_delete_and_truncate(
    tmp_path: Path, platform_database: str
) -> None:
    import psycopg

    env = platform_env(tmp_path, SOUSCRIPTION_DATABASE_URL=platform_database)
    migrate(env)
    written = souscription(env, "shell", "-c", WRITE)
    assert written.returncode == 0, written.stderr
    verified = souscription(env, "audit", "verify", "--database", "default")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "default : 70 entrées, 2 têtes signées, 0 non signées, OK" in verified.stdout
    for statement in (
        "UPDATE audit_auditentry SET actor = 'platform'",
        "DELETE FROM audit_auditentry",
        "TRUNCATE audit_auditentry",
        "UPDATE audit_treehead SET root_hash = ''",
        "TRUNCATE audit_treehead",
    ):
        with (
            psycopg.connect(platform_database) as connection,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="ajout seul"),
        ):
            connection.execute(statement)
    with psycopg.connect(platform_database) as connection:
        stored = repr(connection.execute("SELECT * FROM audit_auditentry").fetchall())
        assert connection.execute("SELECT count(*) FROM audit_auditentry").fetchone() == (70,)
    assert "jeanne.dupont" not in stored
