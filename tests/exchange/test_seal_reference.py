"""The copyable reference checker (no govhub imports, gmssl/cryptography only) agrees with verify_sealed."""

from __future__ import annotations

import ast
import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("gmssl", reason="the reference checker verifies SM2 with gmssl")

import exchange.seal_check_reference as reference
from exchange.crypto import Signer, load_or_create_signer
from exchange.seal import seal_answer, serialize_sealed, verify_sealed

REQUEST = {"item": "legal_entity.status", "subject": {"uscc": "91430900MA4L0XXXXX"}, "purpose": "企业开办"}
ANSWER = {"登记状态": "存续", "注册资本(万元)": Decimal("500.00"), "ratio": 0.25, "tags": ["a", "中"], "x": None}


@pytest.fixture(scope="module", params=["sm2", "ed25519"])
def signer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return load_or_create_signer(tmp_path_factory.mktemp("ref"), algorithm=request.param)


@pytest.fixture(scope="module")
def document(signer: Signer) -> bytes:
    doc = seal_answer(
        signer, request=REQUEST, answer=ANSWER, item="legal_entity.status", version=7, issued_at=datetime.now(UTC)
    )
    return serialize_sealed(doc)


def _both(data: bytes | str, signer: Signer, request: dict | None = None) -> tuple:
    ours = verify_sealed(data, public_key_pem=signer.public_key_pem(), request=request)
    ok, reason, _ = reference.check_sealed_answer(data, signer.public_key_pem(), request)
    return (ours.ok, ours.reason), (ok, reason)


def _tampered(document: bytes) -> list[bytes]:
    doc = json.loads(document)
    variants = []
    for path, value in [
        (("answer", "登记状态"), "注销"),
        (("item",), "person.status"),
        (("version",), 8),
        (("issued_at",), "2020-01-01T00:00:00.000Z"),
        (("request_hash",), "f" * 64),
        (("seal", "key_id"), "0" * 16),
        (("seal", "key_id"), "g" * 16),  # not hex: malformed for both (the reference once said key_id)
        (("seal", "signed"), "v2"),
    ]:
        changed = copy.deepcopy(doc)
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        variants.append(json.dumps(changed, ensure_ascii=False).encode())
    step = max(1, len(document) // 12)
    variants += [document[:i] + bytes([document[i] ^ 1]) + document[i + 1 :] for i in range(0, len(document), step)]
    sig_at = document.index(doc["seal"]["signature"].encode()) + 10
    variants.append(document[:sig_at] + bytes([document[sig_at] ^ 1]) + document[sig_at + 1 :])
    return variants


def test_agree_on_the_good_document(signer: Signer, document: bytes) -> None:
    ours, theirs = _both(document, signer, REQUEST)
    assert ours == theirs == (True, None)
    pretty = json.dumps(json.loads(document), indent=2, ensure_ascii=True)
    assert _both(pretty, signer)[1] == (True, None)


def test_agree_on_tampered_documents(signer: Signer, document: bytes) -> None:
    for variant in _tampered(document):
        ours, theirs = _both(variant, signer)
        assert not ours[0] and not theirs[0], variant
        assert ours == theirs, variant


def test_agree_on_wrong_key_and_other_request(signer: Signer, document: bytes, tmp_path: Path) -> None:
    other = load_or_create_signer(tmp_path, algorithm=signer.algorithm)
    ours = verify_sealed(document, public_key_pem=other.public_key_pem())
    assert (
        reference.check_sealed_answer(document, other.public_key_pem())[:2]
        == (ours.ok, ours.reason)
        == (
            False,
            "key_id",
        )
    )
    ours_r, theirs_r = _both(document, signer, REQUEST | {"purpose": "其他"})
    assert ours_r == theirs_r == (False, "request_hash")


def test_reference_imports_nothing_from_govhub() -> None:
    tree = ast.parse(Path(reference.__file__).read_text(encoding="utf-8"))
    modules = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    roots = {m.split(".")[0] for m in modules}
    assert roots <= {"__future__", "base64", "hashlib", "json", "re", "decimal", "gmssl", "cryptography"}, roots
