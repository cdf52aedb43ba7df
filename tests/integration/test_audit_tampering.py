"""An attacker with raw access to a database (triggers dropped first, as one could) edits, deletes, reorders,
truncates and re-signs the audit log: `souscription audit verify` reports each, naming the entry or the head.
An export is verified offline by the published verifier alone, and fails once a line of it is altered."""

from __future__ import annotations

import importlib
import io
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, transaction

from souscription.audit import merkle, verifier
from souscription.audit.domain import Action
from souscription.audit.models import AuditEntry, TreeHead
from souscription.audit.services import entry_fields, record, seal, utc_text
from tests.conftest import _TriggerEditor

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]
VERIFIER = Path(verifier.__file__)
DATABASE = "legal"


@pytest.fixture(autouse=True)
def sealed_log(settings, tmp_path) -> None:
    """Legal's log: 10 entries under a first head, 3 more under a second (sizes 10 and 13)."""
    settings.SOUSCRIPTION_DATA_DIR = tmp_path
    for count in (10, 3):
        with transaction.atomic(using=DATABASE):
            for _ in range(count):
                record(
                    database=DATABASE,
                    actor="7",
                    role="jurist",
                    action=Action.READ_HEALTH,
                    record_type="health_declaration",
                    record_id="d-1",
                    source="203.0.113.7",
                )
        seal(DATABASE)


def attack(*statements: str, params: tuple[object, ...] = ()) -> None:
    """Raw SQL on Legal's database, append-only triggers dropped first."""
    triggers = importlib.import_module("souscription.audit.migrations.0002_append_only_triggers")
    triggers.drop_triggers(None, _TriggerEditor(connections[DATABASE]))  # SQLite's or PostgreSQL's, as deployed
    with connections[DATABASE].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params if "%s" in statement else ())


def verify() -> tuple[bool, str]:
    out = io.StringIO()
    try:
        call_command("audit", "verify", "--database", DATABASE, stdout=out, stderr=io.StringIO())
    except CommandError:
        return False, out.getvalue()
    return True, out.getvalue()


def rows() -> list[dict[str, object]]:
    with connections[DATABASE].cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditentry ORDER BY sequence")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def recompute_leaves() -> list[bytes]:
    """What a careful attacker does after an edit: every stored leaf hash made to match the rows again."""
    leaves = []
    for entry in AuditEntry.objects.using(DATABASE).order_by("sequence"):
        leaf = verifier.entry_leaf_hash(entry_fields(DATABASE, entry))
        attack("UPDATE audit_auditentry SET leaf_hash = %s WHERE id = %s", params=(leaf.hex(), entry.pk))
        leaves.append(leaf)
    return leaves


def test_an_untouched_log_verifies_in_every_database() -> None:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert f"{DATABASE} : 13 entrées, 2 têtes signées, 0 non signées, OK" in out.getvalue()
    assert out.getvalue().count("OK") == len(connections.databases)


def test_an_edited_entry_is_reported_with_its_number() -> None:
    attack("UPDATE audit_auditentry SET record_id = 'd-999' WHERE sequence = 4")
    ok, out = verify()
    assert not ok
    assert "entrée n° 4 modifiée" in out


def test_an_edited_entry_whose_hash_was_recomputed_is_caught_by_the_signed_head() -> None:
    attack("UPDATE audit_auditentry SET actor = 'platform' WHERE sequence = 4")
    recompute_leaves()
    ok, out = verify()
    assert not ok
    assert "tête de taille 10" in out


def test_a_deleted_entry_is_reported_with_its_number() -> None:
    attack("DELETE FROM audit_auditentry WHERE sequence = 5")
    ok, out = verify()
    assert not ok
    assert "entrée n° 5 absente" in out


