"""RFC 9162 Merkle trees against the published Certificate Transparency vectors, against an
oracle written straight from the RFC's recursive definitions, and against corrupted proofs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from domain.transparency.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# The 8-leaf vector set of RFC 6962 implementations, as published in
# transparency-dev/merkle (testonly/constants.go and testdata/*/happy-path.json), itself
# carried over from the Certificate Transparency C++ and Go suites.
LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f")]
LEAF_HASHES = [leaf_hash(leaf) for leaf in LEAVES]
ROOTS = [EMPTY_ROOT, *(h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
))]
PUBLISHED_LEAF_HASHES = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
)]

# (index, tree size, proof), from transparency-dev/merkle testdata/inclusion/*/happy-path.
PUBLISHED_INCLUSION = [
    (0, 1, []),
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
]

# (old size, new size, proof), from transparency-dev/merkle testdata/consistency/*/happy-path.
PUBLISHED_CONSISTENCY = [
    (1, 1, []),
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
]


# An oracle written from the recursive definitions of RFC 9162 §2.1.1, §2.1.3.1 and
# §2.1.4.1, slicing lists as the RFC does, to check the iterative code against.
def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = largest_power_of_two_below(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = largest_power_of_two_below(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = largest_power_of_two_below(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


MAX_SIZE = 32
TREE = MerkleTree(leaves(MAX_SIZE))


def test_leaf_and_node_hashing_use_the_rfc_domain_separation() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert LEAF_HASHES == PUBLISHED_LEAF_HASHES


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_vectors(size: int) -> None:
    assert root(LEAF_HASHES[:size]) == ROOTS[size]
    assert MerkleTree(LEAF_HASHES).root(size) == ROOTS[size]
    frontier = CompactRange()
    frontier.extend(LEAF_HASHES[:size])
    assert frontier.root() == ROOTS[size]


def test_the_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(("index", "size", "published"), PUBLISHED_INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(
    index: int, size: int, published: list[str]
) -> None:
    expected = [h(x) for x in published]
    assert inclusion_proof(LEAF_HASHES[:size], index) == expected
    assert MerkleTree(LEAF_HASHES).inclusion_proof(index, size) == expected
    assert verify_inclusion(LEAF_HASHES[index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "published"), PUBLISHED_CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(
    old: int, new: int, published: list[str]
) -> None:
    expected = [h(x) for x in published]
    assert consistency_proof(LEAF_HASHES[:new], old) == expected
    assert MerkleTree(LEAF_HASHES).consistency_proof(old, new) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


def test_published_single_entry_vectors() -> None:
    # testdata/inclusion/single-entry: a one-leaf tree's root is its leaf hash, proof empty.
    only = h("0d3aed023148ffd2a259fbd0cdc7fb3cf975658760d3775b82af6f90aacc2dfc")
    assert verify_inclusion(only, 0, 1, [], only)
    assert not verify_inclusion(b"", 0, 1, [], only)
    assert not verify_inclusion(only, 0, 1, [], b"")


def test_published_degenerate_cases_are_rejected() -> None:
    # testdata/inclusion/additional and testdata/consistency/additional.
    random = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(random, index, size, [], EMPTY_ROOT)
        assert not verify_inclusion(random, index, size, [], b"")
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 1, EMPTY_ROOT, ROOTS[1], [])
    assert not verify_consistency(1, 0, ROOTS[1], EMPTY_ROOT, [])
    assert not verify_consistency(2, 1, ROOTS[2], ROOTS[1], [])
    assert not verify_consistency(1, 1, ROOTS[1], ROOTS[2], [])
    assert not verify_consistency(1, 1, ROOTS[1], ROOTS[1], [ROOTS[1]])
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])
    # The Go suite accepts equal sizes with equal 12-byte "roots"; hashes here are always
    # 32 bytes, so that case is rejected on purpose.
    assert not verify_consistency(1, 1, b"don't care 2", b"don't care 2", [])


def test_the_iterative_code_agrees_with_the_rfc_recursions() -> None:
    hashes = leaves(MAX_SIZE)
    for n in range(1, MAX_SIZE + 1):
        assert root(hashes[:n]) == mth(hashes[:n]) == TREE.root(n)
        for m in range(n):
            assert inclusion_proof(hashes[:n], m) == path(m, hashes[:n])
            assert TREE.inclusion_proof(m, n) == path(m, hashes[:n])
        for m in range(1, n + 1):
            assert consistency_proof(hashes[:n], m) == subproof(m, hashes[:n], True)
            assert TREE.consistency_proof(m, n) == subproof(m, hashes[:n], True)


def corruptions(proof: list[bytes]) -> list[list[bytes]]:
    """Every way the issue names of spoiling a proof: a flipped bit in any element, one
    element missing or extra at either end, two neighbours swapped."""
    spoiled: list[list[bytes]] = []
    for i, element in enumerate(proof):
        for bit in (0, 7 * 8 + 3, 255):
            flipped = bytearray(element)
            flipped[bit // 8] ^= 1 << (bit % 8)
            spoiled.append([*proof[:i], bytes(flipped), *proof[i + 1:]])
        spoiled.append(proof[:i] + proof[i + 1:])
    spoiled += [[*proof, EMPTY_ROOT], [EMPTY_ROOT, *proof], [*proof, proof[-1]] if proof else []]
    spoiled += [
        [*proof[:i], proof[i + 1], proof[i], *proof[i + 2:]]
        for i in range(len(proof) - 1) if proof[i] != proof[i + 1]
    ]
    return [each for each in spoiled if each != proof]


def flip(hash_: bytes) -> bytes:
    return bytes([hash_[0] ^ 0x80, *hash_[1:]])


def test_every_inclusion_proof_verifies_and_every_corruption_fails() -> None:
    hashes = leaves(MAX_SIZE)
    for n in range(1, MAX_SIZE + 1):
        tree_root = TREE.root(n)
        for m in range(n):
            proof = TREE.inclusion_proof(m, n)
            assert verify_inclusion(hashes[m], m, n, proof, tree_root)
            assert not verify_inclusion(flip(hashes[m]), m, n, proof, tree_root)
            assert not verify_inclusion(hashes[m], m, n, proof, flip(tree_root))
            for other_index in (m - 1, m + 1, m ^ 2):
                assert not verify_inclusion(hashes[m], other_index, n, proof, tree_root)
            # An RFC 9162 proof does not commit to the tree size where two sizes give the
            # leaf the same path (leaf 0 of 3 or of 4 leaves): the signed checkpoint binds
            # the size to the root. Any size whose path differs in length must fail.
            for other_size in (n - 1, n + 1, n * 2, n // 2):
                if m < other_size <= MAX_SIZE and other_size != n and len(
                    TREE.inclusion_proof(m, other_size)
                ) != len(proof):
                    assert not verify_inclusion(hashes[m], m, other_size, proof, tree_root)
            for spoiled in corruptions(proof):
                assert not verify_inclusion(hashes[m], m, n, spoiled, tree_root), (m, n)


def test_every_consistency_proof_verifies_and_every_corruption_fails() -> None:
    for n in range(1, MAX_SIZE + 1):
        new_root = TREE.root(n)
        for m in range(1, n + 1):
            old_root = TREE.root(m)
            proof = TREE.consistency_proof(m, n)
            assert verify_consistency(m, n, old_root, new_root, proof)
            assert not verify_consistency(m, n, flip(old_root), new_root, proof)
            assert not verify_consistency(m, n, old_root, flip(new_root), proof)
            assert not verify_consistency(n, m, new_root, old_root, proof) or m == n
            for other_old in (m - 1, m + 1):
                if 0 < other_old <= n:
                    assert not verify_consistency(other_old, n, old_root, new_root, proof)
            for other_new in (n - 1, n + 1, n * 2):
                if m <= other_new <= MAX_SIZE and other_new != n and len(
                    TREE.consistency_proof(m, other_new)
                ) != len(proof):
                    assert not verify_consistency(m, other_new, old_root, new_root, proof)
            for spoiled in corruptions(proof):
                assert not verify_consistency(m, n, old_root, new_root, spoiled), (m, n)


@pytest.mark.parametrize("garbage", [
    None, "text", -1, 2**70, [b"x"], [None], [b"\x00" * 31], [b"\x00" * 33],
])
def test_verifiers_never_raise_on_malformed_input(garbage: object) -> None:
    proof = TREE.inclusion_proof(3, 8)
    nasty: object = garbage
    assert not verify_inclusion(nasty, 3, 8, proof, TREE.root(8))  # type: ignore[arg-type]
    assert not verify_inclusion(LEAF_HASHES[0], nasty, 8, proof, ROOTS[8])  # type: ignore[arg-type]
    assert not verify_inclusion(LEAF_HASHES[0], 0, 8, nasty, ROOTS[8])  # type: ignore[arg-type]
    assert not verify_consistency(nasty, 8, ROOTS[6], ROOTS[8], proof)  # type: ignore[arg-type]
    assert not verify_consistency(6, 8, ROOTS[6], nasty, proof)  # type: ignore[arg-type]
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], nasty)  # type: ignore[arg-type]


def test_proof_generators_reject_impossible_requests() -> None:
    for bad_index in (-1, 8):
        with pytest.raises(ValueError):
            inclusion_proof(LEAF_HASHES, bad_index)
    for bad_old in (0, 9):
        with pytest.raises(ValueError):
            consistency_proof(LEAF_HASHES, bad_old)
    with pytest.raises(ValueError):
        MerkleTree(LEAF_HASHES).root(9)
    with pytest.raises(ValueError):
        root([b"short"])


def test_a_compact_range_is_small_and_can_be_stored_and_restored() -> None:
    hashes = leaves(1000)
    frontier = CompactRange()
    for n, each in enumerate(hashes, start=1):
        frontier.append(each)
        assert len(frontier.peaks) == n.bit_count()
    restored = CompactRange(frontier.size, frontier.peaks)
    restored.append(leaf_hash(b"next"))
    assert restored.root() == root([*hashes, leaf_hash(b"next")])
    with pytest.raises(ValueError):
        CompactRange(3, frontier.peaks[:1])


def test_a_growing_tree_proves_old_sizes_against_new_ones() -> None:
    hashes = leaves(300)
    tree = MerkleTree()
    for n, each in enumerate(hashes, start=1):
        tree.append(each)
        if n % 37 == 0:
            old = n // 3 + 1
            proof = tree.consistency_proof(old)
            assert verify_consistency(old, n, root(hashes[:old]), tree.root(), proof)
            assert tree.leaf_hash(old) == hashes[old]
    assert tree.root() == root(hashes)
