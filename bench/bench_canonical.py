"""Canonical JSON: the `rfc8785` library (`canonical_json`, seals) against the inline writer (the exchange log).

Run from the repo root: .venv/bin/python -m bench.bench_canonical [--calls 20000] [--rounds 3]
Prints process CPU µs per call (best of `rounds`) for a sealed answer, a request and an exchange-log
event payload, the ratio library/inline measured in the same run, and the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange.crypto import canonical_json, load_or_create_signer
from exchange.crypto.canonical import canonical_json_inline
from exchange.log._hashing import HASHED_FIELDS, fmt_time
from exchange.seal import seal_answer

REQUEST = {
    "item": "person.status",
    "subject": {"id_number": "430902199001011234", "name": "张三"},
    "purpose": "不动产登记",
    "requester": "益阳市不动产登记中心",
}
ANSWER = {"match": True, "人员状态": "正常", "注册资本(万元)": Decimal("12.50"), "checked": 1.5}


def _event_payload() -> dict[str, Any]:
    """A verification event as the log hashes it, with float details (the inline writer's path)."""
    now = fmt_time(datetime(2026, 5, 1, 8, tzinfo=UTC))
    payload: dict[str, Any] = dict.fromkeys(HASHED_FIELDS)
    payload.update(
        seq=123456,
        event_id="e" * 32,
        type="verify.answer",
        recorded_at=now,
        started_at=now,
        finished_at=now,
        source="api",
        target="审批系统",
        resource="person",
        version=3,
        rows=1,
        duration_ms="1.500",
        outcome="ok",
        request_id="r" * 32,
        purpose="不动产登记",
        subject_hash="a" * 64,
        client="bdc",
        details={"item": "person.status", "latency": 1.25, "成功": True},
        prev_hash="b" * 64,
        v=1,
    )
    return payload


def _cpu_us(fn: Callable[[Any], bytes], value: Any, calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn(value)
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    signer = load_or_create_signer(Path(tempfile.mkdtemp()), algorithm="ed25519")
    sealed = seal_answer(signer, request=REQUEST, answer=ANSWER, item="person.status", version=3)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| payload | bytes | inline µs CPU | rfc8785 µs CPU | ratio | rfc8785 calls/s |")
    print("|---|---|---|---|---|---|")
    for name, value in [("sealed answer", sealed), ("request", REQUEST), ("log event", _event_payload())]:
        assert canonical_json(value) == canonical_json_inline(value), name
        inline = _cpu_us(canonical_json_inline, value, args.calls, args.rounds)
        library = _cpu_us(canonical_json, value, args.calls, args.rounds)
        size = len(canonical_json_inline(value))
        print(f"| {name} | {size} | {inline:.1f} | {library:.1f} | {library / inline:.2f}× | {1e6 / library:,.0f} |")


if __name__ == "__main__":
    main()
