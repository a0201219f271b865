"""SM2 signatures (GB/T 32918.2) with SM3, compiled: Tongsuo (OpenSSL 1.1.1 fork) via `tongsuopy`.

What is signed: for a message M (the canonical bytes), the signer computes
    Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)
with ID_A = b"1234567812345678" (GM/T 0009 default user id, ENTL_A = 0x0080 = its length in
bits), a/b/G the SM2 curve parameters and (x_A, y_A) the public key, all 32-byte big-endian; then
e = SM3(Z_A || M) and signs e. Tongsuo applies this preprocessing with that default id when no id
is set (tongsuopy exposes no way to set one); tests prove it by verifying with gmssl, which
hard-codes the same id, and by recomputing e independently.

Signature encoding: DER SEQUENCE { r INTEGER, s INTEGER } (GM/T 0009 SM2Signature), 70-72 bytes.
Keys: PKCS#8 / SubjectPublicKeyInfo with id-ecPublicKey and the SM2 curve OID 1.2.156.10197.1.301.
"""

from __future__ import annotations

from typing import Any

from exchange.crypto.errors import SealError

__all__ = ["SM2_N", "generate_private_pem", "load_private", "load_public", "parse_der_signature"]

SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123  # group order


def _tongsuo() -> tuple[Any, Any, Any, Any]:
    """Import tongsuopy lazily so `import exchange` works without it; fail with what to install."""
    try:
        from tongsuopy.crypto import exceptions, hashes, serialization
        from tongsuopy.crypto.asymciphers import ec
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise SealError(
            "tongsuopy",
            "SM2 needs the compiled Tongsuo binding; install it with `uv pip install tongsuopy` "
            "(or configure the hub key with algorithm='ed25519')",
        ) from e
    return ec, hashes, serialization, exceptions


def generate_private_pem() -> bytes:
    """A fresh SM2 private key as unencrypted PKCS#8 PEM."""
    ec, _, serialization, _ = _tongsuo()
    key = ec.generate_private_key(ec.SM2())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Sm2PrivateKey:
    """An SM2 private key that signs bytes (Z preprocessing with the default id, DER r,s)."""

    algorithm = "sm2"

    def __init__(self, key: Any) -> None:
        self._key = key
        self._ec, self._hashes, self._ser, _ = _tongsuo()

    def sign(self, data: bytes) -> bytes:
        """Sign `data` (the message M, not a digest)."""
        return bytes(self._key.sign(data, self._ec.ECDSA(self._hashes.SM3())))

    def public_key(self) -> Sm2PublicKey:
        """The matching public key."""
        return Sm2PublicKey(self._key.public_key())


class Sm2PublicKey:
    """An SM2 public key that verifies DER signatures over a message."""

    algorithm = "sm2"

    def __init__(self, key: Any) -> None:
        self._key = key
        self._ec, self._hashes, self._ser, self._exc = _tongsuo()

    def spki_der(self) -> bytes:
        """SubjectPublicKeyInfo DER (uncompressed point, named curve): the bytes key ids hash."""
        return bytes(self._key.public_bytes(self._ser.Encoding.DER, self._ser.PublicFormat.SubjectPublicKeyInfo))

    def point(self) -> bytes:
        """The uncompressed point 04 || x || y (65 bytes)."""
        return bytes(self._key.public_bytes(self._ser.Encoding.X962, self._ser.PublicFormat.UncompressedPoint))

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when `signature` is a strict-DER SM2 signature of `data` by this key."""
        if parse_der_signature(signature) is None:
            return False
        try:
            self._key.verify(signature, data, self._ec.ECDSA(self._hashes.SM3()))
        except self._exc.InvalidSignature:
            return False
        except self._exc.InternalError:  # Tongsuo reports undecodable signatures this way
            return False
        return True


def load_private(pem: bytes, *, where: str) -> Sm2PrivateKey:
    """Load a PKCS#8 PEM SM2 private key; `where` names the file in errors."""
    ec, _, serialization, exceptions = _tongsuo()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except exceptions.UnsupportedAlgorithm as e:
        raise SealError(where, "the private key is not an SM2 key; it cannot sign with algorithm 'sm2'") from e
    except (ValueError, TypeError) as e:
        raise SealError(where, f"not a readable unencrypted PEM private key ({e})") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
        raise SealError(where, "the private key is not an SM2 key; it cannot sign with algorithm 'sm2'")
    return Sm2PrivateKey(key)


def load_public(pem: bytes) -> Sm2PublicKey | None:
    """Load an SPKI PEM SM2 public key, or None when the PEM holds something else."""
    ec, _, serialization, exceptions = _tongsuo()
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, exceptions.UnsupportedAlgorithm):
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "SM2":
        return None
    return Sm2PublicKey(key)


def parse_der_signature(signature: bytes) -> tuple[int, int] | None:
    """(r, s) from a strict-DER SEQUENCE of two INTEGERs in [1, n-1], or None if it is anything else.

    Strictness matters: a lax decoder would accept several byte strings for one signature.
    """
    if len(signature) < 8 or signature[0] != 0x30 or signature[1] != len(signature) - 2:
        return None
    values: list[int] = []
    pos = 2
    for _ in range(2):
        if pos + 2 > len(signature) or signature[pos] != 0x02:
            return None
        length = signature[pos + 1]
        body = signature[pos + 2 : pos + 2 + length]
        if length == 0 or length > 33 or len(body) != length:
            return None
        if body[0] & 0x80 or (length > 1 and body[0] == 0 and not body[1] & 0x80):
            return None  # negative, or a superfluous leading zero
        value = int.from_bytes(body, "big")
        if not 1 <= value < SM2_N:
            return None
        values.append(value)
        pos += 2 + length
    if pos != len(signature):
        return None
    return values[0], values[1]
