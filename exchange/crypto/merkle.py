"""Merkle trees for batch seals: RFC 9162 (Certificate Transparency 2.0) tree shape and inclusion proofs.

One signature over the root vouches for every leaf; each leaf carries its audit path. Hashing uses
domain separation so a leaf can never pass for an inner node: ``leaf = H(0x00 ‖ data)``,
``node = H(0x01 ‖ left ‖ right)``; a tree of n leaves splits at the largest power of two below n
(RFC 9162 §2.1.1), so a tree of one has root = leaf hash and an empty path. H is SM3 for sm2
seals and SHA-256 for ed25519 seals (the digest paired with the signature, as everywhere else).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from exchange.crypto.digests import Algorithm

__all__ = ["inclusion_proofs", "leaf_hash", "node_hash", "root_from_path"]

_LEAF, _NODE = b"\x00", b"\x01"


def _hasher(algorithm: Algorithm) -> str:
    return "sm3" if algorithm == "sm2" else "sha256"


def _digest(data: bytes, algorithm: Algorithm) -> bytes:
    try:
        return hashlib.new(_hasher(algorithm), data).digest()
    except ValueError:  # an OpenSSL build without SM3 in hashlib: the `cryptography` one has it
        from cryptography.hazmat.primitives import hashes

        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()


def leaf_hash(data: bytes, *, algorithm: Algorithm) -> bytes:
    """H(0x00 ‖ data): the hash of one leaf."""
    return _digest(_LEAF + data, algorithm)


def node_hash(left: bytes, right: bytes, *, algorithm: Algorithm) -> bytes:
    """H(0x01 ‖ left ‖ right): the hash of an inner node."""
    return _digest(_NODE + left + right, algorithm)


def inclusion_proofs(leaves: Sequence[bytes], *, algorithm: Algorithm) -> tuple[bytes, list[list[bytes]]]:
    """(root, audit path of each leaf) for leaf hashes `leaves`; paths are ordered leaf-side first.

    O(n log n) in all: each subtree's root is computed once and appended to the paths of the
    leaves on the other side of its split.
    """
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    paths: list[list[bytes]] = [[] for _ in leaves]

    def build(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaves[lo]
        k = 1 << ((hi - lo - 1).bit_length() - 1)  # largest power of two < size
        left, right = build(lo, lo + k), build(lo + k, hi)
        for i in range(lo, lo + k):
            paths[i].append(right)
        for i in range(lo + k, hi):
            paths[i].append(left)
        return node_hash(left, right, algorithm=algorithm)

    return build(0, len(leaves)), paths


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes], *, algorithm: Algorithm) -> bytes | None:
    """The root that `path` proves for the leaf at `index` of a tree of `size` (RFC 9162 §2.1.3.2); None if the
    path has the wrong length for that position."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r, algorithm=algorithm)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p, algorithm=algorithm)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None
