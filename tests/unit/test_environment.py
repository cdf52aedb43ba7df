"""Settings come from the environment; production refuses to start on defaults, naming the setting and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from souscription.configuration import SETTINGS, ConfigurationError, Profile, read_environment

BASE = Path("/srv/souscription")
GOOD_SECRET = "s" * 64
PRODUCTION = {
    "SOUSCRIPTION_PROFILE": "production",
    "SOUSCRIPTION_SECRET_KEY": GOOD_SECRET,
    "SOUSCRIPTION_ALLOWED_HOSTS": "souscription.assureur.fr",
    "SOUSCRIPTION_DATABASE_URL": "postgresql://app@db:5432/platform",
    "SOUSCRIPTION_CUSTOMER_SERVICE_DATABASE_URL": "postgresql://app@db:5432/customer_service",
    "SOUSCRIPTION_SALES_DATABASE_URL": "postgresql://app@db:5432/sales",
    "SOUSCRIPTION_LEGAL_DATABASE_URL": "postgresql://app@legal-db:5432/legal",
    "SOUSCRIPTION_BILLING_DATABASE_URL": "postgresql://app@db:5432/billing",
    "SOUSCRIPTION_AUDIT_SIGNING_KEY": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=",
    "SOUSCRIPTION_FIELD_KEYS": "k1:" + "A" * 43,
}


def refused(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        read_environment(env, base_dir=BASE)
    return caught.value.problems


def test_embedded_is_the_default_with_one_sqlite_file_per_department() -> None:
    env = read_environment({}, base_dir=BASE)
    assert env.profile is Profile.EMBEDDED
    assert env.database_urls == {
        alias: f"sqlite:///{BASE / 'var' / f'{alias}.sqlite3'}"
        for alias in ("default", "customer_service", "sales", "legal", "billing")
    }
    assert env.workflow_database_url == f"sqlite:///{BASE / 'var' / 'workflows.sqlite3'}"
    assert env.secret_key is None  # generated into the data folder, never a constant in the code


def test_a_complete_production_environment_is_accepted() -> None:
    env = read_environment(PRODUCTION, base_dir=BASE)
    assert env.is_production
    assert env.secure_cookies
    assert env.workflow_database_url == PRODUCTION["SOUSCRIPTION_DATABASE_URL"]


@pytest.mark.parametrize("missing", [s.env for s in SETTINGS if s.required_in_production])
def test_production_refuses_a_missing_setting_and_names_it(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    problems = refused(env)
    assert any(problem.startswith(f"{missing} est obligatoire en production") for problem in problems)


@pytest.mark.parametrize("secret", ["embedded-" + "x" * 60, "short-secret"])
def test_production_refuses_a_default_or_short_secret_key(secret: str) -> None:
    problems = refused({**PRODUCTION, "SOUSCRIPTION_SECRET_KEY": secret})
    assert any("SOUSCRIPTION_SECRET_KEY" in problem and "50 caractères" in problem for problem in problems)


def test_production_refuses_sqlite_and_shared_department_databases() -> None:
    problems = refused(
        {
            **PRODUCTION,
            "SOUSCRIPTION_LEGAL_DATABASE_URL": "sqlite:///legal.sqlite3",
            "SOUSCRIPTION_SALES_DATABASE_URL": PRODUCTION["SOUSCRIPTION_BILLING_DATABASE_URL"],
        }
    )
    assert any(p.startswith("SOUSCRIPTION_LEGAL_DATABASE_URL pointe vers SQLite") for p in problems)
    assert any("distinctes" in p for p in problems)


def test_production_refuses_debug_pages() -> None:
    assert any("SOUSCRIPTION_DEBUG" in p for p in refused({**PRODUCTION, "SOUSCRIPTION_DEBUG": "true"}))


def test_every_problem_is_reported_at_once_not_one_per_restart() -> None:
    problems = refused({"SOUSCRIPTION_PROFILE": "production", "SOUSCRIPTION_PORT": "http"})
    required = [s for s in SETTINGS if s.required_in_production]
    assert len(problems) >= len(required) + 1
    assert any(p.startswith("SOUSCRIPTION_PORT") for p in problems)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SOUSCRIPTION_PROFILE", "staging"),
        ("SOUSCRIPTION_PORT", "70000"),
        ("SOUSCRIPTION_DEBUG", "peut-être"),
        ("SOUSCRIPTION_LOG_FORMAT", "xml"),
        ("SOUSCRIPTION_LOG_LEVEL", "LOUD"),
        ("SOUSCRIPTION_AUDIT_SIGNING_KEY", "pas-une-clé"),
        ("SOUSCRIPTION_AUDIT_SIGNING_KEY", "QUJD"),
    ],
)
def test_an_invalid_value_is_refused_with_the_variable_named(variable: str, value: str) -> None:
    assert any(p.startswith(variable) for p in refused({variable: value}))


def test_a_relative_data_dir_is_resolved_against_the_working_directory() -> None:
    env = read_environment({"SOUSCRIPTION_DATA_DIR": "donnees"}, base_dir=BASE)
    assert env.data_dir == BASE / "donnees"


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    undocumented = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert undocumented == []


def test_single_sign_on_is_off_by_default_and_requires_mfa_once_configured() -> None:
    assert read_environment({}, base_dir=BASE).oidc_issuer == ""
    env = read_environment(
        {"SOUSCRIPTION_OIDC_ISSUER": "http://127.0.0.1:9000/", "SOUSCRIPTION_OIDC_CLIENT_ID": "souscription"},
        base_dir=BASE,
    )
    assert env.oidc_issuer == "http://127.0.0.1:9000"  # an http provider is accepted outside production
    assert env.oidc_require_mfa
    assert env.oidc_acr_values == ()
    shown = repr(read_environment({"SOUSCRIPTION_OIDC_CLIENT_SECRET": "valeur-secrete"}, base_dir=BASE))
    assert "valeur-secrete" not in shown


def test_production_single_sign_on_needs_https_and_the_client_credentials() -> None:
    problems = refused({**PRODUCTION, "SOUSCRIPTION_OIDC_ISSUER": "http://sso.assureur.fr"})
    assert any(p.startswith("SOUSCRIPTION_OIDC_ISSUER doit être en https") for p in problems)
    assert any(p.startswith("SOUSCRIPTION_OIDC_CLIENT_ID est obligatoire") for p in problems)
    assert any(p.startswith("SOUSCRIPTION_OIDC_CLIENT_SECRET est obligatoire") for p in problems)
    env = read_environment(
        {
            **PRODUCTION,
            "SOUSCRIPTION_OIDC_ISSUER": "https://sso.assureur.fr/realms/staff",
            "SOUSCRIPTION_OIDC_CLIENT_ID": "souscription",
            "SOUSCRIPTION_OIDC_CLIENT_SECRET": "s3cret",
            "SOUSCRIPTION_OIDC_ACR_VALUES": "urn:assureur:mfa, phr",
        },
        base_dir=BASE,
    )
    assert env.oidc_acr_values == ("urn:assureur:mfa", "phr")


@pytest.mark.parametrize(
    ("variable", "value"), [("SOUSCRIPTION_OIDC_ISSUER", "sso.assureur.fr"), ("SOUSCRIPTION_OIDC_REQUIRE_MFA", "bof")]
)
def test_a_wrong_single_sign_on_setting_is_refused_by_name(variable: str, value: str) -> None:
    assert any(p.startswith(variable) for p in refused({"SOUSCRIPTION_OIDC_CLIENT_ID": "c", variable: value}))


RENEWALS = {
    "SOUSCRIPTION_HUBSPOT_PIPELINE": "renewals",
    "SOUSCRIPTION_HUBSPOT_STAGES": "lead=101, qualified=102, offer_sent=103, offer_accepted=104, contract_sent=105, "
    "won=106, lost=107",
}


def test_hubspot_deals_go_to_the_default_pipeline_unless_another_is_configured() -> None:
    from souscription.integrations.crm.hubspot import pipeline_of
    from souscription.integrations.crm.hubspot_states import DEFAULT_PIPELINE, PipelineStep

    assert pipeline_of(read_environment({}, base_dir=BASE).vendors["hubspot"]) == DEFAULT_PIPELINE
    renewals = pipeline_of(read_environment(RENEWALS, base_dir=BASE).vendors["hubspot"])
    assert renewals.pipeline_id == "renewals"
    assert renewals.stage_ids[PipelineStep.WON] == "106"
    assert renewals.stage_id_for("active") == "106"
    one_stage = {"SOUSCRIPTION_HUBSPOT_STAGES": "won=closedwon_insurance"}  # the default pipeline, one stage renamed
    default_but_one = pipeline_of(read_environment(one_stage, base_dir=BASE).vendors["hubspot"])
    assert default_but_one.stage_id_for("active") == "closedwon_insurance"
    assert default_but_one.stage_id_for("draft") == "appointmentscheduled"


def test_a_hubspot_stage_not_written_position_equals_id_is_refused_naming_the_setting() -> None:
    problems = refused({"SOUSCRIPTION_HUBSPOT_STAGES": "won"})
    assert any(p.startswith("SOUSCRIPTION_HUBSPOT_STAGES : « won » n'est pas de la forme position=") for p in problems)
    twice = refused({"SOUSCRIPTION_HUBSPOT_STAGES": "won=1,won=2"})
    assert any("la position « won » est donnée deux fois" in p for p in twice)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SOUSCRIPTION_HUBSPOT_PIPELINE": "renewals", "SOUSCRIPTION_HUBSPOT_STAGES": "won=106"}, "manquent : lead"),
        ({"SOUSCRIPTION_HUBSPOT_STAGES": "signed=106"}, "position(s) inconnue(s) : signed"),
        ({"SOUSCRIPTION_HUBSPOT_STAGES": "won=closedlost"}, "servirait à deux statuts"),
    ],
)
def test_a_hubspot_pipeline_that_cannot_hold_the_dossiers_deals_stops_the_adapter_naming_the_settings(
    env: dict[str, str], says: str
) -> None:
    from souscription.integrations.crm.hubspot import pipeline_of

    access = read_environment(env, base_dir=BASE).vendors["hubspot"]
    with pytest.raises(ValueError, match="SOUSCRIPTION_HUBSPOT_STAGES") as caught:
        pipeline_of(access)
    assert says in str(caught.value)
