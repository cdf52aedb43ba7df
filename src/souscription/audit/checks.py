"""Verifying a database's whole log: every leaf recomputed, the sequence without gaps, every head's signature and
root checked against the entries. Reads only; reports the first problem with the entry number or head size."""

from __future__ import annotations

from dataclasses import dataclass

from souscription.audit import merkle
from souscription.audit.keys import signing_key
from souscription.audit.models import AuditEntry, TreeHead
from souscription.audit.services import entry_fields, utc_text
from souscription.audit.verifier import entry_leaf_hash, signature_is_valid, tree_head_message


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    sequence: int | None = None
    head_size: int | None = None


@dataclass(frozen=True)
class Report:
    database: str
    entries: int
    heads: int
    unsigned: int  # entries after the last signed head
    problem: Finding | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(database: str) -> Report:
    leaves: list[bytes] = []
    problem = _check_entries(database, leaves)
    heads = list(TreeHead.objects.using(database).order_by("size"))
    if problem is None:
        problem = _check_heads(database, heads, merkle.Tree(leaves))
    last_size = heads[-1].size if heads else 0
    return Report(database, len(leaves), len(heads), max(len(leaves) - last_size, 0), problem)


def _check_entries(database: str, leaves: list[bytes]) -> Finding | None:
    """Fills `leaves` with the recomputed leaf hashes, whatever is stored, and returns the first problem."""
    problem: Finding | None = None
    for entry in AuditEntry.objects.using(database).order_by("sequence").iterator():
        expected = len(leaves) + 1
        leaf = entry_leaf_hash(entry_fields(database, entry))
        leaves.append(leaf)
        if problem is not None:
            continue
        if entry.sequence != expected:
            problem = Finding(
                "entry_missing",
                f"entrée n° {expected} absente (la suivante porte le n° {entry.sequence})",
                sequence=expected,
            )
        elif leaf.hex() != entry.leaf_hash:
            problem = Finding(
                "entry_altered",
                f"entrée n° {entry.sequence} modifiée : son contenu ne correspond plus à son empreinte",
                sequence=entry.sequence,
            )
    return problem


def _check_heads(database: str, heads: list[TreeHead], tree: merkle.Tree) -> Finding | None:
    key = signing_key()
    for head in heads:
        message = tree_head_message(
            database=database, size=head.size, root=head.root_hash, signed_at=utc_text(head.signed_at)
        )
        if head.key_id != key.key_id or not signature_is_valid(key.public, message, bytes.fromhex(head.signature)):
            return Finding(
                "head_signature_invalid",
                f"tête de taille {head.size} : signature invalide ou d'une autre clé que {key.key_id}",
                head_size=head.size,
            )
        if head.size > len(tree):
            return Finding(
                "log_truncated",
                f"tête de taille {head.size} : le journal n'a plus que {len(tree)} entrées (fin du journal supprimée)",
                head_size=head.size,
            )
        if tree.root(head.size).hex() != head.root_hash:
            return Finding(
                "head_mismatch",
                f"tête de taille {head.size} : les entrées 1 à {head.size} ne donnent plus sa racine "
                "(entrées modifiées, réordonnées ou remplacées)",
                head_size=head.size,
            )
    return None
