"""The console command: migrate every database, demo data (seeded, idempotent), accounts, configuration."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from souscription.billing.models import Invoice
from souscription.customers.models import Customer
from souscription.demo import staff_accounts
from souscription.identity.models import User
from souscription.sales.models import CommercialProfile
from souscription.underwriting.models import InvestigationReport

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]


def run(*args: str, stdin: str = "") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=err)
    finally:
        sys.stdin = old_stdin
    return out.getvalue(), err.getvalue()


def snapshot() -> dict[str, list[object]]:
    return {
        "users": sorted(User.objects.values_list("email", "role")),
        "customers": sorted(Customer.objects.values_list("id", "email")),
        "profiles": sorted(CommercialProfile.objects.values_list("customer_id", "profession")),
        "reports": sorted(InvestigationReport.objects.values_list("id", flat=True)),
        "invoices": sorted(Invoice.objects.values_list("number", "amount_cents")),
    }


def test_demo_data_is_reproducible_and_idempotent() -> None:
    out, _ = run("demo", "--customers", "6")
    first = snapshot()
    run("demo", "--customers", "6", "--quiet")
    assert snapshot() == first
    assert len(first["users"]) == len(staff_accounts())
    assert len(first["customers"]) == 6
    assert first["reports"]
    assert first["invoices"]
    for account in staff_accounts():
        assert account.email in out  # the demo accounts are printed on stdout


def test_createuser_creates_an_account_with_a_role_from_stdin() -> None:
    out, _ = run(
        "createuser",
        "--email",
        "juriste@assureur.test",
        "--role",
        "jurist",
        "--password-stdin",
        stdin="Tournesol-Violet-88\n",
    )
    assert out.strip() == "juriste@assureur.test\tjurist"
    assert User.objects.get(email="juriste@assureur.test").check_password("Tournesol-Violet-88")


def test_createuser_names_every_wrong_field() -> None:
    with pytest.raises(CommandError) as caught:
        run(
            "createuser",
            "--email",
            "pas-un-email",
            "--role",
            "stagiaire",
            "--password-stdin",
            stdin="court\n",
        )
    message = str(caught.value)
    assert "email :" in message
    assert "role :" in message
    assert "password :" in message


def test_checkconfig_prints_settings_with_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOUSCRIPTION_SECRET_KEY", "une-valeur-secrete")
    out, _ = run("checkconfig", "--format", "json")
    body = json.loads(out)
    values = {row["variable"]: row["value"] for row in body["settings"]}
    assert values["SOUSCRIPTION_SECRET_KEY"] == "********"
    assert {c["name"] for c in body["checks"]} >= {"database:legal", "database:billing"}
    assert "une-valeur-secrete" not in out


def test_checkconfig_refuses_a_vendor_adapter_its_settings_cannot_build(settings: Any) -> None:
    """A HubSpot pipeline that cannot hold the deals is named by `checkconfig`, before any CRM sync fails on it."""
    from souscription.configuration import VendorAccess
    from souscription.connectors import registry

    options = (("pipeline", "renewals"), ("stage.won", "106"))  # another pipeline must name all seven positions
    access = VendorAccess("hubspot", "https://api.hubapi.com", token="pat-eu1-x", webhook_secret="s", options=options)
    settings.SOUSCRIPTION = dataclasses.replace(
        settings.SOUSCRIPTION,
        connectors={**settings.SOUSCRIPTION.connectors, "crm": "hubspot"},
        vendors={**settings.SOUSCRIPTION.vendors, "hubspot": access},
    )
    registry.reset()
    try:
        with pytest.raises(CommandError, match="connecteur"):
            run("checkconfig")
        out = io.StringIO()
        with pytest.raises(CommandError):
            call_command("checkconfig", "--format", "json", stdout=out)
        [check] = [c for c in json.loads(out.getvalue())["checks"] if c["name"] == "connector:crm"]
        assert not check["ok"]
        assert "SOUSCRIPTION_HUBSPOT_STAGES" in check["detail"]
        assert "manquent : lead" in check["detail"]
    finally:
        registry.reset()


def test_help_gives_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "souscription", "demo", "--help"], capture_output=True, text=True, check=True
    )
    assert "Exemples :" in result.stdout
    assert "souscription demo --seed" in result.stdout
    top = subprocess.run([sys.executable, "-m", "souscription", "--help"], capture_output=True, text=True, check=True)
    assert "checkconfig" in top.stdout
    assert "Exemples :" in top.stdout


def test_production_refuses_to_start_on_defaults_and_names_the_setting(tmp_path) -> None:
    env = {**os.environ, "SOUSCRIPTION_PROFILE": "production", "SOUSCRIPTION_DATA_DIR": str(tmp_path)}
    for key in list(env):
        if key.startswith("SOUSCRIPTION_") and key not in {"SOUSCRIPTION_PROFILE", "SOUSCRIPTION_DATA_DIR"}:
            del env[key]
    result = subprocess.run(
        [sys.executable, "-m", "souscription", "checkconfig"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SOUSCRIPTION_SECRET_KEY est obligatoire en production" in result.stderr
    assert "Traceback" not in result.stderr
