"""schemathesis over the whole OpenAPI document of `/api/v1`, as every kind of caller: each staff role (a real
session, password and second factor), the applicant (its dossier's token), a partner (its API key) and an
anonymous caller. Whatever it sends, valid or not, the API answers no 5xx, only status codes the document lists
for the operation, in the documented content type and body schema.

Bounded so the file runs in a few minutes on two slow cores: a few derandomized examples per operation and
caller (positive and negative), no shrinking deadline. Operations that take a dossier get the caller's own (or,
for staff, a real one), so the handlers behind the credential checks are fuzzed too, not only the refusals."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from souscription.identity.domain import Role
from souscription.identity.models import User
from souscription.wsgi import application
from tests.integration.conftest import PASSWORD, signed_in
from tests.integration.test_customer_portal import registered, signed_in_customer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]
ROOT = Path(__file__).parents[2]
CAR = json.loads((ROOT / "tests/data/answers/garantie_automobile.json").read_text(encoding="utf-8"))
CALLERS = [*(role.value for role in Role), "applicant", "customer", "partner", "anonymous"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    subscription_id: str | None = None


def _opened_dossier(client: Client, **headers: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/dossiers", {"product": "garantie_automobile"}, content_type="application/json", headers=headers
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    vehicle = {"answers": {k: v for k, v in CAR.items() if k.startswith("vehicle.")}}
    # A partner acts with its key (it is never given the applicant's token); anyone else with the token.
    auth = headers if body["applicant_token"] is None else {"Authorization": f"Bearer {body['applicant_token']}"}
    step = client.post(
        f"/api/v1/dossiers/{body['subscription_id']}/steps/vehicle", vehicle, "application/json", headers=auth
    )
    assert step.status_code == 200, step.content
    return body


@pytest.fixture(params=CALLERS)
def caller(request: pytest.FixtureRequest) -> Credentials:
    who = request.param
    if who == "anonymous":
        return Credentials(subscription_id=_opened_dossier(Client())["subscription_id"])
    if who == "applicant":
        opened = _opened_dossier(Client())
        return Credentials(
            headers={"Authorization": f"Bearer {opened['applicant_token']}"}, subscription_id=opened["subscription_id"]
        )
    if who == "partner":
        out = io.StringIO()
        options = ["--scopes", "dossiers:write,dossiers:read", "--per-minute", "100000", "--per-day", "1000000"]
        call_command("apikey", "create", "--partner", "Courtier fuzz", *options, stdout=out, stderr=io.StringIO())
        key = out.getvalue().strip()
        opened = _opened_dossier(Client(), **{"X-API-Key": key})
        return Credentials(headers={"X-API-Key": key}, subscription_id=opened["subscription_id"])
    if who == "customer":  # a portal customer, signed in with the emailed code, on a dossier of their own
        client = signed_in_customer(Client(), email=registered("fuzz-client@exemple.fr").email)
        opened = _opened_dossier(client)
        csrf = secrets.token_hex(16)
        return Credentials(
            headers={"X-CSRFToken": csrf},
            cookies={"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
            subscription_id=opened["subscription_id"],
        )
    user = User.objects.create_user(f"fuzz-{who}@assureur.test", PASSWORD, role=who, first_name="Alex")
    client = signed_in(Client(), user)
    csrf = secrets.token_hex(16)  # a CSRF secret of Django's length, sent as cookie and header alike
    return Credentials(
        headers={"X-CSRFToken": csrf},
        cookies={"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
        subscription_id=_opened_dossier(Client())["subscription_id"],
    )


@pytest.fixture
def connections_kept(caller: Credentials) -> Iterator[Credentials]:
    """The WSGI handler closes database connections after each request, which would close them under the test.
    Django's test client disconnects the same receivers while it serves a request and connects them again after,
    hence this fixture comes after the caller's."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield caller
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded once at collection: the OpenAPI document is built from the routes, without the database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
# The caller's own credentials, not random values for the documented security scheme.
schema.config.generation.update(with_security_parameters=False)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
EXAMPLES = settings(
    max_examples=8, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def test_no_server_error_and_only_documented_answers_for_every_operation(
    connections_kept: Credentials,
) -> None:
    caller = connections_kept
    _check_the_credentials_take_effect(caller)
    failures: list[str] = []
    for operation in OPERATIONS:
        fixed = {"subscription_id": caller.subscription_id} if "{subscription_id}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @EXAMPLES
            @given(case=operation.as_strategy(mode, path_parameters=fixed))
            def run(case: Any) -> None:
                case.call_and_validate(headers=dict(caller.headers), cookies=dict(caller.cookies), checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                continue  # negative mode: the operation has no input that can be made invalid
            except BaseException as error:  # every operation is tried and every failure reported at once
                if not isinstance(error, Exception | BaseExceptionGroup):
                    raise
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)


def _check_the_credentials_take_effect(caller: Credentials) -> None:
    """Else every answer would be a 401 or a CSRF 403 and the run would pass without reaching a handler."""
    by_label = {operation.label: operation for operation in OPERATIONS}
    me = by_label["GET /api/v1/me"].Case().call(headers=dict(caller.headers), cookies=dict(caller.cookies))
    assert me.status_code == (200 if caller.cookies else 401)
    opening = by_label["POST /api/v1/dossiers"].Case(body={"product": "garantie_automobile"})
    opened = opening.call(headers=dict(caller.headers), cookies=dict(caller.cookies))
    assert opened.status_code in (201, 403), opened.text
    if opened.status_code == 403:
        assert opened.json()["errors"][0]["field"] != "csrf"
