"""kill -9 in the middle of a dossier's orchestration: the restarted process resumes it without redoing a step."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, migrate, platform_env

pytestmark = pytest.mark.integration
WORKER = Path(__file__).with_name("dossier_crash_worker.py")


def test_a_dossier_killed_between_signature_and_billing_resumes_to_active_with_every_effect_once(
    tmp_path: Path,
) -> None:
    env = platform_env(tmp_path, CRASH_LOG=str(tmp_path / "crash.log"), SOUSCRIPTION_EXECUTOR_ID="crash-test")
    migrate(env)
    log = tmp_path / "crash.log"
    with (tmp_path / "start.err").open("w") as stderr:
        first = subprocess.Popen([sys.executable, str(WORKER), "start"], env=env, cwd=ROOT, stderr=stderr)
    deadline = time.monotonic() + 120
    while not (log.exists() and "billing" in log.read_text()):
        assert first.poll() is None, (tmp_path / "start.err").read_text()
        assert time.monotonic() < deadline, "the signature workflow never reached billing"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    resumed = subprocess.run(
        [sys.executable, str(WORKER), "resume"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    outcome = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert outcome == {
        "stage": "active",
        "signed_events": 1,
        "signed_copies": 1,
        "mandates": 1,
        "invoices": 1,
        "ledger_entries": 1,
        "signature_verifies": True,
    }
    assert "signed-again" not in log.read_text(), "the completed signature step ran again"
