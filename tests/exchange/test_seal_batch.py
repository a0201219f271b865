"""Batch seals (govhub-seal/2): the Merkle tree, inclusion proofs, one signature per group commit, checked
independently with gmssl; govhub-seal/1 answers issued before still verify everywhere."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.crypto import Signer, canonical_json, load_or_create_signer
from exchange.crypto.merkle import inclusion_proofs, leaf_hash, node_hash, root_from_path
from exchange.seal import prepare_answer, seal_documents, serialize_sealed, verify_sealed
from exchange.seal_check_reference import check_sealed_answer
from exchange.verify import LogWriter
from tests.exchange.verify_support import P_LI, P_ZHANG, body, build_hub

DATA = Path(__file__).parent / "data"


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle Tree Hash, written straight from the definition (SHA-256)."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 100])
def test_tree_matches_rfc9162_and_every_proof_leads_to_the_root(size: int) -> None:
    leaves = [leaf_hash(f"answer {i}".encode(), algorithm="ed25519") for i in range(size)]
    root, paths = inclusion_proofs(leaves, algorithm="ed25519")
    assert root == _mth(leaves)
    for i, path in enumerate(paths):
        assert root_from_path(leaves[i], i, size, path, algorithm="ed25519") == root
        assert len(path) <= max(1, (size - 1).bit_length())
        if size > 1:  # the same path does not prove another position, a shorter or a longer one
            assert root_from_path(leaves[i], (i + 1) % size, size, path, algorithm="ed25519") != root
            assert root_from_path(leaves[i], i, size, path[:-1], algorithm="ed25519") != root
            assert root_from_path(leaves[i], i, size, [*path, root], algorithm="ed25519") is None


def test_leaves_and_nodes_are_domain_separated() -> None:
    """A node's two children, offered as one leaf, do not give the node's hash (second-preimage guard)."""
    a, b = leaf_hash(b"a", algorithm="sm2"), leaf_hash(b"b", algorithm="sm2")
    assert leaf_hash(a + b, algorithm="sm2") != node_hash(a, b, algorithm="sm2")


@pytest.fixture(scope="module", params=["sm2", "ed25519"])
def signer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return load_or_create_signer(tmp_path_factory.mktemp("batch"), algorithm=request.param)


def _batch(signer: Signer, n: int, version: int = 4) -> list[dict]:
    docs = [
        prepare_answer(
            request=body({"id_number": f"{i}"}),
            answer={"answer_id": str(i), "match": i % 2 == 0},
            item="person_alive",
            version=version,
            algorithm=signer.algorithm,
        )
        for i in range(n)
    ]
    return seal_documents(signer, docs)


def test_one_signature_covers_a_batch_and_each_answer_verifies_alone(signer: Signer) -> None:
    docs = _batch(signer, 37)
    assert len({d["seal"]["signature"] for d in docs}) == 1 and len({d["seal"]["root"] for d in docs}) == 1
    pem = signer.public_key_pem()
    for i, doc in enumerate(docs):
        assert (doc["seal"]["tree_size"], doc["seal"]["leaf_index"]) == (37, i)
        assert verify_sealed(serialize_sealed(doc), public_key_pem=pem, request=body({"id_number": f"{i}"})).ok
        assert check_sealed_answer(serialize_sealed(doc), pem, body({"id_number": f"{i}"}))[:2] == (True, None)


def test_a_batch_answer_cannot_be_altered_or_moved(signer: Signer) -> None:
    docs, pem = _batch(signer, 6), signer.public_key_pem()
    forgeries = []
    flipped = copy.deepcopy(docs[1])
    flipped["answer"]["match"] = not flipped["answer"]["match"]
    forgeries.append(flipped)
    swapped = copy.deepcopy(docs[1])  # another answer's content under this answer's proof
    swapped["answer"] = docs[2]["answer"]
    forgeries.append(swapped)
    moved = copy.deepcopy(docs[1])  # claim another position in the tree
    moved["seal"]["leaf_index"] = 2
    forgeries.append(moved)
    resized = copy.deepcopy(docs[5])  # claim a smaller tree (the signature covers tree_size)
    resized["seal"]["tree_size"] = 5
    resized["seal"]["leaf_index"] = 4
    forgeries.append(resized)
    foreign = copy.deepcopy(_batch(signer, 6, version=5)[1])  # a proof from another tree, this tree's signature
    foreign["seal"]["signature"] = docs[1]["seal"]["signature"]
    forgeries.append(foreign)
    for doc in forgeries:
        ours = verify_sealed(doc, public_key_pem=pem)
        theirs = check_sealed_answer(json.dumps(doc, ensure_ascii=False), pem)
        assert (ours.ok, ours.reason) == (theirs[0], theirs[1]) == (False, "signature"), ours.message


def test_gmssl_checks_path_and_root_signature_independently(tmp_path: Path) -> None:
    """gmssl's pure-Python SM3 and SM2 (no govhub code) walk the proof and verify the root signature."""
    gmssl = pytest.importorskip("gmssl")
    from gmssl import func, sm2, sm3

    signer = load_or_create_signer(tmp_path, algorithm="sm2")
    docs = _batch(signer, 11)

    def h(data: bytes) -> bytes:
        return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))

    spki = base64.b64decode("".join(signer.public_key_pem().strip().splitlines()[1:-1]))
    checker = sm2.CryptSM2(private_key=None, public_key=spki[-64:].hex())
    checker.public_key = spki[-64:].hex()
    for doc in docs:
        seal = doc["seal"]
        node = h(b"\x00" + canonical_json({k: v for k, v in doc.items() if k != "seal"}))
        # the audit path, walked bottom-up by position (RFC 9162 with the last node promoted)
        levels, position, width = [], seal["leaf_index"], seal["tree_size"]
        for sibling in seal["path"]:
            while width > 1 and position == width - 1 and position % 2 == 0:  # a lone last node rises without a sibling
                position, width = position // 2, (width + 1) // 2
            levels.append((position % 2, bytes.fromhex(sibling)))
            position, width = position // 2, (width + 1) // 2
        for is_right, sibling in levels:
            node = h(b"\x01" + sibling + node) if is_right else h(b"\x01" + node + sibling)
        assert node.hex() == seal["root"]
        message = canonical_json({k: seal[k] for k in ("format", "algorithm", "key_id", "tree_size", "root")})
        der = base64.b64decode(seal["signature"])
        r_len = der[3]
        r = int.from_bytes(der[4 : 4 + r_len], "big")
        s = int.from_bytes(der[6 + r_len :], "big")
        assert checker.verify_with_sm3(f"{r:064x}{s:064x}", message), "gmssl refused the root signature"
    assert gmssl is not None


