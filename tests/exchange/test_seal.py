"""Sealed answers: shape, verification, tamper detection byte by byte, wrong keys, request binding."""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.crypto import SealError, Signer, canonical_json, load_or_create_signer, sha256_hex, sm3_hex
from exchange.seal import (
    SEAL_FORMAT,
    canonical_request,
    leaf_bytes,
    request_hash,
    root_message,
    seal_answer,
    serialize_sealed,
    signed_bytes,
    verify_file,
    verify_sealed,
)

REQUEST = {
    "item": "person.status",
    "subject": {"id_number": "430902199001011234", "name": "张三"},
    "purpose": "不动产登记",
    "requester": "益阳市不动产登记中心",
}
ANSWER = {"match": True, "人员状态": "正常", "注册资本(万元)": Decimal("12.50"), "checked": 1.5}
ISSUED = datetime(2026, 5, 1, 16, 0, 0, 123000, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture(scope="module", params=["sm2", "ed25519"])
def signer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return load_or_create_signer(tmp_path_factory.mktemp("keys"), algorithm=request.param)


@pytest.fixture(scope="module")
def other_signer(signer: Signer, tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return load_or_create_signer(tmp_path_factory.mktemp("other"), algorithm=signer.algorithm)


@pytest.fixture(scope="module")
def sealed(signer: Signer) -> dict:
    return seal_answer(signer, request=REQUEST, answer=ANSWER, item="person.status", version=3, issued_at=ISSUED)


def test_document_shape(signer: Signer, sealed: dict) -> None:
    assert set(sealed) == {"answer", "item", "version", "issued_at", "request_hash", "seal"}
    assert sealed["answer"] == {"match": True, "人员状态": "正常", "注册资本(万元)": "12.50", "checked": 1.5}
    assert sealed["issued_at"] == "2026-05-01T08:00:00.123Z"
    digest = sm3_hex if signer.algorithm == "sm2" else sha256_hex
    bound = canonical_request(REQUEST, item="person.status")
    assert bound == REQUEST | {"params": {}}  # the request's own item kept, params defaulted
    assert sealed["request_hash"] == digest(canonical_json(bound)) == request_hash(bound, algorithm=signer.algorithm)
    seal = sealed["seal"]
    assert (seal["format"], seal["algorithm"], seal["key_id"]) == (SEAL_FORMAT, signer.algorithm, signer.key_id)
    assert (seal["tree_size"], seal["leaf_index"], seal["path"]) == (1, 0, [])  # sealed alone: a tree of one
    json.dumps(sealed)  # plain JSON types only: any serialiser can store it


def test_a_tree_of_one_signs_its_leaf(signer: Signer, sealed: dict) -> None:
    """The leaf covers everything but the seal; the signature covers format, key, tree size and root."""
    digest = sm3_hex if signer.algorithm == "sm2" else sha256_hex
    assert leaf_bytes(sealed) == canonical_json({k: v for k, v in sealed.items() if k != "seal"})
    assert sealed["seal"]["root"] == digest(b"\x00" + leaf_bytes(sealed))
    assert signed_bytes(sealed) == root_message(
        algorithm=signer.algorithm, key_id=signer.key_id, tree_size=1, root=sealed["seal"]["root"]
    )
    assert b'"key_id"' in signed_bytes(sealed) and b'"govhub-seal/2"' in signed_bytes(sealed)


@pytest.mark.parametrize("form", ["dict", "canonical-bytes", "pretty-str"])
def test_verifies_in_any_serialisation(signer: Signer, sealed: dict, form: str) -> None:
    document = {
        "dict": sealed,
        "canonical-bytes": serialize_sealed(sealed),
        "pretty-str": json.dumps(sealed, ensure_ascii=True, indent=2),
    }[form]
    result = verify_sealed(document, public_key_pem=signer.public_key_pem(), request=REQUEST)
    assert result.ok and result.reason is None, result.message
    assert "valid seal: item person.status version 3" in result.message


def test_issued_at_defaults_to_now_and_naive_is_refused(signer: Signer) -> None:
    doc = seal_answer(signer, request=REQUEST, answer={}, item="x", version=0)
    issued = datetime.fromisoformat(doc["issued_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - issued) < timedelta(minutes=1)
    with pytest.raises(SealError, match="issued_at: 2026-05-01T08:00:00 has no timezone"):
        seal_answer(signer, request=REQUEST, answer={}, item="x", version=0, issued_at=datetime(2026, 5, 1, 8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"item": ""}, "item: must be a non-empty string", id="item"),
        pytest.param({"version": -1}, "version: must be a non-negative integer", id="version"),
        pytest.param({"version": True}, "version: must be a non-negative integer", id="version-bool"),
        pytest.param({"answer": [1]}, "answer: must be a JSON object", id="answer"),
        pytest.param({"request": "q"}, "request: must be a JSON object", id="request"),
        pytest.param({"answer": {"x": float("nan")}}, r"\$\.x: float nan is not finite", id="nan"),
    ],
)
def test_bad_inputs_are_refused(signer: Signer, kwargs: dict, message: str) -> None:
    args = {"request": REQUEST, "answer": ANSWER, "item": "person.status", "version": 3} | kwargs
    with pytest.raises(SealError, match=message):
        seal_answer(signer, **args)


def test_flipping_any_byte_fails(signer: Signer, sealed: dict) -> None:
    """Flip every bit-0 and bit-5 of every byte of the stored document: nothing flipped verifies."""
    data = serialize_sealed(sealed)  # every byte: answer, item, version, issued_at, request_hash, seal
    pem = signer.public_key_pem()
    reasons = set()
    for i in range(len(data)):
        for mask in (0x01, 0x20):
            tampered = data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]
            result = verify_sealed(tampered, public_key_pem=pem)
            assert not result.ok, f"byte {i} ({chr(data[i])!r}) ^ {mask:#x} still verifies"
            reasons.add(result.reason)
    assert reasons <= {"malformed", "signature", "key_id"}
    assert {"malformed", "signature"} <= reasons


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("answer", "人员状态"), "死亡", id="answer-value"),
        pytest.param(("answer", "extra"), 1, id="answer-added-field"),
        pytest.param(("item",), "legal_entity.status", id="item"),
        pytest.param(("version",), 4, id="version"),
        pytest.param(("issued_at",), "2026-05-01T08:00:01.123Z", id="issued_at"),
        pytest.param(("request_hash",), "0" * 64, id="request_hash"),
    ],
)
def test_changed_values_fail_the_signature(signer: Signer, sealed: dict, path: tuple, value: object) -> None:
    doc = copy.deepcopy(sealed)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    result = verify_sealed(doc, public_key_pem=signer.public_key_pem())
    assert (result.ok, result.reason) == (False, "signature")
    assert "the document was changed after sealing" in result.message


