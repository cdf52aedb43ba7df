from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from souscription.identity.models import User

PASSWORD = "Parapluie-Tulipe-2026"
ROOT = Path(__file__).parents[2]


@pytest.fixture
def staff_member(django_db_blocker: object):
    """A factory of signed-in-able staff members: `staff_member("jurist")`."""

    def make(role: str, email: str | None = None) -> User:
        return User.objects.create_user(email or f"{role}@assureur.test", PASSWORD, role=role, first_name="Alex")

    return make


def platform_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a platform subprocess: none of this process's `SOUSCRIPTION_*` settings, its own data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUSCRIPTION_")}
    env.update(SOUSCRIPTION_DATA_DIR=str(data_dir), **extra)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "souscription", "migrate", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
