"""Load generator for the verification API: threads of httpx clients for a fixed time, every seal checked.

Run in its own process so its work does not share a GIL with the server or the pipeline:

    python -m tests.reliability.load_client --url http://127.0.0.1:PORT --key KEY --requests reqs.json \
        --seconds 25 --threads 4 --out result.json [--started started.flag]

Each thread sends the requests of `reqs.json` ([[item, body], ...]) round-robin from its own offset
until the time is up (closed loop: the next request leaves when the answer came back). Latency is
timed around the HTTP call only; afterwards each 200 answer is checked with the hub's public key and
bound to the request sent (`verify_sealed(..., request=build_request(item, body))`). The result file
holds the counts, status codes, latency percentiles, refusal codes and every answer id.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from exchange.seal import verify_sealed
from exchange.verify.service import build_request

# refusals the API documents (exchange/README.md, "Errors"): a held request may end in one of these
DOCUMENTED_REFUSALS = frozenset({"rate_limited", "store_unavailable", "log_unavailable"})


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    url: str, key: str, requests: list[tuple[str, dict]], seconds: float, threads: int, started: Path | None = None
) -> dict[str, Any]:
    """Drive the API for `seconds` with `threads` clients; return the tallies (see the module docstring).

    `started`, if given, is created when the clock starts (after this process's imports), so a caller
    can line other work up with the load itself.
    """
    public_key = httpx.get(f"{url}/api/verify/public-key", timeout=10).json()["public_key_pem"]
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    latencies: list[float] = []
    answer_ids: list[str] = []
    bad_seals: list[str] = []
    transport_errors: list[str] = []
    timeline: list[tuple[float, int]] = []  # (seconds since start, requests done) per second
    start = time.monotonic()
    stop_at = start + seconds
    if started is not None:
        started.touch()

    def worker(offset: int) -> None:
        i = offset
        with httpx.Client(base_url=url, headers={"X-Client-Key": key}, timeout=30) as client:
            while time.monotonic() < stop_at:
                item, body = requests[i % len(requests)]
                i += threads
                sent = time.perf_counter()
                try:
                    response = client.post(f"/api/verify/{item}", json=body)
                except httpx.HTTPError as e:
                    with lock:
                        transport_errors.append(f"{type(e).__name__}: {e}")
                    continue
                elapsed = time.perf_counter() - sent
                document = response.json()
                ok_seal = True
                if response.status_code == 200:
                    check = verify_sealed(document, public_key_pem=public_key, request=build_request(item, body))
                    ok_seal = check.ok
                with lock:
                    statuses[response.status_code] += 1
                    latencies.append(elapsed)
                    if response.status_code == 200:
                        answer_ids.append(document["answer"]["answer_id"])
                        if not ok_seal:
                            bad_seals.append(f"{item} {body['case_number']}: {check.reason} {check.message}")
                    else:
                        codes[document.get("code") or document.get("error", {}).get("code", "?")] += 1

    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    while any(t.is_alive() for t in pool):
        time.sleep(1.0)
        with lock:
            timeline.append((round(time.monotonic() - start, 1), len(latencies)))
    for t in pool:
        t.join()
    duration = time.monotonic() - start
    refused = sum(n for code, n in codes.items() if code in DOCUMENTED_REFUSALS)
    return {
        "requests": len(latencies) + len(transport_errors),
        "seconds": round(duration, 2),
        "rps": round(len(latencies) / duration, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "error_codes": dict(codes),
        "documented_refusals": refused,
        "errors": len(transport_errors) + sum(codes.values()) - refused + len(bad_seals),
        "transport_errors": transport_errors[:20],
        "bad_seals": bad_seals[:20],
        "seals_checked": statuses.get(200, 0),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies, default=0) * 1000, 1),
        "answer_ids": answer_ids,
        "timeline": timeline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=25)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--started", type=Path, help="file created when the load starts")
    args = parser.parse_args()
    requests = [tuple(r) for r in json.loads(args.requests.read_text(encoding="utf-8"))]
    result = run(args.url, args.key, requests, args.seconds, args.threads, args.started)  # type: ignore[arg-type]
    args.out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
