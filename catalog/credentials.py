"""Secrets at rest: salted scrypt hashes, compared in constant time (department keys, monitor admins)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_secret", "secret_matches"]

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$<salt hex>$<hash hex>`; a fresh random salt unless one is given."""
    return _hash(secret, salt=salt or secrets.token_bytes(16), n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)


def secret_matches(secret: str, stored: str) -> bool:
    """True when `secret` hashes to `stored`; a malformed stored value never matches (raises ValueError)."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    candidate = _hash(secret, salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.rsplit("$", 1)[1], digest)


def _hash(secret: str, *, salt: bytes, n: int, r: int, p: int) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"
