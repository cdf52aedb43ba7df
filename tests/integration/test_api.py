"""The API under /api/v1: documented, and every failure in the one error model, never a 500 for bad input."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.integration.conftest import signed_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]


def post_json(client: Client, path: str, body: object) -> tuple[int, dict[str, object]]:
    response = client.post(
        path, data=json.dumps(body) if not isinstance(body, str) else body, content_type="application/json"
    )
    return response.status_code, response.json()


def test_health_and_readiness_answer_without_authentication(client: Client) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    ready = client.get("/api/v1/ready")
    checks = {check["name"]: check["ok"] for check in ready.json()["checks"]}
    assert all(checks[f"database:{alias}"] for alias in ("default", "customer_service", "sales", "legal", "billing"))
    # The workflow runtime is not launched inside the test process, and readiness says so honestly.
    assert checks["workflows"] is False
    assert ready.status_code == 503


def test_the_openapi_document_is_published_with_the_error_model(client: Client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/v1/health", "/api/v1/ready", "/api/v1/me", "/api/v1/staff-users"} <= set(document["paths"])
    assert "ErrorsOut" in document["components"]["schemas"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"/static/ninja/swagger-ui-bundle.js" in docs.content


def test_an_anonymous_call_gets_401_in_the_error_model(client: Client) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {
                "code": "not_authenticated",
                "field": None,
                "message": "Connectez-vous pour accéder à cette ressource.",
            }
        ]
    }


def test_me_tells_the_role_and_department(client: Client, staff_member) -> None:
    body = signed_in(client, staff_member("jurist")).get("/api/v1/me").json()
    assert body["role"] == "jurist"
    assert body["role_label"] == "Juriste"
    assert body["department"] == "legal"


def test_the_it_manager_creates_a_staff_account(client: Client, staff_member) -> None:
    signed_in(client, staff_member("it_manager"))
    status, body = post_json(
        client,
        "/api/v1/staff-users",
        {"email": "Nouveau.Juriste@Assureur.fr", "role": "jurist", "password": "Tournesol-Violet-88"},
    )
    assert status == 201
    assert body["email"] == "nouveau.juriste@assureur.fr"
    assert body["role"] == "jurist"


def test_only_the_it_manager_creates_staff_accounts(client: Client, staff_member) -> None:
    signed_in(client, staff_member("accountant"))
    status, body = post_json(
        client,
        "/api/v1/staff-users",
        {"email": "x@assureur.fr", "role": "jurist", "password": "Tournesol-Violet-88"},
    )
    assert status == 403
    assert body["errors"][0]["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"role": "jurist", "password": "Tournesol-Violet-88"}, "email", "required"),
        (
            {"email": "x@assureur.fr", "role": "stagiaire", "password": "Tournesol-Violet-88"},
            "role",
            "invalid_choice",
        ),
        ({"email": "x@assureur.fr", "role": "jurist", "password": "court"}, "password", "too_short"),
        (
            {"email": "pas-un-email", "role": "jurist", "password": "Tournesol-Violet-88"},
            "email",
            "invalid_email",
        ),
        (
            {"email": "x@assureur.fr", "role": "jurist", "password": "123456789012"},
            "password",
            "weak_password",
        ),
    ],
)
def test_bad_input_names_the_field_with_a_stable_code_and_a_french_message(
    client: Client, staff_member, body: dict[str, str], field: str, code: str
) -> None:
    signed_in(client, staff_member("it_manager"))
    status, answer = post_json(client, "/api/v1/staff-users", body)
    assert status == 422
    assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in answer["errors"]]
    assert all(error["message"] for error in answer["errors"])


@pytest.mark.parametrize("raw", ["{pas du json", "[]", "null", '"texte"'])
def test_a_malformed_body_is_a_422_not_a_500(client: Client, staff_member, raw: str) -> None:
    signed_in(client, staff_member("it_manager"))
    status, answer = post_json(client, "/api/v1/staff-users", raw)
    assert status in (400, 422)
    assert answer["errors"][0]["code"]


def test_a_duplicate_account_is_a_409_naming_the_email(client: Client, staff_member) -> None:
    signed_in(client, staff_member("it_manager"))
    body = {"email": "double@assureur.fr", "role": "jurist", "password": "Tournesol-Violet-88"}
    assert post_json(client, "/api/v1/staff-users", body)[0] == 201
    status, answer = post_json(client, "/api/v1/staff-users", body)
    assert status == 409
    assert answer["errors"] == [
        {
            "code": "email_already_used",
            "field": "email",
            "message": "Un compte existe déjà avec cette adresse e-mail.",
        }
    ]


def test_an_unknown_api_path_is_a_404_in_the_error_model(client: Client) -> None:
    response = client.get("/api/v1/nexiste-pas")
    assert response.status_code == 404
