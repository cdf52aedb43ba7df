"""Field encryption without a database: each ciphertext opens only where it was sealed, with the key that sealed
it; master keys come from the environment or the embedded key file, never from the code."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from souscription.configuration import ConfigurationError, parse_field_keys, read_environment
from souscription.platform.encryption.keyring import (
    CiphertextRejected,
    KeyRing,
    MasterKey,
    UnknownMasterKey,
    add_key_to_file,
    embedded_key_ring,
    encode_key,
    key_file,
    new_data_key,
    open_field,
    read_key_file,
    seal_field,
)
from tests.unit.test_environment import BASE, PRODUCTION

ROOT = Path(__file__).parents[2]
TABLE, RECORD, FIELD = "billing_bankaccount", "4b0a0c1e-0000-4000-8000-000000000001", "iban"
IBAN = "FR1420041010050500013M02606"
DATA_KEY = new_data_key()


def sealed(value: str = IBAN, **where: str) -> str:
    place = {"table": TABLE, "record_id": RECORD, "field": FIELD, **where}
    return seal_field(value, data_key=DATA_KEY, data_key_id="dk-1", **place)


def opened(token: str, *, data_key: bytes = DATA_KEY, **where: str) -> str:
    place = {"table": TABLE, "record_id": RECORD, "field": FIELD, **where}
    return open_field(token, data_key=data_key, **place)


def ring(*ids: str) -> KeyRing:
    return KeyRing([MasterKey(key_id, new_data_key()) for key_id in ids])


def test_a_sealed_field_opens_where_it_was_sealed_and_holds_no_plaintext() -> None:
    token = sealed()
    assert opened(token) == IBAN
    assert IBAN not in token
    assert token.startswith("v1:dk-1:")


def test_the_same_value_sealed_twice_gives_two_different_ciphertexts() -> None:
    assert sealed() != sealed()  # a fresh nonce each time: equal IBANs cannot be spotted by equal ciphertexts


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"record_id": "4b0a0c1e-0000-4000-8000-000000000002"},
        {"field": "holder"},
        {"table": "billing_mandate"},
    ],
    ids=["another record", "another field", "another table"],
)
def test_a_ciphertext_moved_elsewhere_fails_to_decrypt(elsewhere: dict[str, str]) -> None:
    with pytest.raises(CiphertextRejected) as caught:
        opened(sealed(), **elsewhere)
    assert caught.value.code == "ciphertext_rejected"
    assert "déplacée" in caught.value.message


def test_a_tampered_ciphertext_fails_to_decrypt() -> None:
    version, key_id, body = sealed().split(":")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-20] ^= 0x01
    with pytest.raises(CiphertextRejected):
        opened(f"{version}:{key_id}:{base64.urlsafe_b64encode(bytes(raw)).decode()}")


@pytest.mark.parametrize("garbage", ["", "v1:dk-1", "v2:dk-1:AAAA", "v1:dk-1:!!!not-base64!!!", "v1:dk-1:AAAA"])
def test_a_malformed_ciphertext_is_rejected_not_crashed_on(garbage: str) -> None:
    with pytest.raises(CiphertextRejected):
        opened(garbage)


def test_a_field_opened_with_another_data_key_fails() -> None:
    with pytest.raises(CiphertextRejected):
        opened(sealed(), data_key=new_data_key())


def test_a_data_key_unwraps_only_for_its_subject_and_its_table() -> None:
    keys = ring("k1")
    wrapped = keys.wrap(DATA_KEY, table="legal_datakey", data_key_id="dk-1", subject="SUB-1")
    assert keys.unwrap(wrapped, table="legal_datakey", data_key_id="dk-1", subject="SUB-1") == DATA_KEY
    with pytest.raises(CiphertextRejected):
        keys.unwrap(wrapped, table="legal_datakey", data_key_id="dk-1", subject="SUB-2")
    with pytest.raises(CiphertextRejected):
        keys.unwrap(wrapped, table="billing_datakey", data_key_id="dk-1", subject="SUB-1")


def test_a_wrong_master_key_under_the_same_id_fails_and_an_absent_one_is_named() -> None:
    wrapped = ring("k1").wrap(DATA_KEY, table="t", data_key_id="dk-1", subject="SUB-1")
    with pytest.raises(CiphertextRejected):
        ring("k1").unwrap(wrapped, table="t", data_key_id="dk-1", subject="SUB-1")
    with pytest.raises(UnknownMasterKey) as caught:
        ring("k2").unwrap(wrapped, table="t", data_key_id="dk-1", subject="SUB-1")
    assert "« k1 »" in caught.value.message
    assert "SOUSCRIPTION_FIELD_KEYS" in caught.value.message


def test_after_rotation_new_data_keys_are_wrapped_by_the_first_key_and_old_ones_still_unwrap() -> None:
    old = MasterKey("k-old", new_data_key())
    before = KeyRing([old]).wrap(DATA_KEY, table="t", data_key_id="dk-1", subject="SUB-1")
    rotated = KeyRing([MasterKey("k-new", new_data_key()), old])
    assert rotated.unwrap(before, table="t", data_key_id="dk-1", subject="SUB-1") == DATA_KEY
    assert rotated.wrap(DATA_KEY, table="t", data_key_id="dk-1", subject="SUB-1").master_key_id == "k-new"


def test_master_keys_never_appear_in_a_repr() -> None:
    key = MasterKey("k1", new_data_key())
    assert encode_key(key.key) not in repr(key)
    env = read_environment({"SOUSCRIPTION_FIELD_KEYS": f"k1:{encode_key(key.key)}"}, base_dir=BASE)
    assert env.field_keys == (("k1", key.key),)
    assert encode_key(key.key) not in repr(env)


# -- where the master keys come from -------------------------------------------------------------------------


def test_the_variable_lists_keys_the_active_one_first() -> None:
    first, second = new_data_key(), new_data_key()
    assert parse_field_keys(f"k2:{encode_key(second)}, k1:{encode_key(first)}") == (("k2", second), ("k1", first))


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("k1", "identifiant:clé"),
        ("k1:" + encode_key(os.urandom(16)), "32 octets"),
        ("k1:%%%%", "base64url"),
        (f"k1:{encode_key(DATA_KEY)},k1:{encode_key(DATA_KEY)}", "deux fois"),
        ("clé à espaces:" + encode_key(DATA_KEY), "identifiant"),
    ],
)
def test_a_malformed_key_list_is_refused_naming_the_variable_and_the_fault(value: str, said: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        read_environment({"SOUSCRIPTION_FIELD_KEYS": value}, base_dir=BASE)
    [problem] = caught.value.problems
    assert problem.startswith("SOUSCRIPTION_FIELD_KEYS")
    assert said in problem
    assert "os.urandom(32)" in problem  # the fix: how to generate a key


def test_production_without_field_keys_is_refused() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SOUSCRIPTION_FIELD_KEYS"}
    with pytest.raises(ConfigurationError) as caught:
        read_environment(env, base_dir=BASE)
    assert any(p.startswith("SOUSCRIPTION_FIELD_KEYS est obligatoire en production") for p in caught.value.problems)


def test_the_embedded_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "donnees"
    first = embedded_key_ring(data_dir)
    path = key_file(data_dir)
    assert path == data_dir / "field_keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = embedded_key_ring(data_dir)
    assert again.active == first.active
    assert list(data_dir.iterdir()) == [path]  # no temporary file left behind


def test_the_default_key_file_is_in_the_data_folder_outside_the_source_tree() -> None:
    path = key_file(read_environment({}, base_dir=ROOT).data_dir)
    assert not path.is_relative_to(ROOT / "src")
    assert path.parent == ROOT / "var"
    assert "/var/" in (ROOT / ".gitignore").read_text().splitlines()


def test_embedded_rotation_puts_a_new_key_first_and_keeps_the_old_ones(tmp_path: Path) -> None:
    old = embedded_key_ring(tmp_path).active
    new = add_key_to_file(tmp_path)
    assert [key_id for key_id, _ in read_key_file(key_file(tmp_path))] == [new.id, old.id]
    assert stat.S_IMODE(key_file(tmp_path).stat().st_mode) == 0o600
    assert embedded_key_ring(tmp_path).active == new
