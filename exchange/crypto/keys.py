"""The hub's signing key: created once, stored as PEM files, loaded after; verification by public key.

Files in `key_dir` (one pair per algorithm, so an SM2 and an Ed25519 key can coexist):

- ``hub-<algorithm>.key``: PKCS#8 PEM private key, unencrypted, mode 0600 (refused if group- or
  world-accessible, as ssh does);
- ``hub-<algorithm>.pub``: SubjectPublicKeyInfo PEM public key, the one to publish.

Key id: the first 16 hex characters of the digest of the public key's SubjectPublicKeyInfo DER,
SM3 for sm2 keys and SHA-256 for ed25519 keys (the same digest each suite uses for request hashes).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, get_args

from exchange.crypto import _ed25519, _sm2
from exchange.crypto.digests import Algorithm, digest_hex
from exchange.crypto.errors import SealError

__all__ = [
    "KEY_ID_LENGTH",
    "PublicKeyInfo",
    "Signer",
    "inspect_public_key",
    "load_or_create_signer",
    "verify_signature",
]

log = logging.getLogger(__name__)

KEY_ID_LENGTH = 16
_BACKENDS = {"sm2": _sm2, "ed25519": _ed25519}


class _PublicKey(Protocol):
    algorithm: str

    def spki_der(self) -> bytes: ...
    def verify(self, signature: bytes, data: bytes) -> bool: ...


class _PrivateKey(Protocol):
    algorithm: str

    def sign(self, data: bytes) -> bytes: ...
    def public_key(self) -> _PublicKey: ...


@dataclass(frozen=True)
class PublicKeyInfo:
    """What a public key PEM holds: its algorithm and the hub's key id for it."""

    algorithm: Algorithm
    key_id: str


class Signer:
    """The hub's private key: signs bytes and names itself by `key_id`. Never exposes the private key."""

    def __init__(self, private_key: _PrivateKey, *, source: str) -> None:
        self._private = private_key
        self._public = private_key.public_key()
        self.algorithm: Algorithm = private_key.algorithm  # type: ignore[assignment]
        self.key_id: str = _key_id(self._public)
        self._public_pem = _spki_pem(self._public.spki_der())
        self._source = source

    def public_key_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM: publish this so anyone can check seals offline."""
        return self._public_pem

    def sign(self, data: bytes) -> bytes:
        """Sign `data` (SM2: DER r,s over SM3(Z || data) with the default id; Ed25519: 64 bytes)."""
        return self._private.sign(data)

    def __repr__(self) -> str:
        return f"Signer(algorithm={self.algorithm!r}, key_id={self.key_id!r}, source={self._source!r})"


def load_or_create_signer(key_dir: Path, *, algorithm: Algorithm = "sm2") -> Signer:
    """Load the hub key for `algorithm` from `key_dir`, creating and storing a new pair on first use.

    Creation is safe when several processes (Airflow workers, the web app) start at once: the key is
    written to a private temporary file and hard-linked into place, so exactly one key wins and
    everybody loads it. Raises `SealError` when the private key file is readable by others, holds a
    key of another algorithm, or does not match the stored public key.
    """
    if algorithm not in get_args(Algorithm):
        raise SealError("algorithm", f"unknown signature algorithm {algorithm!r}; use 'sm2' or 'ed25519'")
    backend = _BACKENDS[algorithm]
    key_dir = Path(key_dir)
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path = key_dir / f"hub-{algorithm}.key"
    public_path = key_dir / f"hub-{algorithm}.pub"
    if not private_path.exists():
        _create_exclusively(private_path, backend.generate_private_pem())
        log.info("created a new %s hub key in %s", algorithm, private_path)
    _check_private_mode(private_path)
    signer = Signer(backend.load_private(private_path.read_bytes(), where=str(private_path)), source=str(private_path))
    _ensure_public_file(public_path, signer)
    return signer


def verify_signature(*, public_key_pem: str, algorithm: Algorithm, data: bytes, signature: bytes) -> bool:
    """True when `signature` over `data` verifies under the public key with `algorithm`.

    False for every signature that does not verify, including one checked against a key of the other
    algorithm; raises `SealError` only when `public_key_pem` is not a supported public key at all.
    """
    key = _load_public(public_key_pem)
    if key.algorithm != algorithm:
        return False
    return key.verify(bytes(signature), bytes(data))


def inspect_public_key(public_key_pem: str) -> PublicKeyInfo:
    """The algorithm and key id of a public key PEM (raises `SealError` if it is not sm2 or ed25519)."""
    key = _load_public(public_key_pem)
    return PublicKeyInfo(algorithm=key.algorithm, key_id=_key_id(key))  # type: ignore[arg-type]


@lru_cache(maxsize=64)
def _load_public(public_key_pem: str) -> _PublicKey:
    """Parse a public key PEM once (verification is on the hot path of the log verifier)."""
    data = public_key_pem.encode("ascii", "replace")
    key = _ed25519.load_public(data) or _sm2.load_public(data)
    if key is None:
        raise SealError(
            "public key",
            "not a SubjectPublicKeyInfo PEM of an SM2 or Ed25519 key; use the hub's published hub-<algorithm>.pub file",
        )
    return key


def _key_id(key: _PublicKey) -> str:
    """First 16 hex of SM3 (sm2) or SHA-256 (ed25519) over the SubjectPublicKeyInfo DER."""
    return digest_hex(key.spki_der(), algorithm=key.algorithm)[:KEY_ID_LENGTH]  # type: ignore[arg-type]


def _spki_pem(der: bytes) -> str:
    """PEM-armour SubjectPublicKeyInfo DER (64-character lines)."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def _create_exclusively(path: Path, content: bytes) -> None:
    """Write `content` to `path` with mode 0600 unless it already exists (then keep the existing one)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first: keep theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_private_mode(path: Path) -> None:
    """Refuse a private key file that group or others may read or write."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SealError(
            str(path),
            f"the hub's private key has mode {mode:04o}, readable by other users; "
            f"run `chmod 600 {path}` (and consider rotating the key)",
        )


def _ensure_public_file(path: Path, signer: Signer) -> None:
    """Write the public key beside the private one, or check that the stored one matches."""
    pem = signer.public_key_pem()
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        tmp.write_text(pem, encoding="ascii")
        os.replace(tmp, path)
        return
    stored = path.read_text(encoding="ascii", errors="replace")
    try:
        stored_id = inspect_public_key(stored).key_id
    except SealError:
        stored_id = None
    if stored_id != signer.key_id:
        raise SealError(
            str(path),
            f"this public key (key id {stored_id}) does not belong to the private key beside it "
            f"(key id {signer.key_id}); delete the .pub file to have it rewritten from the private key",
        )
