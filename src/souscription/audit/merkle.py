"""RFC 6962 Merkle tree: tree hash, inclusion and consistency proofs, and an append-only compact form. Pure.

Proofs are generated here and verified by the published verifier (`audit/verifier.py`), whose functions this
module re-exports: one implementation of the checks, the one an auditor runs, and a second, independent one of the
proofs (RFC 6962 §2.1's recursive definitions), so each tests the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from souscription.audit.verifier import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "Tree",
    "frontier_append",
    "frontier_root",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size >= 2): where RFC 6962 cuts a tree in two."""
    return 1 << ((size - 1).bit_length() - 1)


class Tree:
    """The tree over a list of leaf hashes. Subtree hashes are memoized by range: every range a proof needs is a
    node of the tree, so all the proofs of an export cost one pass over the leaves, not one each."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._leaves = list(leaves)
        self._nodes: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._leaves)

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]) of RFC 6962 §2.1; the whole tree by default."""
        size = len(self._leaves) if size is None else size
        self._check_size(size)
        return self._hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1."""
        size = len(self._leaves) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 6962 §2.1.2."""
        size = len(self._leaves) if size is None else size
        self._check_size(size)
        if not 0 <= old_size <= size:
            raise ValueError(f"no consistency proof from {old_size} to {size} leaves")
        if old_size in (0, size):
            return []
        return self._subproof(old_size, 0, size, complete=True)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self._leaves):
            raise ValueError(f"the tree has {len(self._leaves)} leaves, not {size}")

    def _hash(self, low: int, high: int) -> bytes:
        if high - low == 1:
            return self._leaves[low]
        cached = self._nodes.get((low, high))
        if cached is None:
            middle = low + _split(high - low)
            cached = self._nodes[(low, high)] = node_hash(self._hash(low, middle), self._hash(middle, high))
        return cached

    def _path(self, index: int, low: int, high: int) -> list[bytes]:
        if high - low == 1:
            return []
        middle = low + _split(high - low)
        if index < middle:
            return [*self._path(index, low, middle), self._hash(middle, high)]
        return [*self._path(index, middle, high), self._hash(low, middle)]

    def _subproof(self, old_size: int, low: int, high: int, *, complete: bool) -> list[bytes]:
        if old_size == high - low:
            return [] if complete else [self._hash(low, high)]
        middle = _split(high - low)
        if old_size <= middle:
            return [*self._subproof(old_size, low, low + middle, complete=complete), self._hash(low + middle, high)]
        return [
            *self._subproof(old_size - middle, low + middle, high, complete=False),
            self._hash(low, low + middle),
        ]


def frontier_append(frontier: Sequence[bytes], size: int, leaf: bytes) -> list[bytes]:
    """The compact form of a tree after one more leaf.

    A tree of `size` leaves is a row of perfect subtrees, one per bit set in `size`, largest first; their roots
    (the frontier) are all a tree head needs to extend the log by new leaves without reading the old ones."""
    hashes, carried, remaining = list(frontier), leaf, size
    while remaining & 1:
        carried = node_hash(hashes.pop(), carried)
        remaining >>= 1
    hashes.append(carried)
    return hashes


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """MTH of the tree a frontier stands for: its subtrees folded from the right, as RFC 6962 splits."""
    if not frontier:
        return EMPTY_ROOT
    result = frontier[-1]
    for subtree in reversed(frontier[:-1]):
        result = node_hash(subtree, result)
    return result
