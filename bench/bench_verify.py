"""Verification API throughput: sealed answers/s and p50/p99 over HTTP, 1 M persons in the serving store.

Setup: 1,000,000 persons committed to a curated Delta table, the serving store built from it
(`refresh_serving_store`), a metadata store migrated, one bench client. Then, for each seal algorithm
(SM2 via tongsuopy, Ed25519), uvicorn with 2 workers serves the app and Debian's `wrk` (a separate C
process, 2 threads, 8 connections) drives, in the same run:

- sealed single answers  POST /api/verify/person_alive              (the baseline of the target)
- unsealed single        POST /bench/unsealed/person_alive          (same service path, no signature)
- sealed batch of 100    POST /api/verify/person_alive/batch

Every answer is written to the exchange log (group commit) before it is returned; the bench counts
the log's events afterwards and compares with the answers wrk received. Also measured in-process: one
serving-store lookup and one seal. The machine has 2 cores shared by wrk and both workers.

    .venv/bin/python -m bench.bench_verify [--persons 1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request

_CONFIG = "bench_verify.json"
_ITEM = "person_alive"


# -- the app the uvicorn workers run ---------------------------------------------------------------


def create_bench_app() -> Any:
    """uvicorn factory: the govhub app with the service on the bench's algorithm, plus an unsealed route."""
    from fastapi.concurrency import run_in_threadpool

    from exchange.crypto import load_or_create_signer
    from exchange.verify import ServingStore, VerificationService
    from govhub.db import engine_for
    from govhub.settings import get_settings
    from web.app import create_app
    from web.routes import verify as routes

    settings = get_settings()
    home = settings.resolved_home
    config = json.loads((home / _CONFIG).read_text())
    from exchange.verify import LogWriter

    signer = load_or_create_signer(home / "keys", algorithm=config["algorithm"])
    engine = engine_for(settings.metadata_url)
    writer = LogWriter(engine, signer=signer, durability=config["durability"])
    service = VerificationService(store=ServingStore(home), signer=signer, engine=engine, writer=writer)
    app = create_app()
    app.dependency_overrides[routes.get_verification_service] = lambda: service

    @app.post("/bench/unsealed/{item}")
    async def unsealed(item: str, request: Request) -> Any:
        body = await request.body()
        key = request.headers.get("x-client-key")
        status, doc = await run_in_threadpool(service.ask, item, client_key=key, body=body, sealed=False)
        return routes._json(status, doc)

    return app


# -- setup -----------------------------------------------------------------------------------------


