"""The hub key: sign/verify with both algorithms, persistence, file modes, key ids."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from exchange.crypto import (
    SealError,
    inspect_public_key,
    load_or_create_signer,
    sm3_hex,
    verify_signature,
)
from exchange.crypto.keys import _create_exclusively

ALGORITHMS = [pytest.param("sm2", id="sm2"), pytest.param("ed25519", id="ed25519")]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_verify_roundtrip(tmp_path: Path, algorithm: str) -> None:
    signer = load_or_create_signer(tmp_path, algorithm=algorithm)
    data = "核验结果：正常".encode()
    signature = signer.sign(data)
    pem = signer.public_key_pem()
    assert verify_signature(public_key_pem=pem, algorithm=algorithm, data=data, signature=signature)
    assert not verify_signature(public_key_pem=pem, algorithm=algorithm, data=data + b"!", signature=signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verify_signature(public_key_pem=pem, algorithm=algorithm, data=data, signature=flipped)
    assert not verify_signature(public_key_pem=pem, algorithm=algorithm, data=data, signature=b"")


def test_signature_formats(tmp_path: Path) -> None:
    sm2 = load_or_create_signer(tmp_path, algorithm="sm2")
    sig = sm2.sign(b"x")
    assert sig[0] == 0x30 and sig[1] == len(sig) - 2 and 70 <= len(sig) <= 72  # DER SEQUENCE {r, s}
    assert len(load_or_create_signer(tmp_path, algorithm="ed25519").sign(b"x")) == 64


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_key_persists_and_key_id_is_stable(tmp_path: Path, algorithm: str) -> None:
    first = load_or_create_signer(tmp_path / "keys", algorithm=algorithm)
    second = load_or_create_signer(tmp_path / "keys", algorithm=algorithm)
    assert first.key_id == second.key_id
    assert first.public_key_pem() == second.public_key_pem()
    assert (tmp_path / "keys" / f"hub-{algorithm}.pub").read_text() == first.public_key_pem()
    # a signature by the first instance verifies with the reloaded key
    assert verify_signature(
        public_key_pem=second.public_key_pem(), algorithm=algorithm, data=b"d", signature=first.sign(b"d")
    )
    other = load_or_create_signer(tmp_path / "other", algorithm=algorithm)
    assert other.key_id != first.key_id


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_private_key_file_mode_is_0600(tmp_path: Path, algorithm: str) -> None:
    old_umask = os.umask(0o000)  # even a permissive umask must not widen the private key's mode
    try:
        load_or_create_signer(tmp_path, algorithm=algorithm)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / f"hub-{algorithm}.key").stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*.tmp")), "temporary key files are cleaned up"


def test_readable_private_key_is_refused(tmp_path: Path) -> None:
    load_or_create_signer(tmp_path, algorithm="ed25519")
    (tmp_path / "hub-ed25519.key").chmod(0o644)
    with pytest.raises(SealError, match=r"mode 0644, readable by other users; run `chmod 600"):
        load_or_create_signer(tmp_path, algorithm="ed25519")


def test_key_id_rule(tmp_path: Path) -> None:
    for algorithm, digest in (("sm2", sm3_hex), ("ed25519", lambda b: hashlib.sha256(b).hexdigest())):
        signer = load_or_create_signer(tmp_path, algorithm=algorithm)
        body = "".join(signer.public_key_pem().strip().splitlines()[1:-1])
        der = base64.b64decode(body)
        assert signer.key_id == digest(der)[:16]
        info = inspect_public_key(signer.public_key_pem())
        assert (info.algorithm, info.key_id) == (algorithm, signer.key_id)


def test_both_algorithms_coexist_in_one_dir(tmp_path: Path) -> None:
    sm2 = load_or_create_signer(tmp_path, algorithm="sm2")
    ed = load_or_create_signer(tmp_path, algorithm="ed25519")
    assert sm2.algorithm == "sm2" and ed.algorithm == "ed25519"
    # a key of the other algorithm never verifies
    sig = sm2.sign(b"m")
    assert not verify_signature(public_key_pem=ed.public_key_pem(), algorithm="sm2", data=b"m", signature=sig)
    assert not verify_signature(public_key_pem=sm2.public_key_pem(), algorithm="ed25519", data=b"m", signature=sig)


def test_wrong_key_type_in_file_is_refused(tmp_path: Path) -> None:
    load_or_create_signer(tmp_path, algorithm="ed25519")
    (tmp_path / "hub-ed25519.key").replace(tmp_path / "hub-sm2.key")
    with pytest.raises(SealError, match="not an SM2 key"):
        load_or_create_signer(tmp_path, algorithm="sm2")


def test_mismatched_public_file_is_refused(tmp_path: Path) -> None:
    load_or_create_signer(tmp_path / "a", algorithm="sm2")
    load_or_create_signer(tmp_path / "b", algorithm="sm2")
    (tmp_path / "b" / "hub-sm2.pub").replace(tmp_path / "a" / "hub-sm2.pub")
    with pytest.raises(SealError, match="does not belong to the private key beside it"):
        load_or_create_signer(tmp_path / "a", algorithm="sm2")


def test_missing_public_file_is_rewritten(tmp_path: Path) -> None:
    signer = load_or_create_signer(tmp_path, algorithm="sm2")
    (tmp_path / "hub-sm2.pub").unlink()
    assert load_or_create_signer(tmp_path, algorithm="sm2").key_id == signer.key_id
    assert (tmp_path / "hub-sm2.pub").read_text() == signer.public_key_pem()


def test_concurrent_creation_keeps_the_first_key(tmp_path: Path) -> None:
    target = tmp_path / "hub-x.key"
    _create_exclusively(target, b"first")
    _create_exclusively(target, b"second")  # the loser of a race must not overwrite
    assert target.read_bytes() == b"first"


def test_unknown_algorithm_and_bad_pem() -> None:
    with pytest.raises(SealError, match="unknown signature algorithm 'rsa'"):
        load_or_create_signer(Path("/nonexistent"), algorithm="rsa")  # type: ignore[arg-type]
    with pytest.raises(SealError, match="not a SubjectPublicKeyInfo PEM of an SM2 or Ed25519 key"):
        verify_signature(public_key_pem="garbage", algorithm="sm2", data=b"", signature=b"")


def test_repr_names_no_secret(tmp_path: Path) -> None:
    signer = load_or_create_signer(tmp_path, algorithm="sm2")
    assert "PRIVATE" not in repr(signer) and signer.key_id in repr(signer)
