"""Partners' API keys on `/api/v1`: scopes, quotas with `Retry-After`, revocation, isolation between partners.

A broker opens dossiers for its clients and follows them with a key created by `souscription apikey create`;
it reaches only the dossiers it opened, and its `Idempotency-Key`s are its own."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client

from souscription.customers import services as customers
from souscription.partners import auth as partners_auth
from souscription.subscriptions.models import Dossier

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]
ROOT = Path(__file__).parents[2]
CAR = json.loads((ROOT / "tests/data/answers/garantie_automobile.json").read_text(encoding="utf-8"))
VEHICLE = {name: value for name, value in CAR.items() if name.startswith("vehicle.")}


def apikey(*args: str) -> str:
    out = io.StringIO()
    call_command("apikey", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def new_key(partner: str, scopes: str = "dossiers:write,dossiers:read", **quota: int) -> str:
    options = [f"--{name.replace('_', '-')}={value}" for name, value in quota.items()]
    return apikey("create", "--partner", partner, "--scopes", scopes, *options)


def call(method: str, path: str, key: str | None, body: Any = None, **headers: str) -> Any:
    if key is not None:
        headers.setdefault("X-API-Key", key)
    client = Client()
    if method == "GET":
        return client.get(f"/api/v1{path}", headers=headers)
    return client.post(f"/api/v1{path}", json.dumps(body or {}), content_type="application/json", headers=headers)


def open_dossier(key: str, **headers: str) -> Any:
    return call("POST", "/dossiers", key, {"product": "garantie_automobile"}, **headers)


def code_of(response: Any) -> str:
    return str(response.json()["errors"][0]["code"])


def test_a_partner_opens_a_dossier_answers_a_step_and_reads_its_status_with_its_key() -> None:
    key = new_key("Courtage Dupont")
    assert key.startswith("sk_")
    opened = open_dossier(key)
    assert opened.status_code == 201, opened.content
    sid = opened.json()["subscription_id"]
    assert opened.json()["applicant_token"] is None  # the applicant's own: sent to their address, never to the partner

    step = call("POST", f"/dossiers/{sid}/steps/vehicle", None, {"answers": VEHICLE}, Authorization=f"Bearer {key}")
    assert step.status_code == 200, step.content
    status = call("GET", f"/dossiers/{sid}", key)
    assert status.status_code == 200
    assert status.json()["revision"] == 1
    assert Dossier.objects.get(subscription_id=sid).partner_id is not None


def test_a_key_without_the_scope_gets_403_and_an_unknown_or_malformed_key_401() -> None:
    reader = new_key("Comparateur", scopes="dossiers:read")
    refused = open_dossier(reader)
    assert refused.status_code == 403
    assert refused.json()["errors"][0] == {
        "code": "api_key_scope_missing",
        "message": "Cette clé d'API n'a pas la portée « dossiers:write » qu'exige cette action.",
        "field": "scope",
    }
    prefix = reader.split("_")[1]
    forged = f"sk_{prefix}_{'A' * 43}"
    for bad in (forged, "sk_pas-une-cle", "n'importe quoi"):
        response = call("GET", "/dossiers/SUB-2026-000001", bad)
        assert response.status_code == 401, bad
        assert code_of(response) == "api_key_invalid"
        assert response.json()["errors"][0]["message"]


def test_over_its_quota_a_key_gets_429_with_retry_after_until_the_window_frees(monkeypatch) -> None:
    key = new_key("Courtage Martin", per_minute=2, per_day=3)
    moment = datetime(2026, 11, 30, 10, 15, 20, tzinfo=UTC)
    monkeypatch.setattr(partners_auth, "clock", lambda: moment)
    sid = open_dossier(key).json()["subscription_id"]
    assert call("GET", f"/dossiers/{sid}", key).status_code == 200
    refused = call("GET", f"/dossiers/{sid}", key)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"  # the minute frees at 10:16:00
    assert code_of(refused) == "api_key_quota_exceeded"
    assert "40 s" in refused.json()["errors"][0]["message"]

    moment += timedelta(seconds=40)
    assert call("GET", f"/dossiers/{sid}", key).status_code == 200  # a new minute, the 3rd request of the day
    over_the_day = call("GET", f"/dossiers/{sid}", key)
    assert over_the_day.status_code == 429
    assert over_the_day["Retry-After"] == str(int((datetime(2026, 12, 1, tzinfo=UTC) - moment).total_seconds()))
    moment = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    assert call("GET", f"/dossiers/{sid}", key).status_code == 200


def test_a_revoked_key_is_refused_with_401_at_once() -> None:
    key = new_key("Courtage Leroy")
    assert open_dossier(key).status_code == 201
    prefix = key.split("_")[1]
    assert apikey("revoke", prefix).startswith(prefix)
    refused = open_dossier(key)
    assert refused.status_code == 401
    assert code_of(refused) == "api_key_revoked"
    listed = apikey("list")
    assert prefix in listed
    assert "révoquée" in listed


def test_a_partner_reaches_only_the_dossiers_it_opened() -> None:
    first, second = new_key("Courtage A"), new_key("Courtage B")
    opened = open_dossier(first).json()
    sid = opened["subscription_id"]
    for response in (
        call("GET", f"/dossiers/{sid}", second),
        call("POST", f"/dossiers/{sid}/steps/vehicle", second, {"answers": VEHICLE}),
        call("GET", f"/dossiers/{sid}/documents/offer", second),
    ):
        assert response.status_code == 404
        assert code_of(response) == "dossier_not_found"
    # The client the first partner opened it for gets their own token at the address the partner typed for them.
    contact = {
        "customer.first_name": "Zoé",
        "customer.last_name": "Roux",
        "customer.email": "zoe.roux@exemple.fr",
        "customer.phone": "+33 6 12 34 56 78",
        "customer.country": "FR",
    }
    assert call("POST", f"/dossiers/{sid}/steps/contact", first, {"answers": contact}).status_code == 200
    sent = customers.inbox("zoe.roux@exemple.fr")[0]
    token = sent.body.rsplit(" ", 1)[-1]
    applicant = Client().get(f"/api/v1/dossiers/{sid}", headers={"Authorization": f"Bearer {token}"})
    assert applicant.status_code == 200
    assert call("GET", f"/dossiers/{sid}/documents/offer", first).json()["errors"][0]["field"] == "kind"


def test_the_secret_is_shown_once_and_kept_nowhere_in_clear() -> None:
    key = new_key("Courtage Petit")
    secret = key.split("_", 2)[2]
    assert secret not in apikey("list")
    assert open_dossier(key).status_code == 201
    for alias in connections:
        with connections[alias].cursor() as cursor:
            for table in connections[alias].introspection.table_names(cursor):
                cursor.execute(f'SELECT * FROM "{table}"')
                for row in cursor.fetchall():
                    assert secret not in repr(row), (alias, table)


def test_idempotency_keys_are_scoped_to_the_partner_not_to_the_key_nor_the_anonymous_caller() -> None:
    first_key, second_key = new_key("Courtage Roux"), new_key("Courtage Roux")
    other_partner = new_key("Courtage Blanc")
    headers = {"Idempotency-Key": "ouverture-0001-0000000000000000"}  # unguessable, as an anonymous caller needs
    first = open_dossier(first_key, **headers)
    assert first.status_code == 201
    same_partner = open_dossier(second_key, **headers)
    assert same_partner["Idempotent-Replayed"] == "true"
    assert same_partner.json() == first.json()
    for fresh in (open_dossier(other_partner, **headers), open_dossier(None, **headers)):
        assert fresh.status_code == 201
        assert not fresh.has_header("Idempotent-Replayed")
        assert fresh.json()["subscription_id"] != first.json()["subscription_id"]
