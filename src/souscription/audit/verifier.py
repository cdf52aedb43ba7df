"""Published verifier of an audit export: one file, the Python standard library and `cryptography`, nothing else.

An auditor runs it offline, with the export and the public key published by the insurer:

    python verifier.py export.jsonl --public-key KEY      # KEY: base64 of the raw Ed25519 public key, or a file

It checks, for every database of the export: each tree head's Ed25519 signature against the given key (never the
key written in the export, which anyone could replace); each entry's leaf hash recomputed from its fields; each
entry's inclusion proof against a signed tree head (RFC 6962 / RFC 9162 Merkle tree); each consistency proof
between successive tree heads (the log only grew); and that the sequence numbers of the entries have no gap.
Exit code 0 when everything verifies, 1 at the first problem (printed, in French), 2 for unusable input.

The platform imports its canonical encodings from this file, so what it signs is by construction what is checked
here. Format of an export (JSON lines, one object per line, each with a `type`):

- `header`: `format` (`souscription-audit-export/1`), `public_key`, `key_id`, `since`, `until`, `databases`;
- `tree_head`: `database`, `size`, `root`, `signed_at`, `key_id`, `signature` (hex);
- `consistency`: `database`, `from_size`, `to_size`, `proof` (hex list);
- `entry`: `entry` (the fields below), `tree_size` (of the head it is proved against), `proof` (hex list).

An entry's leaf hash is SHA-256(0x00 || canonical JSON of its fields); a node's is SHA-256(0x01 || left || right);
canonical JSON is UTF-8, keys sorted, no whitespace. A tree head signs `TREE_HEAD_PREFIX` followed by the canonical
JSON of `database`, `root`, `signed_at` and `size`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import itertools
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXPORT_FORMAT = "souscription-audit-export/1"
TREE_HEAD_PREFIX = b"souscription-audit-tree-head/1\n"
ENTRY_FIELDS = (
    "database",
    "sequence",
    "occurred_at",
    "actor",
    "role",
    "action",
    "record_type",
    "record_id",
    "source",
    "details",
)
EMPTY_ROOT = hashlib.sha256(b"").digest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def entry_leaf_hash(entry: Mapping[str, Any]) -> bytes:
    """The leaf of one audit entry; refuses a missing or an extra field, so nothing can be added unnoticed."""
    if set(entry) != set(ENTRY_FIELDS):
        raise ValueError(f"champs d'entrée inattendus : {sorted(set(entry) ^ set(ENTRY_FIELDS))}")
    return leaf_hash(canonical_json({name: entry[name] for name in ENTRY_FIELDS}))


def tree_head_message(*, database: str, size: int, root: str, signed_at: str) -> bytes:
    return TREE_HEAD_PREFIX + canonical_json({"database": database, "root": root, "signed_at": signed_at, "size": size})


def key_id(public_key: bytes) -> str:
    """Short name of a public key: the first 8 bytes of its SHA-256, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def signature_is_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root a leaf and its audit path lead to, or None when the path cannot fit the tree."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: the tree of `size2` leaves extends the tree of `size1` leaves without changing them."""
    if size1 > size2 or size1 < 0:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # an exact power of two: the old root is itself a node of the new tree
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old, new = path[0], path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old, new = node_hash(node, old), node_hash(node, new)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            new = node_hash(new, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and old == root1 and new == root2


class ExportInvalid(Exception):
    """The export does not verify; the message (French) names the line and what is wrong."""


@dataclass
class DatabaseSummary:
    entries: int = 0
    heads: dict[int, bytes] = field(default_factory=dict)
    sequences: list[int] = field(default_factory=list)
    chained: set[tuple[int, int]] = field(default_factory=set)


def verify_export(lines: Iterable[str], public_key: bytes) -> dict[str, DatabaseSummary]:
    """Check a whole export against `public_key`; raise `ExportInvalid` at the first problem."""
    records = [(number, _parse(number, line)) for number, line in enumerate(lines, start=1) if line.strip()]
    if not records or records[0][1].get("type") != "header" or records[0][1].get("format") != EXPORT_FORMAT:
        raise ExportInvalid(f"ligne 1 : en-tête « {EXPORT_FORMAT} » attendu")
    databases: dict[str, DatabaseSummary] = {name: DatabaseSummary() for name in records[0][1].get("databases", [])}
    heads = [(n, r) for n, r in records if r.get("type") == "tree_head"]
    for number, head in heads:
        _check_head(number, head, public_key, databases)
    for number, record in records[1:]:
        kind = record.get("type")
        if kind == "consistency":
            _check_consistency(number, record, databases)
        elif kind == "entry":
            _check_entry(number, record, databases)
        elif kind != "tree_head":
            raise ExportInvalid(f"ligne {number} : type d'enregistrement inconnu « {kind} »")
    for name, summary in databases.items():
        _check_complete(name, summary)
    return databases


def _check_complete(name: str, summary: DatabaseSummary) -> None:
    """No entry left out between the first and the last exported, and every head chained to the next."""
    first = summary.sequences[0] if summary.sequences else 1
    for position, sequence in enumerate(summary.sequences):
        if sequence != first + position:
            raise ExportInvalid(f"base « {name} » : entrée n° {first + position} absente ou déplacée")
    sizes = sorted(summary.heads)
    for old, new in itertools.pairwise(sizes):
        if (old, new) not in summary.chained:
            raise ExportInvalid(f"base « {name} » : aucune preuve de cohérence entre les têtes {old} et {new}")


def _parse(number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise ExportInvalid(f"ligne {number} : JSON illisible") from None
    if not isinstance(record, dict):
        raise ExportInvalid(f"ligne {number} : un objet JSON est attendu")
    return record


def _summary(number: int, databases: dict[str, DatabaseSummary], name: object) -> DatabaseSummary:
    if not isinstance(name, str) or name not in databases:
        raise ExportInvalid(f"ligne {number} : base « {name} » absente de l'en-tête")
    return databases[name]


def _check_head(number: int, head: dict[str, Any], public_key: bytes, databases: dict[str, DatabaseSummary]) -> None:
    summary = _summary(number, databases, head.get("database"))
    try:
        message = tree_head_message(
            database=head["database"], size=int(head["size"]), root=head["root"], signed_at=head["signed_at"]
        )
        signature, root = bytes.fromhex(head["signature"]), bytes.fromhex(head["root"])
    except (KeyError, TypeError, ValueError):
        raise ExportInvalid(f"ligne {number} : tête d'arbre incomplète") from None
    if not signature_is_valid(public_key, message, signature):
        raise ExportInvalid(
            f"ligne {number} : signature invalide de la tête de taille {head['size']} (base « {head['database']} »)"
        )
    summary.heads[int(head["size"])] = root


def _check_consistency(number: int, record: dict[str, Any], databases: dict[str, DatabaseSummary]) -> None:
    summary = _summary(number, databases, record.get("database"))
    old, new = _size(number, record.get("from_size")), _size(number, record.get("to_size"))
    if old not in summary.heads or new not in summary.heads:
        raise ExportInvalid(f"ligne {number} : preuve de cohérence entre des têtes absentes ({old} → {new})")
    if not verify_consistency(old, new, summary.heads[old], summary.heads[new], _hashes(number, record)):
        raise ExportInvalid(f"ligne {number} : la tête de taille {new} ne prolonge pas celle de taille {old}")
    summary.chained.add((old, new))


def _check_entry(number: int, record: dict[str, Any], databases: dict[str, DatabaseSummary]) -> None:
    entry = record.get("entry")
    if not isinstance(entry, dict):
        raise ExportInvalid(f"ligne {number} : entrée absente")
    summary = _summary(number, databases, entry.get("database"))
    size = _size(number, record.get("tree_size"))
    if size not in summary.heads:
        raise ExportInvalid(f"ligne {number} : aucune tête signée de taille {size}")
    try:
        leaf = entry_leaf_hash(entry)
        index = int(entry["sequence"]) - 1
    except (ValueError, TypeError) as error:
        raise ExportInvalid(f"ligne {number} : entrée illisible ({error})") from None
    if not verify_inclusion(index, size, leaf, _hashes(number, record), summary.heads[size]):
        raise ExportInvalid(
            f"ligne {number} : l'entrée n° {entry['sequence']} n'est pas dans l'arbre signé "
            "(entrée modifiée, déplacée ou preuve fausse)"
        )
    summary.entries += 1
    summary.sequences.append(index + 1)


def _size(number: int, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExportInvalid(f"ligne {number} : taille d'arbre illisible « {value} »")
    return value


def _hashes(number: int, record: dict[str, Any]) -> list[bytes]:
    try:
        return [bytes.fromhex(item) for item in record.get("proof", [])]
    except (TypeError, ValueError):
        raise ExportInvalid(f"ligne {number} : preuve illisible") from None


def read_public_key(value: str) -> bytes:
    """The key given on the command line: base64 of the raw 32-byte key, or a file holding it."""
    text = Path(value).read_text().strip() if Path(value).is_file() else value.strip()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("clé publique illisible : base64 de 32 octets attendu") from None
    if len(key) != 32:
        raise ValueError(f"clé publique de {len(key)} octets : une clé Ed25519 en fait 32")
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Vérifie hors ligne un export du journal d'audit (arbre de Merkle signé Ed25519).",
        epilog="Exemple :\n  python verifier.py audit-2026-11.jsonl --public-key cle-publique.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export", type=Path, help="Fichier d'export (JSON lines).")
    parser.add_argument("--public-key", required=True, help="Clé publique publiée (base64) ou fichier la contenant.")
    args = parser.parse_args(argv)
    try:
        public_key = read_public_key(args.public_key)
        lines = args.export.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as error:
        sys.stderr.write(f"Erreur : {error}\n")
        return 2
    try:
        summaries = verify_export(lines, public_key)
    except ExportInvalid as error:
        sys.stdout.write(f"ÉCHEC : {error}\n")
        return 1
    for name, summary in summaries.items():
        sys.stdout.write(f"{name} : {summary.entries} entrées, {len(summary.heads)} têtes signées, OK\n")
    sys.stdout.write(f"Export vérifié avec la clé {key_id(public_key)}.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