def _persons(n: int) -> Any:
    import pyarrow as pa

    from quality.codes import make_id_number
    from schemas import arrow_schema, load_contract

    regions = ["430902", "430903", "430921", "430922", "430923", "430981"]
    base = date(1950, 1, 1)
    births = [base + timedelta(days=i // 1000) for i in range(n)]
    ids = [make_id_number(regions[i % 6], births[i], i % 1000) for i in range(n)]
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    columns = {
        "id_number": ids, "name": [f"测试{i}" for i in range(n)], "gender": ["1"] * n, "ethnicity": ["01"] * n,
        "birth_date": births, "birth_place": [None] * n, "household_address": ["益阳市赫山区"] * n,
        "region_code": [regions[i % 6] for i in range(n)], "household_number": [f"{i:09d}" for i in range(n)],
        "phone": [None] * n, "status": [("1", "1", "1", "2", "3")[i % 5] for i in range(n)], "updated_at": [stamp] * n,
    }  # fmt: skip
    schema = arrow_schema(load_contract("person"))
    return pa.table(columns, schema=schema), ids


def setup(home: Path, persons: int) -> dict[str, Any]:
    """Curated table, serving store, metadata store, client; returns timings and the client key."""
    from sqlalchemy.orm import Session

    from exchange.verify import refresh_serving_store, register_client
    from govhub.db import engine_for, migrate
    from lake import Lake
    from schemas import load_contract

    t = time.perf_counter()
    table, ids = _persons(persons)
    generated = time.perf_counter() - t
    lake = Lake(str(home / "lake"))
    contract = load_contract("person")
    t = time.perf_counter()
    lake.curated(contract).commit(table, app_id="bench", run_seq=1, metadata={})
    committed = time.perf_counter() - t
    t = time.perf_counter()
    refresh_serving_store(lake, contract, home=home)
    refreshed = time.perf_counter() - t
    url = f"sqlite:///{home / 'govhub.db'}"
    migrate(url)
    with Session(engine_for(url)) as session:
        _, key = register_client(
            session, client_id="bench", name="压测系统", allowed_items=[_ITEM], rate_limit_per_minute=100_000_000
        )
        session.commit()
    (home / "ids.txt").write_text("\n".join(ids[::97][:20_000]))
    size = sum(p.stat().st_size for p in (home / "serving" / "person").glob("v*.sqlite"))
    return {"generate_s": generated, "delta_commit_s": committed, "store_refresh_s": refreshed,
            "store_mb": size / 2**20, "key": key}  # fmt: skip


def in_process(home: Path) -> dict[str, float]:
    """Microseconds per serving-store lookup and milliseconds per seal, without HTTP."""
    from exchange.crypto import load_or_create_signer
    from exchange.seal import seal_answer
    from exchange.verify import ServingStore

    ids = (home / "ids.txt").read_text().split("\n")
    snap = ServingStore(home).snapshot("person")
    t = time.perf_counter()
    for i in ids:
        snap.lookup(("id_number",), (i,), ("status",))
    out = {"lookup_us": (time.perf_counter() - t) / len(ids) * 1e6}
    for algorithm in ("sm2", "ed25519"):
        signer = load_or_create_signer(home / "keys", algorithm=algorithm)  # type: ignore[arg-type]
        t = time.perf_counter()
        for n in range(300):
            seal_answer(signer, request={"n": n}, answer={"match": True}, item=_ITEM, version=0)
        out[f"seal_{algorithm}_ms"] = (time.perf_counter() - t) / 300 * 1e3
    return out


# -- load ------------------------------------------------------------------------------------------

_LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local batch = %(batch)d
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Client-Key"] = "%(key)s"
local n = 0
request = function()
  n = n + 1
  local body
  if batch > 0 then
    local parts = {}
    for i = 1, batch do parts[i] = '{"id_number":"' .. ids[math.random(#ids)] .. '"}' end
    body = '{"case_number":"BENCH-' .. n .. '","purpose":"bench","subjects":[' .. table.concat(parts, ",") .. ']}'
  else
    local id = ids[math.random(#ids)]
    body = '{"case_number":"BENCH-' .. n .. '","purpose":"bench","subject":{"id_number":"' .. id .. '"}}'
  end
  return wrk.format(nil, "%(path)s", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format('\\nRESULT {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"socket_errors":%%d,' ..
    '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d}\\n', summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _wrk(home: Path, port: int, key: str, path: str, seconds: int, batch: int = 0) -> dict[str, Any]:
    script = home / f"wrk_{batch}.lua"
    script.write_text(_LUA % {"ids": home / "ids.txt", "batch": batch, "key": key, "path": path})
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def _events(home: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(home / "govhub.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM exchange_event WHERE type = 'verification'").fetchone()[0]
    finally:
        conn.close()


def serve_and_load(
    home: Path, algorithm: str, durability: str, key: str, seconds: int, port: int, scenarios: list[str]
) -> dict[str, Any]:
    """Start uvicorn (2 workers) for one algorithm and log durability, drive the scenarios, stop it."""
    import httpx

    (home / _CONFIG).write_text(json.dumps({"algorithm": algorithm, "durability": durability}))
    env = {**os.environ, "GOVHUB_HOME": str(home), "GOVHUB_DB_URL": f"sqlite:///{home / 'govhub.db'}"}
    cmd = [sys.executable, "-m", "uvicorn", "bench.bench_verify:create_bench_app", "--factory", "--workers", "2",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/verify/public-key", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.3)
        results: dict[str, Any] = {}
        _wrk(home, port, key, f"/api/verify/{_ITEM}", 2)  # warm both workers (imports, caches, scrypt once)
        paths = {
            "sealed": (f"/api/verify/{_ITEM}", 0),
            "unsealed": (f"/bench/unsealed/{_ITEM}", 0),
            "batch100": (f"/api/verify/{_ITEM}/batch", 100),
        }
        for name in scenarios:
            path, batch = paths[name]
            before = _events(home)
            results[name] = _wrk(home, port, key, path, seconds, batch)
            time.sleep(0.5)  # queued durability: let the writers drain before counting
            results[name]["logged_events"] = _events(home) - before
            results[name]["answers"] = (results[name]["requests"] - results[name]["non2xx"]) * (batch or 1)
        return results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    home = Path(tempfile.mkdtemp(prefix="bench_verify_"))
    try:
        prep = setup(home, args.persons)
        key = prep.pop("key")
        print(f"setup, {args.persons:,} persons: " + ", ".join(f"{k} {v:.2f}" for k, v in prep.items()))
        micro = in_process(home)
        print("in-process: " + ", ".join(f"{k} {v:.3f}" for k, v in micro.items()))
        rows = []
        for algorithm in ("sm2", "ed25519"):
            for durability, scenarios in (
                ("commit", ["sealed", "unsealed", "batch100"]),
                ("queued", ["sealed", "unsealed"]),
            ):
                runs = serve_and_load(home, algorithm, durability, key, args.seconds, args.port, scenarios)
                rows.extend((f"{algorithm}/{durability}", name, r) for name, r in runs.items())
        print(f"\n{'seal/log':15} {'scenario':9} {'req/s':>8} {'answers/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'non2xx':>6} {'answers':>8} {'logged':>8}")  # fmt: skip
        for algorithm, name, r in rows:
            per = 100 if name == "batch100" else 1
            print(f"{algorithm:15} {name:9} {r['rps']:8.0f} {r['rps'] * per:10.0f} {r['p50_us'] / 1e3:7.2f} "
                  f"{r['p99_us'] / 1e3:7.2f} {r['non2xx']:6d} {r['answers']:8d} {r['logged_events']:8d}")  # fmt: skip
        sealed = {a: r["rps"] for a, n, r in rows if n == "sealed"}
        unsealed = {a: r["rps"] for a, n, r in rows if n == "unsealed"}
        for a in sealed:
            print(f"{a}: sealed/unsealed throughput ratio {sealed[a] / unsealed[a]:.2f}")
    finally:
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
