"""Ed25519 signatures (RFC 8032, pure Ed25519 over the message) via the `cryptography` package."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from exchange.crypto.errors import SealError

__all__ = ["generate_private_pem", "load_private", "load_public"]


def generate_private_pem() -> bytes:
    """A fresh Ed25519 private key as unencrypted PKCS#8 PEM."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Ed25519PrivateKey:
    """An Ed25519 private key that signs bytes (64-byte raw R || S signatures)."""

    algorithm = "ed25519"

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    def sign(self, data: bytes) -> bytes:
        """Sign `data`."""
        return self._key.sign(data)

    def public_key(self) -> Ed25519PublicKey:
        """The matching public key."""
        return Ed25519PublicKey(self._key.public_key())


class Ed25519PublicKey:
    """An Ed25519 public key that verifies signatures over a message."""

    algorithm = "ed25519"

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        self._key = key

    def spki_der(self) -> bytes:
        """SubjectPublicKeyInfo DER (44 bytes): the bytes key ids hash."""
        return self._key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when `signature` is a valid Ed25519 signature of `data` by this key."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def load_private(pem: bytes, *, where: str) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 private key; `where` names the file in errors."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise SealError(where, f"not a readable unencrypted PEM Ed25519 private key ({e})") from e
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SealError(where, "the private key is not an Ed25519 key; it cannot sign with algorithm 'ed25519'")
    return Ed25519PrivateKey(key)


def load_public(pem: bytes) -> Ed25519PublicKey | None:
    """Load an SPKI PEM Ed25519 public key, or None when the PEM holds something else."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return None
    return Ed25519PublicKey(key)