def test_wrong_key_fails_with_key_id(signer: Signer, other_signer: Signer, sealed: dict) -> None:
    result = verify_sealed(sealed, public_key_pem=other_signer.public_key_pem())
    assert (result.ok, result.reason) == (False, "key_id")
    assert f"sealed with {signer.algorithm} key {signer.key_id}" in result.message
    # a forged key_id claiming the other key: the signature check catches it
    doc = copy.deepcopy(sealed)
    doc["seal"]["key_id"] = other_signer.key_id
    assert verify_sealed(doc, public_key_pem=other_signer.public_key_pem()).reason == "signature"


def test_request_binding(signer: Signer, sealed: dict) -> None:
    pem = signer.public_key_pem()
    assert verify_sealed(sealed, public_key_pem=pem, request=dict(REQUEST)).ok
    reordered = dict(reversed(list(REQUEST.items())))
    assert verify_sealed(sealed, public_key_pem=pem, request=reordered).ok  # key order is irrelevant
    other = REQUEST | {"subject": {"id_number": "430902199001011235", "name": "张三"}}
    result = verify_sealed(sealed, public_key_pem=pem, request=other)
    assert (result.ok, result.reason) == (False, "request_hash")
    assert "sealed for a different request" in result.message


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda d: d.pop("item"), r"missing \['item'\]", id="missing-field"),
        pytest.param(lambda d: d.update(note="x"), r"unexpected \['note'\]", id="extra-field"),
        pytest.param(lambda d: d["seal"].update(format="other"), "unknown seal format", id="format"),
        pytest.param(lambda d: d["seal"].update(leaf_index=1), "leaf_index is off the tree", id="leaf-index"),
        pytest.param(lambda d: d["seal"].update(tree_size=0), "tree_size is not a positive", id="tree-size"),
        pytest.param(lambda d: d["seal"].update(path=["AB"]), "path is not a list of 64-hex", id="path"),
        pytest.param(lambda d: d["seal"].update(root="0" * 63), "root is not 64 hex", id="root"),
        pytest.param(lambda d: d["seal"].update(algorithm="rsa"), "unknown seal algorithm 'rsa'", id="algorithm"),
        pytest.param(lambda d: d.update(version="3"), "version is not a non-negative integer", id="version"),
        pytest.param(lambda d: d.update(issued_at="2026-05-01 08:00"), "issued_at is not UTC", id="issued_at"),
        pytest.param(lambda d: d["seal"].update(signature="***"), "not base64", id="signature-not-b64"),
    ],
)
def test_malformed_documents(signer: Signer, sealed: dict, mutate, message: str) -> None:
    doc = copy.deepcopy(sealed)
    mutate(doc)
    result = verify_sealed(doc, public_key_pem=signer.public_key_pem())
    assert (result.ok, result.reason) == (False, "malformed")
    assert re.search(message, result.message)


