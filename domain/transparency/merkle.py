"""RFC 9162 Merkle trees: hashes, tree heads, inclusion and consistency proofs.

Everything here follows RFC 9162 §2.1 to the letter so that anyone holding a copy of the
leaves can check hoso's tree heads with any Certificate Transparency tool:

* leaf hash ``SHA-256(0x00 ‖ leaf)``, interior node ``SHA-256(0x01 ‖ left ‖ right)``;
* ``root`` is MTH (§2.1.1), the empty tree's root being ``SHA-256("")``;
* ``inclusion_proof`` is PATH (§2.1.3.1), ``consistency_proof`` is PROOF (§2.1.4.1);
* ``verify_inclusion`` and ``verify_consistency`` are the client algorithms of §2.1.3.2
  and §2.1.4.2, step by step. They never raise: whatever arrives from outside, a malformed
  proof is just a proof that does not verify.

Three ways to compute, by cost:

* the module functions ``root``, ``inclusion_proof`` and ``consistency_proof`` take the
  whole list of leaf hashes and cost O(n) hashes each (about a second for a million
  leaves), with O(log n) extra memory;
* ``CompactRange`` keeps only the O(log n) roots of the perfect subtrees covering the
  leaves seen so far: appending costs amortised O(1) hashes and the current root O(log n).
  It is what a projection keeps to maintain the tree head as events arrive;
* ``MerkleTree`` keeps every complete interior node (n - 1 hashes, packed in bytearrays:
  about 64 MB for a million leaves including the leaves themselves) and answers a root,
  inclusion or consistency proof for the current or any earlier tree size in O(log² n)
  hashes; appending costs amortised O(1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

# Computes MTH of the leaves in [start, end): lets the proof recursions below be shared by
# the list-based functions and the stored-node tree, which differ only in how they get it.
SubtreeRoot = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1; O(n) hashes, O(log n) memory."""
    frontier = CompactRange()
    frontier.extend(leaf_hashes)
    return frontier.root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1, deepest sibling first; O(n) hashes."""
    _require_hashes(leaf_hashes)
    return _inclusion_path(_subtree_root_from(leaf_hashes), index, len(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1; O(n) hashes.

    Defined for 0 < old_size ≤ n; the proof between equal sizes is empty.
    """
    _require_hashes(leaf_hashes)
    return _consistency_path(_subtree_root_from(leaf_hashes), old_size, len(leaf_hashes))


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show leaf ``index`` of the tree with ``root``?"""
    try:
        if not (_is_size(index) and _is_size(tree_size) and index < tree_size):
            return False
        if not (_is_hash(leaf_hash) and _is_hash(root) and all(map(_is_hash, proof))):
            return False
        fn, sn = index, tree_size - 1
        r = bytes(leaf_hash)
        for p in proof:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                if not fn & 1:
                    while not fn & 1 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root
    except Exception:  # a verifier answers "no" to anything it cannot read
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (new_size, new_root) an extension of (old_size, old_root)?

    The RFC defines the check for 0 < old_size < new_size. Like the Go reference
    implementation, equal sizes are consistent exactly when the proof is empty and the
    roots are equal; an old size of 0 is rejected, since proving anything about an empty
    tree is meaningless and accepting it would let a forged first checkpoint pass.
    """
    try:
        if not (_is_size(old_size) and _is_size(new_size) and 0 < old_size <= new_size):
            return False
        if not (_is_hash(old_root) and _is_hash(new_root) and all(map(_is_hash, proof))):
            return False
        if old_size == new_size:
            return len(proof) == 0 and old_root == new_root
        if len(proof) == 0:
            return False
        path = [bytes(old_root), *proof] if old_size & (old_size - 1) == 0 else list(proof)
        fn, sn = old_size - 1, new_size - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = bytes(path[0])
        for c in path[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                if not fn & 1:
                    while not fn & 1 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return fr == old_root and sr == new_root and sn == 0
    except Exception:  # a verifier answers "no" to anything it cannot read
        return False


class CompactRange:
    """The right frontier of a growing tree: one root per perfect subtree, left to right.

    For n leaves it holds one hash per set bit of n (at most 64), largest subtree first,
    so it can be stored beside a projection's position and restored with
    ``CompactRange(size, peaks)``.
    """

    def __init__(self, size: int = 0, peaks: Iterable[bytes] = ()) -> None:
        peak_list = [bytes(peak) for peak in peaks]
        if not _is_size(size) or len(peak_list) != size.bit_count():
            raise ValueError("a compact range has one peak per set bit of its size")
        _require_hashes(peak_list)
        self._size = size
        self._peaks = peak_list

    @property
    def size(self) -> int:
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        return tuple(self._peaks)

    def append(self, leaf_hash: bytes) -> None:
        _require_hashes([leaf_hash])
        self._peaks.append(bytes(leaf_hash))
        # Each trailing 1 bit of the old size is a perfect subtree of the same height as
        # the one being completed, so they merge, exactly like carries in binary addition.
        carries = self._size
        while carries & 1:
            right = self._peaks.pop()
            left = self._peaks.pop()
            self._peaks.append(node_hash(left, right))
            carries >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for each in leaf_hashes:
            self.append(each)

    def root(self) -> bytes:
        """MTH of the leaves so far: RFC 9162 splits at the largest power of two, which is
        the leftmost peak, so the root is the peaks folded from the right."""
        if not self._peaks:
            return EMPTY_ROOT
        accumulated = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            accumulated = node_hash(peak, accumulated)
        return accumulated


class MerkleTree:
    """Leaves plus every complete interior node, for cheap proofs over a large log.

    ``levels[h]`` packs, 32 bytes each, the roots of the aligned perfect subtrees of 2**h
    leaves: ``levels[0]`` are the leaf hashes. Every subtree RFC 9162's recursions ask for
    is either such a perfect subtree or one ending at the tree size, whose root is the
    fold of O(log n) perfect ones; a proof has O(log n) of them, hence O(log² n) hashes.
    Memory is about 2n hashes (64 bytes a leaf).
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        for each in leaf_hashes:
            self.append(each)

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        _require_hashes([leaf_hash])
        self._levels[0] += leaf_hash
        self._size += 1
        height, count = 0, self._size
        # A level gains a node whenever its own count becomes even: its last two nodes
        # are then siblings whose parent is complete.
        while count % 2 == 0:
            if height + 1 == len(self._levels):
                self._levels.append(bytearray())
            level = self._levels[height]
            self._levels[height + 1] += node_hash(bytes(level[-64:-32]), bytes(level[-32:]))
            height += 1
            count //= 2

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for each in leaf_hashes:
            self.append(each)

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise IndexError(f"no leaf {index} in a tree of {self._size}")
        return self._node(0, index)

    def root(self, tree_size: int | None = None) -> bytes:
        size = self._checked_size(tree_size)
        return EMPTY_ROOT if size == 0 else self._subtree_root(0, size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        return _inclusion_path(self._subtree_root, index, self._checked_size(tree_size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return _consistency_path(self._subtree_root, old_size, self._checked_size(new_size))

    def hashes(self, height: int, first: int, count: int) -> bytes:
        """``count`` consecutive roots of the aligned perfect subtrees of 2**height leaves,
        from the ``first``-th, concatenated: what a tlog tile holds."""
        if height >= len(self._levels) and count == 0:
            return b""
        level = self._levels[height] if height < len(self._levels) else bytearray()
        if first < 0 or count < 0 or (first + count) * HASH_SIZE > len(level):
            raise IndexError(f"no {count} complete subtrees of height {height} from {first}")
        return bytes(level[first * HASH_SIZE : (first + count) * HASH_SIZE])

    def _checked_size(self, tree_size: int | None) -> int:
        if tree_size is None:
            return self._size
        if not 0 <= tree_size <= self._size:
            raise ValueError(f"tree size {tree_size} outside 0..{self._size}")
        return tree_size

    def _node(self, height: int, index: int) -> bytes:
        offset = index * HASH_SIZE
        return bytes(self._levels[height][offset : offset + HASH_SIZE])

    def _subtree_root(self, start: int, end: int) -> bytes:
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:
            return self._node(width.bit_length() - 1, start // width)
        split = start + _largest_power_of_two_below(width)
        return node_hash(self._subtree_root(start, split), self._subtree_root(split, end))


def _inclusion_path(subtree_root: SubtreeRoot, index: int, tree_size: int) -> list[bytes]:
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf {index} is not in a tree of {tree_size}")
    path: list[bytes] = []
    start, end = 0, tree_size
    # Walks down from the root, so siblings come out top first; the RFC lists them
    # bottom first.
    while end - start > 1:
        split = start + _largest_power_of_two_below(end - start)
        if index < split:
            path.append(subtree_root(split, end))
            end = split
        else:
            path.append(subtree_root(start, split))
            start = split
    path.reverse()
    return path


def _consistency_path(subtree_root: SubtreeRoot, old_size: int, tree_size: int) -> list[bytes]:
    if not 0 < old_size <= tree_size:
        raise ValueError(f"no consistency proof from size {old_size} to {tree_size}")
    path: list[bytes] = []
    start, end = 0, tree_size
    # SUBPROOF's flag b: whether the subtree in hand is still a prefix of the old tree,
    # whose root the verifier already knows and need not be sent.
    whole_old_tree_prefix = True
    while old_size != end:
        split = start + _largest_power_of_two_below(end - start)
        if old_size <= split:
            path.append(subtree_root(split, end))
            end = split
        else:
            path.append(subtree_root(start, split))
            start = split
            whole_old_tree_prefix = False
    if not whole_old_tree_prefix:
        path.append(subtree_root(start, end))
    path.reverse()
    return path


def _subtree_root_from(leaf_hashes: Sequence[bytes]) -> SubtreeRoot:
    def subtree_root(start: int, end: int) -> bytes:
        # Index rather than slice, so that no copy of a large list is made.
        frontier = CompactRange()
        frontier.extend(leaf_hashes[i] for i in range(start, end))
        return frontier.root()

    return subtree_root


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _require_hashes(hashes: Iterable[bytes]) -> None:
    if not all(map(_is_hash, hashes)):
        raise ValueError(f"Merkle tree hashes are {HASH_SIZE}-byte SHA-256 digests")
