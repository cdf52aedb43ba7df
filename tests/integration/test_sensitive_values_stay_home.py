"""Marker values, a disease and an IBAN found nowhere else, are followed through a whole health dossier: they never
reach a log, an error answer, another role's answer, or the database (hence the backups) of another department.

The disease exists only as ciphertext in Legal's database, the IBAN only as ciphertext (and its last four characters)
in Billing's: no database file holds either in clear, and no log line nor answer to another role carries them.

What the health answers imply is health data too: the price factor they trigger ("Tabac"), the referral reasons
("Maladie chronique déclarée."), the estimateur's exclusions and notes. Those stay in Legal's database as well,
and out of DBOS's workflow database, whose step inputs and outputs are pickled there."""

from __future__ import annotations

import base64
import binascii
import logging
import pickle
import secrets
import sqlite3
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from souscription.identity.domain import Role
from tests.integration.test_access_matrix import LEGAL, Reader
from tests.integration.test_dossier_api import HEALTH, Applicant, post, staff, validate_first_invoice
from tests.integration.test_field_encryption import new_iban

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("workflow_runtime"),
]


def database_bytes(alias: str) -> bytes:
    connection = connections[alias]
    if connection.vendor == "sqlite":
        name = Path(connection.settings_dict["NAME"])
        return b"".join(path.read_bytes() for path in name.parent.glob(f"{name.name}*") if path.is_file())
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows).encode()


def workflow_database_text() -> str:
    """Every cell of DBOS's system database, its pickled inputs and outputs unpickled (our own test data)."""
    path = Path(settings.SOUSCRIPTION_DATA_DIR) / "workflows.sqlite3"
    cells: list[str] = []
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                cells.extend(_readable(cell) for cell in row if isinstance(cell, str | bytes))
    return "\n".join(cells)


def _readable(cell: str | bytes) -> str:
    try:
        return repr(pickle.loads(base64.b64decode(cell, validate=True)))
    except (binascii.Error, pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError, ImportError):
        return cell.decode(errors="replace") if isinstance(cell, bytes) else cell


def test_a_disease_and_an_iban_stay_in_their_departments_through_a_whole_dossier(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    disease = f"Maladie-marqueur-{secrets.token_hex(6)}"
    exclusion = f"Exclusion-marqueur-{secrets.token_hex(6)}"
    note = f"Motivation-marqueur-{secrets.token_hex(6)}"
    iban = new_iban()
    answers = {**HEALTH, "health.chronic_disease": True, "health.disease_details": disease, "billing.iban": iban}
    applicant = Applicant("prevoyance_individuelle")
    bodies: list[bytes] = []

    # A step refused for another field must not echo the IBAN back (nor log it).
    wrong = applicant.post("/steps/billing", {"answers": {"billing.iban": iban, "billing.frequency": 7}})
    assert wrong.status_code == 422
    bodies.append(wrong.content)
    referred = applicant.answer_all(answers)
    investigator, _ = staff("investigator")
    report = {"findings": "Dossier médical reçu, déclarations cohérentes."}
    done = post(investigator, f"/underwriting/tasks/{referred['tasks'][0]['id']}/report", report)
    bodies.append(done.content)
    estimation = next(t for t in done.json()["status"]["tasks"] if t["kind"] == "estimation")
    estimator, _ = staff("estimator")
    decision = {
        "risk_class": "aggravated",
        "premium_adjustment_pct": 25,
        "exclusions": [exclusion],
        "decision": "approve",
        "note": note,
    }
    bodies.append(post(estimator, f"/underwriting/tasks/{estimation['id']}/estimate", decision).content)
    accepted = applicant.post("/acceptance").json()
    contract = next(t for t in accepted["tasks"] if t["kind"] == "contract")
    jurist, _ = staff("jurist")
    bodies.append(post(jurist, f"/underwriting/tasks/{contract['id']}/contract").content)
    signed = applicant.sign("Inès Durand").json()
    assert validate_first_invoice(signed)["stage"] == "active"

    for role in Role:
        if role not in LEGAL:  # Legal's roles see the estimate, not the answers: the matrix test covers what they see
            bodies.append(Reader(role).get(f"/dossiers/{applicant.sid}", applicant).content)
    for body in bodies:
        assert disease.encode() not in body
        assert iban.encode() not in body
    assert disease not in caplog.text
    assert iban not in caplog.text
    for alias in connections:
        content = database_bytes(alias)
        assert disease.encode() not in content, f"the disease in clear in « {alias} »"
        assert iban.encode() not in content, f"the IBAN in clear in « {alias} »"
        if alias != "legal":
            for derived in (exclusion, note, "Tabac", "Maladie chronique", "Ajustement de souscription"):
                assert derived.encode() not in content, f"« {derived} » (health-derived) in « {alias} »"
    legal = database_bytes("legal")
    assert b"Tabac" in legal  # the factor and the reason are kept, with Legal: the search above can find them
    workflow_state = workflow_database_text()
    assert "SUB-" in workflow_state  # the search reads the pickled step inputs and outputs
    for value in (disease, iban, exclusion, note, "Tabac", "Maladie chronique", "Ajustement de souscription"):
        assert value not in workflow_state, f"« {value} » in the workflow database"
