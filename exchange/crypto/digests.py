"""SM3 and SHA-256 hex digests, and the digest that goes with each signature algorithm."""

from __future__ import annotations

import hashlib
from typing import Literal

from cryptography.hazmat.primitives import hashes

__all__ = ["Algorithm", "digest_hex", "sha256_hex", "sm3_hex"]

Algorithm = Literal["sm2", "ed25519"]


def sm3_hex(data: bytes) -> str:
    """SM3 (GB/T 32905) of `data` as 64 lowercase hex characters (OpenSSL via `cryptography`)."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def sha256_hex(data: bytes) -> str:
    """SHA-256 of `data` as 64 lowercase hex characters."""
    return hashlib.sha256(data).hexdigest()


def digest_hex(data: bytes, *, algorithm: Algorithm) -> str:
    """The digest paired with a signature algorithm: SM3 for sm2 (国密 suite), SHA-256 for ed25519."""
    return sm3_hex(data) if algorithm == "sm2" else sha256_hex(data)
