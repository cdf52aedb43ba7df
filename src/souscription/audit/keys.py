"""The Ed25519 key that signs tree heads. Never in the code.

Production: `SOUSCRIPTION_AUDIT_SIGNING_KEY` (base64 of the 32-byte raw private key), required: the platform
refuses to start without it. Embedded: a key generated once into `<data dir>/audit/signing_key`, mode 0600.
The public key (`souscription audit public-key`) is what the insurer publishes for auditors.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings

from souscription.audit.verifier import key_id

KEY_FILE = Path("audit") / "signing_key"


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public: bytes
    key_id: str

    @property
    def public_base64(self) -> str:
        return base64.b64encode(self.public).decode()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def signing_key() -> SigningKey:
    env = settings.SOUSCRIPTION
    if env.audit_signing_key is not None:
        return _from_raw(env.audit_signing_key)
    if env.is_production:  # the configuration already refuses this; a second lock on the door
        raise RuntimeError("SOUSCRIPTION_AUDIT_SIGNING_KEY est obligatoire en production.")
    return _from_file(Path(settings.SOUSCRIPTION_DATA_DIR) / KEY_FILE)


@lru_cache(maxsize=4)
def _from_raw(raw: bytes) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(raw)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return SigningKey(private, public, key_id(public))


@lru_cache(maxsize=4)
def _from_file(path: Path) -> SigningKey:
    if not path.exists():
        _create(path)
    return _from_raw(base64.b64decode(path.read_text().strip()))


def _create(path: Path) -> None:
    """Written aside then linked into place: two processes starting together end up with the same one key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing_key-")
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, base64.b64encode(raw) + b"\n")
        os.fsync(descriptor)
        os.close(descriptor)
        with contextlib.suppress(FileExistsError):  # another process won the race: its key is the key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
