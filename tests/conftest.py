"""Shared fixtures. Real services (PostgreSQL) come from the environment; without them, tests say why they skip.

`SOUSCRIPTION_TEST_POSTGRES_URL` names a PostgreSQL server where tests may create throwaway databases.
`SOUSCRIPTION_REQUIRE_POSTGRES=1` (set by `.ci/run`) turns a missing server into a failure, not a skip.
"""

from __future__ import annotations

import os

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
