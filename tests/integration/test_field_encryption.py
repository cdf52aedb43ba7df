"""Health answers and IBANs are sealed per field in the department databases: written and read back through the
services, never stored in the clear, bound to their row, re-wrapped by `reencrypt`, destroyed by shredding."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import stat
import uuid
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from schwifty import IBAN

from souscription.billing import services as billing
from souscription.billing.models import BankAccount, Mandate
from souscription.billing.models import DataKey as BillingDataKey
from souscription.platform.encryption.keyring import CiphertextRejected, DataKeyShredded, UnknownMasterKey, new_data_key
from souscription.platform.encryption.store import data_key_models, keys_by_master_key
from souscription.underwriting import services as underwriting
from souscription.underwriting.models import DataKey as LegalDataKey
from souscription.underwriting.models import HealthDeclaration

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases="__all__")]
ROOT = Path(__file__).parents[2]
AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
OLD, NEW = ("k-old", new_data_key()), ("k-new", new_data_key())


def use_keys(settings: Any, *pairs: tuple[str, bytes], data_dir: Path | None = None) -> None:
    """The ring of this test: what `SOUSCRIPTION_FIELD_KEYS` would say (restored after the test)."""
    changes: dict[str, Any] = {"field_keys": tuple(pairs)}
    if data_dir is not None:
        changes["data_dir"] = data_dir
    settings.SOUSCRIPTION = dataclasses.replace(settings.SOUSCRIPTION, **changes)


def new_iban() -> str:
    """A valid IBAN found nowhere else, so finding it in a file can only mean this test's write leaked."""
    return str(IBAN.generate("DE", bank_code="37040044", account_code=f"{secrets.randbelow(10**10):010d}").compact)


def a_dossier(*, health: str = "aucune", iban: str | None = None, holder: str = "Inès Durand") -> str:
    sid = f"SUB-{secrets.token_hex(4).upper()}"
    underwriting.declare_health(
        declaration_id=uuid.uuid4(), subscription_id=sid, answers={"health.condition": health}, at=AT
    )
    billing.record_bank_details(subscription_id=sid, holder=holder, iban=iban or new_iban(), at=AT)
    billing.record_mandate(subscription_id=sid, customer_id=uuid.uuid4(), signed_on=date(2026, 11, 21))
    return sid


def health_of(sid: str) -> dict[str, Any]:
    found = underwriting.latest_health_declaration(sid)
    assert found is not None
    return found[1]


def test_services_return_the_plaintext_the_tables_hold_only_ciphertext_and_the_last_four(settings: Any) -> None:
    use_keys(settings, OLD)
    iban = new_iban()
    sid = a_dossier(health="asthme", iban=iban)
    assert health_of(sid) == {"health.condition": "asthme"}
    assert billing.bank_answers(sid)["billing.iban"] == iban
    mandate = billing.mandate_account(sid)
    assert mandate is not None
    assert mandate.iban == iban
    account, signed = BankAccount.objects.get(subscription_id=sid), Mandate.objects.get(subscription_id=sid)
    assert (account.iban_last4, signed.iban_last4) == (iban[-4:], iban[-4:])
    assert iban not in account.iban_sealed + signed.iban_sealed
    assert "asthme" not in HealthDeclaration.objects.get(subscription_id=sid).answers_sealed
    assert str(account).endswith(f"****{iban[-4:]}")


def test_a_health_answer_copied_onto_another_declaration_of_the_same_dossier_fails(settings: Any) -> None:
    use_keys(settings, OLD)
    sid = a_dossier(health="asthme")
    underwriting.declare_health(
        declaration_id=uuid.uuid4(), subscription_id=sid, answers={"health.condition": "aucune"}, at=AT.replace(hour=11)
    )
    older, newer = HealthDeclaration.objects.filter(subscription_id=sid).order_by("declared_at")
    # Same dossier, so the same data key: only the associated data (table, record, field) can tell them apart.
    HealthDeclaration.objects.filter(id=newer.id).update(answers_sealed=older.answers_sealed)
    with pytest.raises(CiphertextRejected):
        underwriting.latest_health_declaration(sid)


def test_an_iban_copied_onto_another_dossier_or_onto_the_mandate_fails(settings: Any) -> None:
    use_keys(settings, OLD)
    victim, other = a_dossier(), a_dossier()
    stolen = BankAccount.objects.get(subscription_id=victim).iban_sealed
    BankAccount.objects.filter(subscription_id=other).update(iban_sealed=stolen)
    with pytest.raises(CiphertextRejected):
        billing.bank_answers(other)
    Mandate.objects.filter(subscription_id=victim).update(iban_sealed=stolen)
    with pytest.raises(CiphertextRejected):
        billing.mandate_account(victim)


