"""`souscription simulate`: realistic dossiers through the public API on the embedded defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, migrate, platform_env

pytestmark = pytest.mark.integration


def simulate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "souscription", "simulate", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_simulate_drives_health_dossiers_through_underwriting_and_prints_stages_and_throughput(tmp_path: Path) -> None:
    env = platform_env(tmp_path)
    migrate(env)
    done = simulate(env, "--product", "prevoyance_individuelle", "--count", "6", "--seed", "11")
    assert done.returncode == 0, done.stderr[-3000:]
    stages = dict(re.findall(r"^  (\w+)\s+(\d+)$", done.stdout, flags=re.MULTILINE))
    assert sum(int(n) for n in stages.values()) == 6
    assert int(stages.get("active", 0)) >= 1
    assert re.search(r"^Débit : \d+\.\d dossiers/s$", done.stdout, flags=re.MULTILINE)


def test_simulate_names_the_known_products_when_given_an_unknown_one(tmp_path: Path) -> None:
    env = platform_env(tmp_path)
    refused = simulate(env, "--product", "assurance_yacht", "--count", "1")
    assert refused.returncode != 0
    assert "Produit inconnu « assurance_yacht »" in refused.stderr
    assert "garantie_automobile" in refused.stderr