def test_two_swapped_entries_are_reported() -> None:
    attack("UPDATE audit_auditentry SET record_id = 'd-2' WHERE sequence = 3")
    recompute_leaves()  # the two rows now differ; swapping identical rows would change nothing worth hiding
    attack("DELETE FROM audit_treehead")
    seal(DATABASE)
    assert verify()[0]  # a fresh, honest baseline with entries 2 and 3 different
    attack(
        "UPDATE audit_auditentry SET sequence = 0 WHERE sequence = 2",
        "UPDATE audit_auditentry SET sequence = 2 WHERE sequence = 3",
        "UPDATE audit_auditentry SET sequence = 3 WHERE sequence = 0",
    )
    ok, out = verify()
    assert not ok
    assert "entrée n° 2 modifiée" in out


def test_a_log_truncated_below_its_last_signed_head_is_reported() -> None:
    attack("DELETE FROM audit_auditentry WHERE sequence > 11")
    ok, out = verify()
    assert not ok
    assert "tête de taille 13 : le journal n'a plus que 11 entrées" in out


def test_heads_re_signed_with_a_foreign_key_are_reported() -> None:
    attack("UPDATE audit_auditentry SET actor = 'platform' WHERE sequence = 4")
    tree = merkle.Tree(recompute_leaves())
    foreign = Ed25519PrivateKey.generate()
    for head in TreeHead.objects.using(DATABASE):
        root = tree.root(head.size).hex()
        message = verifier.tree_head_message(
            database=DATABASE, size=head.size, root=root, signed_at=utc_text(head.signed_at)
        )
        # The key id is left as it was: only the signature itself can tell the forgery.
        attack(
            "UPDATE audit_treehead SET root_hash = %s, signature = %s WHERE id = %s",
            params=(root, foreign.sign(message).hex(), head.pk),
        )
    ok, out = verify()
    assert not ok
    assert "tête de taille 10 : signature invalide" in out


def export_period(tmp_path: Path) -> tuple[Path, Path]:
    today = datetime.now(UTC).date().isoformat()
    export = tmp_path / "export.jsonl"
    call_command("audit", "export", "--since", today, "--until", today, "--output", str(export), stderr=io.StringIO())
    key = io.StringIO()
    call_command("audit", "public-key", stdout=key)
    key_file = tmp_path / "cle-publique.txt"
    key_file.write_text(key.getvalue())
    return export, key_file


def run_verifier(tmp_path: Path, export: Path, key_file: Path) -> subprocess.CompletedProcess[str]:
    """The verifier copied alone into an empty folder and run in isolated mode: only the file and the key."""
    alone = tmp_path / "auditeur"
    alone.mkdir(exist_ok=True)
    shutil.copy(VERIFIER, alone / "verifier.py")
    return subprocess.run(
        [sys.executable, "-I", "verifier.py", str(export), "--public-key", str(key_file)],
        cwd=alone,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_export_verifies_offline_with_the_published_verifier_and_the_public_key_alone(tmp_path: Path) -> None:
    export, key_file = export_period(tmp_path)
    result = run_verifier(tmp_path, export, key_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{DATABASE} : 13 entrées" in result.stdout


@pytest.mark.parametrize("alteration", ["entry_field", "head_root", "dropped_entry", "consistency"])
def test_an_altered_export_fails_the_published_verifier(tmp_path: Path, alteration: str) -> None:
    export, key_file = export_period(tmp_path)
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    legal_entries = [
        i for i, line in enumerate(lines) if line["type"] == "entry" and line["entry"]["database"] == DATABASE
    ]
    if alteration == "entry_field":
        lines[legal_entries[3]]["entry"]["actor"] = "platform"
    elif alteration == "head_root":
        head = next(line for line in lines if line["type"] == "tree_head" and line["database"] == DATABASE)
        head["root"] = "0" * 64
    elif alteration == "dropped_entry":
        del lines[legal_entries[5]]
    else:
        proof = next(line for line in lines if line["type"] == "consistency" and line["database"] == DATABASE)
        proof["proof"] = proof["proof"][:-1]
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_verifier(tmp_path, export, key_file)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ÉCHEC" in result.stdout


def test_an_export_refuses_a_broken_log_and_writes_no_file(tmp_path: Path) -> None:
    attack("DELETE FROM audit_auditentry WHERE sequence = 5")
    with pytest.raises(CommandError, match="entrée n° 5 absente"):
        export_period(tmp_path)
    assert not (tmp_path / "export.jsonl").exists()