@pytest.mark.parametrize("algorithm", ["sm2", "ed25519"])
def test_answers_sealed_in_the_first_format_still_verify(algorithm: str, tmp_path: Path) -> None:
    """Files written by the hub before batch seals: govhub, the reference checker and the CLI accept them."""
    from cli.main import app

    data = (DATA / f"seal_v1_{algorithm}.json").read_bytes()
    pem = (DATA / f"seal_v1_{algorithm}.pub").read_text()
    request = {"case_number": "YY-2026-0001", "purpose": "不动产登记", "subject": {"id_number": "430902198005010114"}}
    assert json.loads(data)["seal"]["signed"].startswith("govhub-seal/1")
    assert verify_sealed(data, public_key_pem=pem, request=request).ok
    assert check_sealed_answer(data, pem, request)[:2] == (True, None)
    (tmp_path / "body.json").write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "hub.pub").write_text(pem)
    (tmp_path / "answer.json").write_bytes(data)
    args = ["seal", "verify", str(tmp_path / "answer.json"), "--public-key", str(tmp_path / "hub.pub")]
    result = CliRunner().invoke(app, [*args, "--request", str(tmp_path / "body.json")])
    assert result.exit_code == 0 and "verified" in result.output
    (tmp_path / "answer.json").write_bytes(data.replace(b'"match":true', b'"match":false'))
    assert CliRunner().invoke(app, args).exit_code == 1
    assert not verify_sealed(data.replace(b'"match":true', b'"match":false'), public_key_pem=pem).ok


def test_the_log_writer_seals_a_group_commit_with_one_signature(tmp_path: Path) -> None:
    """Concurrent askers share trees: fewer trees than answers, every answer verifies and is stored sealed."""
    hub = build_hub(tmp_path, algorithm="sm2")
    hub.service.writer.close()
    writer = LogWriter(hub.engine, signer=hub.signer)
    hub.service.writer = writer
    release = threading.Event()
    real_commit = writer._commit

    def slow_commit(tickets):  # type: ignore[no-untyped-def]
        release.wait(5)  # hold the first commit so that the next requests queue behind it
        real_commit(tickets)

    writer._commit = slow_commit  # type: ignore[method-assign]
    results: list[tuple[int, dict]] = []

    def ask(i: int) -> None:
        subject = {"id_number": P_ZHANG if i % 2 else P_LI}
        results.append(hub.service.ask("person_alive", client_key=hub.keys["all"], body=body(subject)))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(30)
    writer.close()
    assert len(results) == 12 and all(status == 200 for status, _ in results)
    assert writer.trees < 12 and max(doc["seal"]["tree_size"] for _, doc in results) > 1
    pem = hub.signer.public_key_pem()
    for _, doc in results:
        assert verify_sealed(doc, public_key_pem=pem).ok
        assert hub.service.answer_document(doc["answer"]["answer_id"]) == doc
