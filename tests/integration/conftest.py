from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from souscription.identity.models import User
from souscription.simulation import sign_in

PASSWORD = "Parapluie-Tulipe-2026"


def signed_in(client: Client, user: User, password: str = PASSWORD) -> Client:
    """`client` signed in as `user` the way staff sign in: password, then the second factor (enrolled on the way)."""
    sign_in(client, email=user.email, password=password)
    return client


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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: Any) -> None:
    """SQLite test databases in files, not in memory: the workflow runtime's threads must see what tests commit."""
    from django.conf import settings

    folder = tmp_path_factory.mktemp("databases")
    for alias, database in settings.DATABASES.items():
        if database["ENGINE"].endswith("sqlite3"):
            database.setdefault("TEST", {})["NAME"] = str(folder / f"{alias}.sqlite3")


@pytest.fixture(scope="session")
def workflow_runtime(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[None]:
    """The real DBOS runtime in this process, on its own SQLite system database and data folder."""
    from django.conf import settings

    from souscription.platform import workflows
    from souscription.subscriptions import paperwork

    folder = tmp_path_factory.mktemp("runtime")
    env = dataclasses.replace(
        settings.SOUSCRIPTION,
        data_dir=folder,
        workflow_database_url=f"sqlite:///{folder / 'workflows.sqlite3'}",
        executor_id="tests",
    )
    previous = settings.SOUSCRIPTION_DATA_DIR
    settings.SOUSCRIPTION_DATA_DIR = folder
    paperwork.signing_identity.cache_clear()
    with django_db_blocker.unblock():
        workflows.launch(env)
    yield
    workflows.shutdown()
    settings.SOUSCRIPTION_DATA_DIR = previous
    paperwork.signing_identity.cache_clear()


from tests.integration.oidc_provider import openid_provider  # noqa: E402, F401 - the session's OpenID provider
