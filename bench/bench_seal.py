"""Seal costs: SM2 compiled (Tongsuo) vs gmssl pure Python vs Ed25519, and the full seal_answer().

Run from the repo root: .venv/bin/python -m bench.bench_seal [--rounds 5]
Prints per-operation medians of `rounds` timed rounds, operations per second, and ratios against the
pure-Python gmssl baseline measured in the same run. The message is the signed bytes of a typical
sealed answer (~500 bytes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from gmssl import sm2

from exchange.crypto import load_or_create_signer, verify_signature
from exchange.seal import seal_answer, signed_bytes, verify_sealed

REQUEST = {
    "item": "person.status",
    "subject": {"id_number": "430902199001011234", "name": "张三"},
    "purpose": "不动产登记",
    "requester": "益阳市不动产登记中心",
}
ANSWER = {"match": True, "人员状态": "正常", "户籍地区划代码": "430902", "注册资本(万元)": Decimal("12.50")}


def _median_seconds(fn: Callable[[], object], *, n: int, rounds: int) -> float:
    """Median over `rounds` of the mean time of one call, each round making `n` calls."""
    fn()  # warm up (imports, key parsing caches)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rounds = args.rounds

    key_dir = Path(tempfile.mkdtemp(prefix="bench_seal_"))
    sm2_signer = load_or_create_signer(key_dir, algorithm="sm2")
    ed_signer = load_or_create_signer(key_dir, algorithm="ed25519")
    sample = seal_answer(sm2_signer, request=REQUEST, answer=ANSWER, item="person.status", version=3)
    message = signed_bytes(sample)

    # gmssl pure Python with the same key (its private scalar read from the PEM via tongsuopy)
    from tongsuopy.crypto import serialization

    private = serialization.load_pem_private_key((key_dir / "hub-sm2.key").read_bytes(), password=None)
    point = private.public_key().public_numbers()
    point_hex = f"{point.x:064x}{point.y:064x}"
    gm = sm2.CryptSM2(private_key=f"{private.private_numbers().private_value:064x}", public_key=point_hex, asn1=True)
    gm.public_key = point_hex
    gm_sig = gm.sign_with_sm3(message)

    sm2_pem, ed_pem = sm2_signer.public_key_pem(), ed_signer.public_key_pem()
    sm2_sig, ed_sig = sm2_signer.sign(message), ed_signer.sign(message)
    assert gm.verify_with_sm3(sm2_sig.hex(), message)
    assert verify_signature(public_key_pem=sm2_pem, algorithm="sm2", data=message, signature=bytes.fromhex(gm_sig))

    sealed_sm2 = seal_answer(sm2_signer, request=REQUEST, answer=ANSWER, item="person.status", version=3)
    sealed_ed = seal_answer(ed_signer, request=REQUEST, answer=ANSWER, item="person.status", version=3)
    now = datetime.now(UTC)
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("sign   sm2 gmssl (pure Python)", lambda: gm.sign_with_sm3(message), 10),
        ("sign   sm2 tongsuopy (compiled)", lambda: sm2_signer.sign(message), 300),
        ("sign   ed25519 (cryptography)", lambda: ed_signer.sign(message), 1000),
        ("verify sm2 gmssl (pure Python)", lambda: gm.verify_with_sm3(gm_sig, message), 10),
        (
            "verify sm2 tongsuopy (compiled)",
            lambda: verify_signature(public_key_pem=sm2_pem, algorithm="sm2", data=message, signature=sm2_sig),
            300,
        ),
        (
            "verify ed25519 (cryptography)",
            lambda: verify_signature(public_key_pem=ed_pem, algorithm="ed25519", data=message, signature=ed_sig),
            1000,
        ),
        (
            "seal_answer() sm2",
            lambda: seal_answer(sm2_signer, request=REQUEST, answer=ANSWER, item="p", version=3, issued_at=now),
            300,
        ),
        (
            "seal_answer() ed25519",
            lambda: seal_answer(ed_signer, request=REQUEST, answer=ANSWER, item="p", version=3, issued_at=now),
            1000,
        ),
        ("verify_sealed() sm2", lambda: verify_sealed(sealed_sm2, public_key_pem=sm2_pem, request=REQUEST), 300),
        ("verify_sealed() ed25519", lambda: verify_sealed(sealed_ed, public_key_pem=ed_pem, request=REQUEST), 1000),
    ]
    results = {name: _median_seconds(fn, n=n, rounds=rounds) for name, fn, n in cases}
    baseline = {
        "sign": results["sign   sm2 gmssl (pure Python)"],
        "verify": results["verify sm2 gmssl (pure Python)"],
    }
    print(f"message: {len(message)} bytes; median of {rounds} rounds; ratio = gmssl time / this time")
    print(f"{'operation':34} {'ms/op':>9} {'ops/s':>10} {'vs gmssl':>9}")
    for name, seconds in results.items():
        base = baseline["verify" if "verify" in name else "sign"]
        print(f"{name:34} {seconds * 1000:9.3f} {1 / seconds:10.0f} {base / seconds:8.1f}x")


if __name__ == "__main__":
    main()
