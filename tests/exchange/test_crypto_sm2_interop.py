"""SM2/SM3 interoperability: the hub (Tongsuo, compiled) and gmssl (independent, pure Python) agree.

gmssl hard-codes the GM/T 0009 default user id "1234567812345678" in its Z computation, so mutual
verification proves the hub signs SM3(Z || M) with that id; a third check recomputes e = SM3(Z || M)
from the curve constants here and verifies the raw (r, s) against e with gmssl's bare verify.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

pytest.importorskip("gmssl", reason="gmssl (independent SM2 implementation) is not installed")
from gmssl import func, sm2, sm3

from exchange.crypto import Signer, sm3_hex, verify_signature
from exchange.crypto._sm2 import parse_der_signature

# GB/T 32918.5 curve parameters, written out independently of gmssl's table
A = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
B = "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
GX = "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
GY = "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
DEFAULT_ID = b"1234567812345678"
MESSAGES = [b"", b"abc", "不动产登记：张三 名下无房产".encode(), bytes(range(256)) * 4]


def _point_hex(signer: Signer) -> str:
    der = base64.b64decode("".join(signer.public_key_pem().strip().splitlines()[1:-1]))
    assert der[-65] == 0x04
    return der[-64:].hex()


def _gmssl(point_hex: str, private_hex: str | None = None) -> sm2.CryptSM2:
    crypt = sm2.CryptSM2(private_key=private_hex, public_key=point_hex, asn1=True)
    crypt.public_key = point_hex  # gmssl's constructor lstrip("04")s the key: set it verbatim
    return crypt


def test_sm3_known_answers() -> None:
    # GB/T 32905 appendix A examples
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    for m in MESSAGES:
        assert sm3_hex(m) == sm3.sm3_hash(func.bytes_to_list(m))


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "abc", "chinese", "binary"])
def test_gmssl_verifies_hub_signatures(signer: Signer, message: bytes) -> None:
    signature = signer.sign(message)
    assert _gmssl(_point_hex(signer)).verify_with_sm3(signature.hex(), message)
    assert not _gmssl(_point_hex(signer)).verify_with_sm3(signature.hex(), message + b"x")


def test_hub_verifies_gmssl_signatures(tmp_path: Path) -> None:
    # a key pair made by gmssl alone: private scalar -> public point with gmssl's own arithmetic
    private_hex = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
    point_hex = sm2.CryptSM2(private_key=private_hex, public_key="")._kg(
        int(private_hex, 16), sm2.default_ecc_table["g"]
    )
    spki = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d03420004") + bytes.fromhex(point_hex)
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(spki).decode() + "\n-----END PUBLIC KEY-----\n"
    for message in MESSAGES:
        signature = bytes.fromhex(_gmssl(point_hex, private_hex).sign_with_sm3(message))  # DER (asn1=True)
        assert verify_signature(public_key_pem=pem, algorithm="sm2", data=message, signature=signature)
        assert not verify_signature(public_key_pem=pem, algorithm="sm2", data=message + b"x", signature=signature)


def test_signed_value_is_sm3_of_z_and_message(signer: Signer) -> None:
    """Recompute Z_A and e = SM3(Z_A || M) here; the hub's (r, s) must verify against exactly that e."""
    point_hex = _point_hex(signer)
    entl = (len(DEFAULT_ID) * 8).to_bytes(2, "big")
    z = bytes.fromhex(sm3_hex(entl + DEFAULT_ID + bytes.fromhex(A + B + GX + GY + point_hex)))
    message = "企业开办 91430900MA4L0XXXXX".encode()
    e = bytes.fromhex(sm3_hex(z + message))
    r, s = parse_der_signature(signer.sign(message))  # type: ignore[misc]
    bare = sm2.CryptSM2(private_key=None, public_key=point_hex)
    bare.public_key = point_hex
    assert bare.verify(f"{r:064x}{s:064x}", e)
    # and not against the digest of the message alone (no Z) or a Z built with another id
    assert not bare.verify(f"{r:064x}{s:064x}", bytes.fromhex(sm3_hex(message)))
    z_other = bytes.fromhex(sm3_hex(entl + b"8765432187654321" + bytes.fromhex(A + B + GX + GY + point_hex)))
    assert not bare.verify(f"{r:064x}{s:064x}", bytes.fromhex(sm3_hex(z_other + message)))


def test_strict_der_signatures_only(signer: Signer) -> None:
    signature = signer.sign(b"m")
    r, s = parse_der_signature(signature)  # type: ignore[misc]
    pem = signer.public_key_pem()
    raw = f"{r:064x}{s:064x}"
    assert not verify_signature(public_key_pem=pem, algorithm="sm2", data=b"m", signature=bytes.fromhex(raw))
    assert not verify_signature(public_key_pem=pem, algorithm="sm2", data=b"m", signature=signature + b"\x00")
    assert parse_der_signature(b"\x30\x06\x02\x01\x00\x02\x01\x01") is None  # r = 0
