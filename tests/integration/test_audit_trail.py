"""The audit trail: written in the action's transaction and database, masked, append-only, logins included."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.db import DatabaseError, connections, transaction
from django.test import Client, RequestFactory

from souscription.audit import services
from souscription.audit.domain import Action
from souscription.audit.models import AuditEntry, TreeHead
from souscription.audit.services import AuditOutsideTransaction, record, seal

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]


@pytest.fixture(autouse=True)
def _own_signing_key(settings, tmp_path) -> None:
    settings.SOUSCRIPTION_DATA_DIR = tmp_path


def write(database: str, count: int = 1, **fields: object) -> list[AuditEntry]:
    values: dict[str, object] = {
        "actor": "7",
        "role": "jurist",
        "action": Action.READ_HEALTH,
        "record_type": "health_declaration",
        "record_id": "d-1",
        "source": "203.0.113.7",
        **fields,
    }
    with transaction.atomic(using=database):
        return [record(database=database, **values) for _ in range(count)]  # type: ignore[arg-type]


def entries(database: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.using(database).order_by("sequence"))


def test_each_database_keeps_its_own_gap_free_numbering() -> None:
    write("legal", 3)
    write("billing", 2, action=Action.VALIDATE, record_type="invoice")
    assert [e.sequence for e in entries("legal")] == [1, 2, 3]
    assert [e.sequence for e in entries("billing")] == [1, 2]
    assert entries("default") == []


def validate_then_fail() -> None:
    with transaction.atomic(using="billing"):
        record(
            database="billing",
            actor="3",
            role="accountant",
            action=Action.VALIDATE,
            record_type="invoice",
            record_id="FAC-1",
            source="workflow",
        )
        raise RuntimeError("la validation échoue")


def test_an_entry_is_rolled_back_with_the_action_it_records() -> None:
    with pytest.raises(RuntimeError):
        validate_then_fail()
    assert entries("billing") == []


@pytest.mark.django_db(transaction=True, databases=["legal"])
def test_recording_outside_a_transaction_on_the_database_is_refused() -> None:
    with pytest.raises(AuditOutsideTransaction) as refused:
        record(
            database="legal",
            actor="7",
            role="jurist",
            action=Action.READ_HEALTH,
            record_type="health_declaration",
            record_id="d-1",
            source="203.0.113.7",
        )
    assert refused.value.code == "audit_outside_transaction"
    assert AuditEntry.objects.using("legal").count() == 0
    write("legal")  # committed: the flush after this test must get past the append-only triggers (tests/conftest.py)
    assert AuditEntry.objects.using("legal").count() == 1


def test_no_email_iban_or_health_value_reaches_the_table() -> None:
    write(
        "billing",
        action=Action.CHANGE,
        record_type="bank_account",
        details={
            "email": "jeanne.dupont@exemple.fr",
            "iban": "FR76 3000 6000 0112 3456 7890 189",
            "note": "nouveau compte FR7630006000011234567890189 pour jeanne.dupont@exemple.fr",
            "health_answers": {"smoker": True},
        },
    )
    with connections["billing"].cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditentry")
        stored = repr(cursor.fetchall())
    for secret in ("jeanne.dupont", "3456", "7890", "smoker"):
        assert secret not in stored
    assert "j***@exemple.fr" in stored
    assert "FR76 **** 0189" in stored


def test_a_tree_head_is_signed_every_64_entries_inside_the_writing_transaction() -> None:
    write("sales", services.SEAL_EVERY - 1, action=Action.CREATE, record_type="offer")
    assert TreeHead.objects.using("sales").count() == 0
    write("sales", 1, action=Action.CREATE, record_type="offer")
    assert list(TreeHead.objects.using("sales").values_list("size", flat=True)) == [services.SEAL_EVERY]


def test_sealing_twice_without_new_entries_signs_nothing_new() -> None:
    write("legal", 3)
    first = seal("legal")
    assert first is not None
    assert first.size == 3
    assert seal("legal") == first
    assert TreeHead.objects.using("legal").count() == 1


@pytest.mark.parametrize("table", ["audit_auditentry", "audit_treehead"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_the_database_refuses_to_change_or_delete_audit_rows_in_raw_sql(table: str, statement: str) -> None:
    write("legal", 2)
    seal("legal")
    with (
        pytest.raises(DatabaseError, match="ajout seul"),
        transaction.atomic(using="legal"),
        connections["legal"].cursor() as cursor,
    ):
        cursor.execute(statement.format(table=table))
    assert len(entries("legal")) == 2


def test_the_database_refuses_to_change_or_delete_audit_rows_through_the_orm() -> None:
    [entry] = write("customer_service", 1, action=Action.CHANGE, record_type="customer")
    head = seal("customer_service")
    assert head is not None
    attempts = [
        lambda: AuditEntry.objects.using("customer_service").filter(pk=entry.pk).update(actor="platform"),
        lambda: AuditEntry.objects.using("customer_service").filter(pk=entry.pk).delete(),
        lambda: TreeHead.objects.using("customer_service").update(root_hash="0" * 64),
        lambda: head.delete(using="customer_service"),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError, match="ajout seul"), transaction.atomic(using="customer_service"):
            attempt()
    assert entries("customer_service")[0].actor == "7"


def test_a_staff_login_writes_a_login_entry_in_the_platform_database(client: Client, staff_member) -> None:
    user = staff_member("jurist")
    client.force_login(user)
    [entry] = [e for e in entries("default") if e.action == Action.LOGIN]
    assert (entry.actor, entry.role, entry.record_type, entry.record_id) == (
        str(user.pk),
        "jurist",
        "user",
        str(user.pk),
    )


def test_a_failed_login_writes_a_login_failed_entry_with_the_address_and_the_login_masked(staff_member) -> None:
    staff_member("jurist", email="juriste@assureur.test")
    request = RequestFactory().post("/connexion/", REMOTE_ADDR="198.51.100.4")
    assert authenticate(request, username="juriste@assureur.test", password="mauvais mot de passe") is None
    [entry] = [e for e in entries("default") if e.action == Action.LOGIN_FAILED]
    assert entry.source == "198.51.100.4"
    assert entry.actor == "anonymous"
    assert entry.details == {"username": "j***@assureur.test"}


def test_the_embedded_signing_key_is_generated_once_readable_by_its_owner_only(settings, tmp_path) -> None:
    from souscription.audit.keys import KEY_FILE, signing_key

    first = signing_key()
    path = tmp_path / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert signing_key().public == first.public
    settings.SOUSCRIPTION_DATA_DIR = tmp_path / "ailleurs"
    assert signing_key().public != first.public  # a new data folder, a new key: none is built into the code


def test_the_configured_signing_key_wins_over_the_embedded_file(settings, tmp_path) -> None:
    import dataclasses

    from souscription.audit.keys import KEY_FILE, signing_key

    settings.SOUSCRIPTION = dataclasses.replace(settings.SOUSCRIPTION, audit_signing_key=bytes(range(32)))
    assert signing_key().public.hex() == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    assert not (tmp_path / KEY_FILE).exists()
