"""A workflow interrupted by kill -9 resumes when its worker starts again: completed steps are not redone,
the interrupted one runs again, and every department database ends with exactly one slice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, migrate, platform_env

pytestmark = pytest.mark.integration
WORKER = Path(__file__).with_name("recovery_worker.py")
ALIASES = ("default", "customer_service", "sales", "legal", "billing")


def _env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    return platform_env(
        tmp_path / "data",
        SOUSCRIPTION_LOG_LEVEL="WARNING",
        RECOVERY_LOG=str(tmp_path / "steps.log"),
        RECOVERY_GATE=str(tmp_path / "gate"),
        PYTHONPATH=str(ROOT),
        **extra,
    )


def _events(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "steps.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [tuple(line.split(" ")) for line in lines]  # type: ignore[misc]


def _wait_for(tmp_path: Path, event: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(name == event for name, _ in _events(tmp_path)):
            return
        if process.poll() is not None:
            raise AssertionError(f"worker exited early ({process.returncode}): {(tmp_path / 'first.err').read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"no {event} within {timeout} s")


def kill_and_resume(tmp_path: Path, extra_env: dict[str, str]) -> None:
    env = _env(tmp_path, extra_env)
    migrate(env)
    customer_id, workflow_id = str(uuid.uuid4()), f"onboard-{uuid.uuid4()}"

    with (tmp_path / "first.err").open("w") as first_stderr:
        first = subprocess.Popen(
            [sys.executable, str(WORKER), "start", "worker-a", workflow_id, customer_id],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=first_stderr,
            text=True,
        )
    _wait_for(tmp_path, "profile:start", first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert [name for name, _ in _events(tmp_path)] == ["contact", "profile:start"]

    (tmp_path / "gate").touch()
    second = subprocess.run(
        [sys.executable, str(WORKER), "resume", "worker-a", workflow_id, customer_id],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("SUCCESS")

    events = _events(tmp_path)
    steps = Counter(name for name, _ in events)
    assert steps == Counter(
        {
            "contact": 1,
            "profile:start": 2,
            "profile:done": 1,
            "report": 1,
            "invoice": 1,
            "result:onboarded": 1,
        }
    )
    # The resumed steps ran in the new process, the completed one was not redone.
    pids = {name: pid for name, pid in events}
    assert pids["contact"] != pids["report"] == pids["invoice"] == pids["result:onboarded"]

    counted = subprocess.run(
        [sys.executable, str(WORKER), "count", customer_id],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(counted.stdout) == {"customers": 1, "profiles": 1, "reports": 1, "invoices": 1}


def test_a_workflow_killed_mid_step_resumes_on_sqlite(tmp_path: Path) -> None:
    kill_and_resume(tmp_path, {})


@pytest.fixture
def postgres_databases(postgres_server_url: str) -> Iterator[dict[str, str]]:
    import psycopg

    prefix = f"k9_{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}_{alias}" for alias in (*ALIASES, "workflows")]
    base = postgres_server_url.rsplit("/", 1)[0]
    with psycopg.connect(postgres_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        urls = {
            "SOUSCRIPTION_DATABASE_URL": f"{base}/{prefix}_default",
            "SOUSCRIPTION_WORKFLOW_DATABASE_URL": f"{base}/{prefix}_workflows",
        }
        for alias in ALIASES[1:]:
            urls[f"SOUSCRIPTION_{alias.upper()}_DATABASE_URL"] = f"{base}/{prefix}_{alias}"
        yield urls
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as connection:
            for name in names:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_a_workflow_killed_mid_step_resumes_on_postgresql(tmp_path: Path, postgres_databases: dict[str, str]) -> None:
    kill_and_resume(tmp_path, postgres_databases)
