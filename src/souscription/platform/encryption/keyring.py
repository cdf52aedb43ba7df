"""Master keys, data keys and field ciphertexts: AES-256-GCM, no Django, no database.

Envelope encryption: each subject (a dossier) has a random data key; only its wrapped form, sealed by a master key
of the ring, is stored. Rotating the master key re-wraps data keys and leaves field ciphertexts untouched;
destroying a subject's data key makes every copy of its fields (replicas, backups, exports) unreadable.

Every ciphertext is bound by its associated data to where it belongs (table, record, field for a field; table,
data key id and subject for a wrapped key), so a ciphertext copied elsewhere fails its authentication tag.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from souscription.configuration import EMBEDDED_FIELD_KEYS_FILE, parse_field_keys

FORMAT_VERSION = "v1"
_NONCE_BYTES = 12
KEY_BYTES = 32


class FieldEncryptionError(Exception):
    """Base of the module's errors: a stable `code` and a French `message`, never a plaintext value in either.

    Not a `DomainError`: the person making the request did nothing wrong, so the API answers a logged 500."""

    code = "field_encryption_error"
    message = "Donnée chiffrée inutilisable."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or type(self).message
        super().__init__(self.message)


class CiphertextRejected(FieldEncryptionError):
    code = "ciphertext_rejected"
    message = (
        "Donnée chiffrée refusée : elle a été modifiée, déplacée vers un autre enregistrement ou un autre champ, "
        "ou chiffrée avec une autre clé."
    )


class UnknownMasterKey(FieldEncryptionError):
    code = "unknown_master_key"


class DataKeyShredded(FieldEncryptionError):
    code = "data_key_shredded"
    message = "Donnée effacée : la clé de ce dossier a été détruite, elle n'est plus déchiffrable."


class KeyRingMissing(FieldEncryptionError):
    code = "key_ring_missing"
    message = (
        "Aucune clé de chiffrement des champs : renseignez SOUSCRIPTION_FIELD_KEYS "
        "(identifiant:clé base64url de 32 octets, la première active)."
    )


@dataclass(frozen=True)
class MasterKey:
    id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class WrappedKey:
    master_key_id: str
    wrapped: str  # base64url of nonce + ciphertext + tag


class KeyRing:
    """The master keys in use: the first one wraps new data keys, every one unwraps."""

    def __init__(self, keys: Sequence[MasterKey]) -> None:
        if not keys:
            raise KeyRingMissing()
        self._keys = {key.id: key for key in keys}
        self.active = keys[0]

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, bytes]]) -> KeyRing:
        return cls([MasterKey(key_id, key) for key_id, key in pairs])

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def wrap(self, data_key: bytes, *, table: str, data_key_id: str, subject: str) -> WrappedKey:
        aad = _wrap_aad(table, data_key_id, subject)
        return WrappedKey(self.active.id, _seal(self.active.key, data_key, aad))

    def unwrap(self, wrapped: WrappedKey, *, table: str, data_key_id: str, subject: str) -> bytes:
        master = self._keys.get(wrapped.master_key_id)
        if master is None:
            raise UnknownMasterKey(
                f"Clé maîtresse « {wrapped.master_key_id} » absente du trousseau : remettez-la dans "
                "SOUSCRIPTION_FIELD_KEYS (ou field_keys.json) le temps de lancer souscription reencrypt."
            )
        return _open(master.key, wrapped.wrapped, _wrap_aad(table, data_key_id, subject))


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal_field(plaintext: str, *, data_key: bytes, data_key_id: str, table: str, record_id: str, field: str) -> str:
    """`v1:<data key id>:<nonce+ciphertext, base64url>`, authenticated with its table, record and field."""
    body = _seal(data_key, plaintext.encode("utf-8"), field_aad(table=table, record_id=record_id, field=field))
    return f"{FORMAT_VERSION}:{data_key_id}:{body}"


def data_key_id_of(token: str) -> str:
    return _split(token)[1]


def open_field(token: str, *, data_key: bytes, table: str, record_id: str, field: str) -> str:
    _version, _data_key_id, body = _split(token)
    plaintext = _open(data_key, body, field_aad(table=table, record_id=record_id, field=field))
    return plaintext.decode("utf-8")


def field_aad(*, table: str, record_id: str, field: str) -> bytes:
    # A JSON list is unambiguous whatever the parts contain, unlike a plain concatenation.
    return json.dumps([FORMAT_VERSION, "field", table, record_id, field]).encode()


def _wrap_aad(table: str, data_key_id: str, subject: str) -> bytes:
    return json.dumps([FORMAT_VERSION, "data-key", table, data_key_id, subject]).encode()


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != FORMAT_VERSION:
        raise CiphertextRejected("Donnée chiffrée illisible : format inconnu (attendu v1:clé:données).")
    return parts[0], parts[1], parts[2]


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    return base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad)).decode("ascii")


def _open(key: bytes, body: str, aad: bytes) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
    except (InvalidTag, binascii.Error, ValueError, UnicodeEncodeError):
        raise CiphertextRejected() from None


# -- the embedded key file -------------------------------------------------------------------------------------


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


def key_file(data_dir: Path) -> Path:
    return data_dir / EMBEDDED_FIELD_KEYS_FILE


def read_key_file(path: Path) -> tuple[tuple[str, bytes], ...]:
    """The file's keys, the active one first (`{"keys": ["id:base64url", ...]}`, the variable's format)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
        return parse_field_keys(",".join(entries))
    except (KeyError, TypeError, ValueError) as error:
        raise KeyRingMissing(
            f"Fichier de clés {path} illisible ({error}) : restaurez-le depuis la sauvegarde."
        ) from None


def embedded_key_ring(data_dir: Path) -> KeyRing:
    """Embedded mode only: the key file of the data folder, created once (mode 0600) with one random key."""
    path = key_file(data_dir)
    if not path.exists():
        # Another process may create it first: then its key is the key.
        with contextlib.suppress(FileExistsError):
            _write_key_file(path, [_generated_key()], exclusive=True)
    return KeyRing.from_pairs(read_key_file(path))


def add_key_to_file(data_dir: Path) -> MasterKey:
    """Embedded rotation: a new random key becomes the active one; the old ones stay to unwrap until re-wrapped."""
    path = key_file(data_dir)
    old = read_key_file(path) if path.exists() else ()
    new = _generated_key()
    _write_key_file(path, [new, *(MasterKey(key_id, key) for key_id, key in old)], exclusive=False)
    return new


def _generated_key() -> MasterKey:
    return MasterKey(f"k-{secrets.token_hex(4)}", new_data_key())


def _write_key_file(path: Path, keys: Sequence[MasterKey], *, exclusive: bool) -> None:
    """Written whole to a private temporary file (0600 from its first byte), then put in place in one step, so no
    reader ever sees a half-written file; `exclusive` refuses to replace a file another process just created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"keys": [f"{key.id}:{encode_key(key.key)}" for key in keys]}, indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
