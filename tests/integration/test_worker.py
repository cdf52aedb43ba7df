"""`souscription worker`: starts under its executor id, stops cleanly on SIGTERM, and refuses a twin."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, migrate, platform_env

pytestmark = pytest.mark.integration


class Worker:
    """A worker process whose stderr goes to a file, so a chatty process can never block on a full pipe."""

    def __init__(self, env: dict[str, str], executor_id: str, folder: Path) -> None:
        self.log = folder / f"{executor_id}-{uuid.uuid4().hex[:6]}.err"
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "souscription", "worker", "--executor-id", executor_id],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )

    def wait_started(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "démarré" in self.log.read_text():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise AssertionError("worker did not start")

    def stop(self, timeout: float = 90) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def test_a_second_live_worker_with_the_same_executor_id_is_refused(tmp_path: Path) -> None:
    _twins_are_refused(tmp_path, {})


@pytest.mark.postgres
def test_a_twin_worker_is_refused_on_postgresql_too(tmp_path: Path, postgres_server_url: str) -> None:
    import psycopg

    name = f"w_{uuid.uuid4().hex[:12]}"
    try:
        _twins_are_refused(
            tmp_path,
            {"SOUSCRIPTION_WORKFLOW_DATABASE_URL": f"{postgres_server_url.rsplit('/', 1)[0]}/{name}"},
        )
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _twins_are_refused(tmp_path: Path, extra: dict[str, str]) -> None:
    env = platform_env(tmp_path, **extra)
    first = Worker(env, "worker-1", tmp_path)
    try:
        first.wait_started()
        twin = subprocess.run(
            [sys.executable, "-m", "souscription", "worker", "--executor-id", "worker-1"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert twin.returncode != 0
        assert "« worker-1 » tourne déjà" in twin.stderr
        other = Worker(env, "worker-2", tmp_path)
        other.wait_started()
        assert other.stop() == 0
    finally:
        assert first.stop() == 0
    # Once the first is gone, its id is free again: a restarted worker takes it back.
    again = Worker(env, "worker-1", tmp_path)
    again.wait_started()
    again.process.kill()
    again.process.wait(timeout=30)


def test_a_worker_stops_on_sigterm_even_while_a_dead_lettered_call_waits_a_day_for_a_person(tmp_path: Path) -> None:
    """The waiting call holds one of DBOS's threads; the worker leaves it recorded (the next launch takes it back)
    instead of waiting out its day."""
    from dbos import DBOSClient, EnqueueOptions

    from souscription import __version__

    # Odoo configured (never reached: the operation is refused before any request), so the ERP's queue exists.
    env = platform_env(
        tmp_path,
        SOUSCRIPTION_CONNECTORS="erp=odoo",
        SOUSCRIPTION_ODOO_URL="http://127.0.0.1:9",
        SOUSCRIPTION_ODOO_TOKEN="odoo-api-key",
        SOUSCRIPTION_ODOO_ACCOUNT="souscription",
    )
    migrate(env)
    worker = Worker(env, "worker-1", tmp_path)
    client = DBOSClient(system_database_url=f"sqlite:///{tmp_path / 'workflows.sqlite3'}")
    try:
        worker.wait_started()
        options: EnqueueOptions = {
            "queue_name": "connector-erp",
            "workflow_name": "vendor_call",
            "workflow_id": "call:refused-by-the-erp",
            "app_version": __version__,
        }
        # An operation the registry does not know: refused, so dead-lettered until somebody replays it.
        client.enqueue(options, "erp.unknown_operation", "refused-by-the-erp", "SUB-2026-000001", [])
        deadline = time.monotonic() + 60
        while "parked" not in _steps(client, "call:refused-by-the-erp") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "parked" in _steps(client, "call:refused-by-the-erp"), worker.log.read_text()[-2000:]
        assert worker.stop(timeout=60) == 0
        assert client.retrieve_workflow("call:refused-by-the-erp").get_status().status == "PENDING"
    finally:
        if worker.process.poll() is None:
            worker.process.kill()
        client.destroy()


def _steps(client: object, workflow_id: str) -> list[str]:
    return [step["function_name"].rpartition(".")[2] for step in client.list_workflow_steps(workflow_id)]  # type: ignore[attr-defined]
