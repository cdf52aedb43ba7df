"""RFC 6962 Merkle tree: the certificate-transparency test vectors, then properties over trees of 1 to 40 leaves.

Vectors: transparency-dev/merkle (`testonly/constants.go`, `proof/verify_test.go`), leaves and expected hashes
computed by that project independently of this code.
"""

from __future__ import annotations

import hashlib

import pytest

from souscription.audit import merkle

LEAF_INPUTS = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")] + [
    bytes.fromhex("606162636465666768696a6b6c6d6e6f")
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
VECTOR_TREE = merkle.Tree([merkle.leaf_hash(data) for data in LEAF_INPUTS])


def hexes(proof: list[bytes]) -> list[str]:
    return [node.hex() for node in proof]


def leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entrée {i}".encode()) for i in range(count)]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_the_tree_hash_matches_the_rfc_6962_vectors(size: int) -> None:
    assert VECTOR_TREE.root(size).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_vectors_and_verify(index: int, size: int, proof: list[str]) -> None:
    assert hexes(VECTOR_TREE.inclusion_proof(index, size)) == proof
    leaf = merkle.leaf_hash(LEAF_INPUTS[index])
    assert merkle.verify_inclusion(index, size, leaf, [bytes.fromhex(p) for p in proof], bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors_and_verify(old: int, new: int, proof: list[str]) -> None:
    assert hexes(VECTOR_TREE.consistency_proof(old, new)) == proof
    nodes = [bytes.fromhex(p) for p in proof]
    assert merkle.verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), nodes)
    assert not merkle.verify_consistency(old, new, bytes.fromhex(ROOTS[new]), bytes.fromhex(ROOTS[old]), nodes)


@pytest.mark.parametrize("size", range(1, 41))
def test_every_leaf_of_trees_of_1_to_40_leaves_is_proved_and_no_other_leaf_or_index_is(size: int) -> None:
    tree = merkle.Tree(leaves(size))
    root = tree.root()
    stranger = merkle.leaf_hash(b"intrus")
    for index, leaf in enumerate(leaves(size)):
        proof = tree.inclusion_proof(index)
        assert merkle.verify_inclusion(index, size, leaf, proof, root)
        assert not merkle.verify_inclusion(index, size, stranger, proof, root)
        assert not merkle.verify_inclusion(index + 1, size, leaf, proof, root)
        if index:
            assert not merkle.verify_inclusion(index - 1, size, leaf, proof, root)
        assert not merkle.verify_inclusion(index, size * 2, leaf, proof, root)
        if proof:
            flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
            assert not merkle.verify_inclusion(index, size, leaf, flipped, root)
            assert not merkle.verify_inclusion(index, size, leaf, proof[:-1], root)


@pytest.mark.parametrize("size", range(1, 41))
def test_every_older_tree_is_consistent_with_a_grown_one_and_not_with_a_rewritten_one(size: int) -> None:
    tree = merkle.Tree(leaves(size))
    rewritten = merkle.Tree([merkle.leaf_hash(b"autre"), *leaves(size)[1:]])
    for old in range(size + 1):
        proof = tree.consistency_proof(old)
        assert merkle.verify_consistency(old, size, tree.root(old), tree.root(), proof)
        if 0 < old < size:
            assert not merkle.verify_consistency(old, size, rewritten.root(old), tree.root(), proof)
            assert not merkle.verify_consistency(old, size, tree.root(old), rewritten.root(), proof)


def test_the_compact_frontier_gives_the_same_root_as_the_whole_tree_at_every_size() -> None:
    frontier: list[bytes] = []
    all_leaves = leaves(70)
    for size, leaf in enumerate(all_leaves):
        assert merkle.frontier_root(frontier) == merkle.Tree(all_leaves[:size]).root()
        frontier = merkle.frontier_append(frontier, size, leaf)
        assert len(frontier) == bin(size + 1).count("1")
    assert merkle.frontier_root(frontier) == merkle.Tree(all_leaves).root()


def test_the_empty_tree_hashes_to_the_hash_of_nothing() -> None:
    assert merkle.Tree([]).root() == hashlib.sha256(b"").digest()