def test_non_canonical_base64_is_refused(signer: Signer, sealed: dict) -> None:
    doc = copy.deepcopy(sealed)
    doc["seal"]["signature"] = "AB=="  # decodes to b"\\x00" like the canonical "AA==": spare bits set
    assert base64.b64decode("AB==") == base64.b64decode("AA==")
    result = verify_sealed(doc, public_key_pem=signer.public_key_pem())
    assert (result.reason, result.message) == (
        "malformed",
        "not a valid govhub sealed answer: seal.signature is not canonical base64",
    )


def test_duplicate_keys_and_nan_are_malformed(signer: Signer, sealed: dict) -> None:
    text = serialize_sealed(sealed).decode()
    duplicated = text.replace('"item":', '"item":"x","item":', 1)
    assert verify_sealed(duplicated, public_key_pem=signer.public_key_pem()).reason == "malformed"
    assert verify_sealed(
        text.replace('"version":3', '"version":NaN'), public_key_pem=signer.public_key_pem()
    ).reason == ("malformed")


def test_verify_file(signer: Signer, sealed: dict, tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(sealed, ensure_ascii=False, indent=1).encode())  # BOM + pretty
    assert verify_file(path, public_key_pem=signer.public_key_pem()).ok
    path.write_text(json.dumps(sealed).replace("person.status", "person.other"), encoding="utf-8")
    result = verify_file(path, public_key_pem=signer.public_key_pem())
    assert (result.ok, result.reason) == (False, "signature")
    assert result.message.startswith(f"{path}: the signature does not match the content")
    missing = verify_file(tmp_path / "nope.json", public_key_pem=signer.public_key_pem())
    assert (missing.reason, missing.message) == (
        "malformed",
        f"cannot read {tmp_path / 'nope.json'}: No such file or directory",
    )
    path.write_text("{not json", encoding="utf-8")
    assert (
        "not a valid govhub sealed answer: not UTF-8 JSON"
        in verify_file(path, public_key_pem=signer.public_key_pem()).message
    )


def test_bad_public_key_raises(sealed: dict) -> None:
    with pytest.raises(SealError, match="public key: not a SubjectPublicKeyInfo PEM"):
        verify_sealed(sealed, public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