def test_a_tampered_stored_iban_fails(settings: Any) -> None:
    use_keys(settings, OLD)
    sid = a_dossier()
    token = BankAccount.objects.get(subscription_id=sid).iban_sealed
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    BankAccount.objects.filter(subscription_id=sid).update(iban_sealed=flipped)
    with pytest.raises(CiphertextRejected):
        billing.bank_answers(sid)


def test_a_wrong_master_key_cannot_read_and_a_missing_one_is_named(settings: Any) -> None:
    use_keys(settings, OLD)
    sid = a_dossier(health="asthme")
    use_keys(settings, ("k-old", new_data_key()))
    with pytest.raises(CiphertextRejected):
        health_of(sid)
    use_keys(settings, NEW)
    with pytest.raises(UnknownMasterKey, match="« k-old »"):
        billing.bank_answers(sid)


def test_after_a_new_active_key_and_reencrypt_no_row_is_on_the_old_key_which_can_then_go(settings: Any) -> None:
    use_keys(settings, OLD)
    iban = new_iban()
    sids = [a_dossier(health="asthme", iban=iban), a_dossier()]
    use_keys(settings, NEW, OLD)
    out = StringIO()
    call_command("reencrypt", stdout=out, stderr=StringIO())
    lines = [line.split("\t") for line in out.getvalue().splitlines()[1:]]
    assert {(db, rewrapped, current) for db, _table, rewrapped, current, _keys in lines} == {
        ("legal", "2", "0"),
        ("billing", "2", "0"),
    }
    assert {model._meta.label: keys_by_master_key(model) for model in data_key_models()} == {
        "underwriting.DataKey": {"k-new": 2},
        "billing.DataKey": {"k-new": 2},
    }
    use_keys(settings, NEW)
    assert health_of(sids[0]) == {"health.condition": "asthme"}
    assert billing.bank_answers(sids[0])["billing.iban"] == iban
    assert billing.mandate_account(sids[1]) is not None


def test_reencrypt_refuses_when_a_data_key_is_on_a_master_key_no_longer_in_the_ring(settings: Any) -> None:
    use_keys(settings, OLD)
    a_dossier()
    use_keys(settings, NEW)
    with pytest.raises(CommandError, match="« k-old »"):
        call_command("reencrypt", stdout=StringIO(), stderr=StringIO())
    assert LegalDataKey.objects.filter(master_key_id="k-old").count() == 1


def test_shredding_a_dossier_makes_its_fields_unreadable_and_leaves_the_others_readable(settings: Any) -> None:
    use_keys(settings, OLD)
    erased, kept = a_dossier(health="asthme"), a_dossier(health="diabète")
    assert underwriting.shred_health_answers(subscription_id=erased) == 1
    assert billing.shred_bank_details(subscription_id=erased) == 1
    with pytest.raises(DataKeyShredded):
        health_of(erased)
    with pytest.raises(DataKeyShredded):
        billing.bank_answers(erased)
    with pytest.raises(DataKeyShredded):
        billing.mandate_account(erased)
    assert health_of(kept) == {"health.condition": "diabète"}
    assert billing.mandate_account(kept) is not None
    assert not LegalDataKey.objects.filter(subject=erased).exists()
    assert not BillingDataKey.objects.filter(subject=erased).exists()


def test_without_the_variable_the_embedded_key_file_is_created_private_in_the_data_folder(
    settings: Any, tmp_path: Path
) -> None:
    use_keys(settings, data_dir=tmp_path / "donnees")
    sid = a_dossier(health="asthme")
    path = tmp_path / "donnees" / "field_keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.resolve().is_relative_to(ROOT / "src")
    assert health_of(sid) == {"health.condition": "asthme"}
    key_id = path.read_text().split('"')[3].split(":")[0]
    assert LegalDataKey.objects.get(subject=sid).master_key_id == key_id


def stored_bytes(alias: str) -> bytes:
    """Everything a copy of the database would hold: its files on SQLite (WAL and journal included), every row of
    every table on a server (what a dump would contain)."""
    connection = connections[alias]
    if connection.vendor == "sqlite":
        folder = Path(connection.settings_dict["NAME"]).parent
        return b"".join(path.read_bytes() for path in folder.iterdir() if path.is_file())
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows).encode()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_no_marker_iban_or_health_value_reaches_a_database_file_or_the_logs(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    use_keys(settings, OLD)
    caplog.set_level(logging.DEBUG)
    iban, health = new_iban(), f"MARQUEUR-SANTE-{secrets.token_hex(6)}"
    holder = f"Titulaire-{secrets.token_hex(6)}"  # stored in clear: proves the scan sees what was committed
    sid = a_dossier(health=health, iban=iban, holder=holder)
    assert health_of(sid) == {"health.condition": health}
    content = b"".join(stored_bytes(alias) for alias in ("legal", "billing"))
    assert holder.encode() in content
    assert sid.encode() in content
    assert iban.encode() not in content
    assert health.encode() not in content
    assert iban not in caplog.text
    assert health not in caplog.text
