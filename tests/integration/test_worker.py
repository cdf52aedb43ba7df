"""`souscription worker`: starts under its executor id, stops cleanly on SIGTERM, and refuses a twin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


def _worker(env: dict[str, str], executor_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "souscription", "worker", "--executor-id", executor_id],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_started(process: subprocess.Popen[str], timeout: float = 60) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "démarré" in line:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"worker exited: {process.returncode}")
    raise AssertionError("worker did not start")


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUSCRIPTION_")}
    env.update(SOUSCRIPTION_DATA_DIR=str(tmp_path), **extra)
    first = _worker(env, "worker-1")
    try:
        _wait_started(first)
        twin = subprocess.run(
            [sys.executable, "-m", "souscription", "worker", "--executor-id", "worker-1"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert twin.returncode != 0
        assert "« worker-1 » tourne déjà" in twin.stderr
        other = _worker(env, "worker-2")
        _wait_started(other)
        other.send_signal(signal.SIGTERM)
        assert other.wait(timeout=30) == 0
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    # Once the first is gone, its id is free again: a restarted worker takes it back.
    again = _worker(env, "worker-1")
    _wait_started(again)
    again.kill()
    again.wait(timeout=30)
