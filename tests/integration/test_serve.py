"""`souscription serve`: one process serves the web and the API and runs the workflow runtime (embedded)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, migrate, platform_env

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_serve_runs_web_api_and_workflows_in_one_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = platform_env(tmp_path)
    migrate(env)
    port = _free_port()
    with (tmp_path / "serve.err").open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "souscription", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 90
        while "prête" not in (tmp_path / "serve.err").read_text():
            assert server.poll() is None, (tmp_path / "serve.err").read_text()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/ready")
        assert status == 200, body
        assert body["status"] == "ready"

        busy = subprocess.run(
            [sys.executable, "-m", "souscription", "serve", "--port", str(port)],
            env={**env, "SOUSCRIPTION_EXECUTOR_ID": "second"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert busy.returncode != 0
        assert f"Impossible d'écouter sur 127.0.0.1:{port}" in busy.stderr
        assert "prête" not in busy.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
