"""Verification API throughput: sealed answers/s, p50/p99 and CPU per answer over HTTP.

Setup: persons committed to a curated Delta table, the serving store built from it
(`refresh_serving_store`), a metadata store migrated (SQLite file, or PostgreSQL with `--db
postgresql`), one bench client. Then, for each seal algorithm (SM2 via tongsuopy, Ed25519) and log
durability (`commit`: every answer in the exchange log before it is returned; `queued`: answered
once sealed, logged a few ms later), uvicorn with 2 workers serves the app and Debian's `wrk` (a
separate C process, 2 threads, 8 connections) drives, in the same run:

- single     POST /api/verify/person_alive           one subject, one sealed answer
- batch100   POST /api/verify/person_alive/batch     100 subjects, one sealed answer (counted as 100)
- unsealed   POST /bench/unsealed/person_alive       same path without a seal (sm2/commit only)

Each row gives answers/s, latency, the events the log gained (every answer must be there) and the
server's CPU per answer (user + system of the uvicorn processes over the run, from psutil). With
`--baseline TREE` the same scenarios are served first from another checkout of govhub (e.g. the code
before a change), so before and after share one machine state; the load average is noted per row.
The machine has 2 cores shared by wrk and both workers.

    .venv/bin/python -m bench.bench_verify [--persons 200000] [--seconds 5] [--db sqlite|postgresql]
        [--baseline /path/to/older/govhub] [--home DIR (reuse a prepared home)]
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
    from exchange.verify import LogWriter, ServingStore, VerificationService
    from govhub.db import engine_for
    from govhub.settings import get_settings
    from web.app import create_app
    from web.routes import verify as routes

    settings = get_settings()
    home = settings.resolved_home
    config = json.loads((home / _CONFIG).read_text())

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
        "id_number": ids,
        "name": [f"测试{i}" for i in range(n)],
        "gender": ["1"] * n,
        "ethnicity": ["01"] * n,
        "birth_date": births,
        "birth_place": [None] * n,
        "household_address": ["益阳市赫山区"] * n,
        "region_code": [regions[i % 6] for i in range(n)],
        "household_number": [f"{i:09d}" for i in range(n)],
        "phone": [None] * n,
        "status": [("1", "1", "1", "2", "3")[i % 5] for i in range(n)],
        "updated_at": [stamp] * n,
    }
    schema = arrow_schema(load_contract("person"))
    return pa.table(columns, schema=schema), ids


def setup(home: Path, persons: int) -> dict[str, Any]:
    """Curated table, serving store and the ids to ask about; returns timings."""
    from exchange.verify import refresh_serving_store
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
    (home / "ids.txt").write_text("\n".join(ids[::97][:20_000]))
    size = sum(p.stat().st_size for p in (home / "serving" / "person").glob("v*.sqlite"))
    return {
        "generate_s": generated,
        "delta_commit_s": committed,
        "store_refresh_s": refreshed,
        "store_mb": size / 2**20,
    }


def setup_db(url: str) -> str:
    """A fresh metadata store at `url` (a PostgreSQL database is dropped and created), migrated, with the
    bench client; returns its key."""
    from sqlalchemy.orm import Session

    from exchange.verify import register_client
    from govhub.db import engine_for, migrate

    engine_for(url).dispose()  # the cached engine's pooled connections point at the store being replaced
    if url.startswith("postgresql"):
        import psycopg

        base, _, name = url.rpartition("/")
        admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        for suffix in ("", "-wal", "-shm", ".log.lock"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    migrate(url)
    with Session(engine_for(url)) as session:
        _, key = register_client(
            session, client_id="bench", name="压测系统", allowed_items=[_ITEM], rate_limit_per_minute=100_000_000
        )
        session.commit()
    return key


def in_process(home: Path) -> dict[str, float]:
    """Microseconds per serving-store lookup and milliseconds per seal, without HTTP."""
    from exchange.crypto import load_or_create_signer
    from exchange.seal import prepare_answer, seal_answer, seal_documents
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
        docs = [
            prepare_answer(request={"n": n}, answer={"match": True}, item=_ITEM, version=0, algorithm=algorithm)
            for n in range(300)
        ]
        t = time.perf_counter()
        for start in range(0, 300, 100):
            seal_documents(signer, docs[start : start + 100])
        out[f"seal_{algorithm}_in_tree_of_100_ms"] = (time.perf_counter() - t) / 300 * 1e3
    return out


# -- load ------------------------------------------------------------------------------------------

_LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local batch = %(batch)d
local tag = "%(tag)s"
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
    body = '{"case_number":"' .. tag .. n .. '","purpose":"bench","subjects":[' .. table.concat(parts, ",") .. ']}'
  else
    local id = ids[math.random(#ids)]
    body = '{"case_number":"' .. tag .. n .. '","purpose":"bench","subject":{"id_number":"' .. id .. '"}}'
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


def _wrk(
    home: Path, port: int, key: str, path: str, seconds: int, batch: int = 0, tag: str = "WARM-"
) -> dict[str, Any]:
    """Drive `path` with wrk (2 threads, 8 connections); case numbers start with `tag` (to count the log)."""
    script = home / f"wrk_{batch}.lua"
    script.write_text(_LUA % {"ids": home / "ids.txt", "batch": batch, "key": key, "path": path, "tag": tag})
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def _events(url: str, tag: str) -> int:
    """Verification events whose case number starts with `tag`, once the writers are quiet (stable 0.5 s)."""
    from sqlalchemy import text

    from govhub.db import engine_for

    query = text("SELECT COUNT(*) FROM exchange_event WHERE type = 'verification' AND case_number LIKE :tag")
    last, deadline = -1, time.time() + 15
    while time.time() < deadline:
        with engine_for(url).connect() as conn:
            count = int(conn.execute(query, {"tag": f"{tag}%"}).scalar_one())
        if count == last:
            return count
        last = count
        time.sleep(0.5)
    return last


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the uvicorn supervisor and its workers so far."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


SCENARIOS = {
    "single": (f"/api/verify/{_ITEM}", 0),
    "batch100": (f"/api/verify/{_ITEM}/batch", 100),
    "unsealed": (f"/bench/unsealed/{_ITEM}", 0),
}


def serve_and_load(
    home: Path,
    *,
    tree: Path,
    db_url: str,
    algorithm: str,
    durability: str,
    key: str,
    seconds: int,
    port: int,
    scenarios: list[str],
) -> list[dict[str, Any]]:
    """Start uvicorn (2 workers) from `tree` for one algorithm and durability, drive the scenarios, stop it."""
    import httpx

    (home / _CONFIG).write_text(json.dumps({"algorithm": algorithm, "durability": durability}))
    env = {**os.environ, "GOVHUB_HOME": str(home), "GOVHUB_DB_URL": db_url, "PYTHONPATH": str(tree)}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bench_verify:create_bench_app",
        "--factory",
        "--workers",
        "2",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(cmd, env=env, cwd=tree, start_new_session=True)
    try:
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/verify/public-key", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError(f"uvicorn from {tree} did not start")
            time.sleep(0.3)
        rows = []
        _wrk(home, port, key, f"/api/verify/{_ITEM}", 2)  # warm both workers (imports, caches, scrypt once)
        for name in scenarios:
            path, batch = SCENARIOS[name]
            tag = f"B-{tree.name[:8]}-{algorithm}-{durability}-{name}-{time.time_ns() % 10**9}-"
            cpu_before, load = _cpu_seconds(server.pid), _load()
            result = _wrk(home, port, key, path, seconds, batch, tag)
            cpu = _cpu_seconds(server.pid) - cpu_before
            answers = (result["requests"] - result["non2xx"]) * (batch or 1)
            rows.append(
                {
                    "mode": f"{algorithm}/{durability}",
                    "scenario": name,
                    "rps": result["rps"],
                    "answers_s": result["rps"] * (batch or 1),
                    "p50": result["p50_us"] / 1e3,
                    "p99": result["p99_us"] / 1e3,
                    "non2xx": result["non2xx"],
                    "answers": answers,
                    "logged": _events(db_url, tag),
                    "cpu_ms": cpu * 1e3 / max(answers, 1),
                    "load": load,
                }
            )
        return rows
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


PLAN = (  # (algorithm, durability, scenarios)
    ("sm2", "commit", ["single", "batch100", "unsealed"]),
    ("sm2", "queued", ["single", "batch100"]),
    ("ed25519", "commit", ["single", "batch100"]),
    ("ed25519", "queued", ["single", "batch100"]),
)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'code':7} {'db':10} {'seal/log':15} {'scenario':9} {'answers/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'non2xx':>6} {'answers':>8} {'logged':>8} {'CPU ms/ans':>10}  load")  # fmt: skip
    for r in rows:
        print(f"{r['code']:7} {r['db']:10} {r['mode']:15} {r['scenario']:9} {r['answers_s']:10.0f} "
              f"{r['p50']:7.2f} {r['p99']:7.2f} {r['non2xx']:6d} {r['answers']:8d} {r['logged']:8d} "
              f"{r['cpu_ms']:10.3f}  {r['load']}")  # fmt: skip


def _medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (code, db, mode, scenario): the median of each figure over the rounds, loads joined."""
    from statistics import median

    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["code"], r["db"], r["mode"], r["scenario"]), []).append(r)
    out = []
    for runs in groups.values():
        row = dict(runs[0])
        for key in ("rps", "answers_s", "p50", "p99", "cpu_ms"):
            row[key] = median(r[key] for r in runs)
        for key in ("non2xx", "answers", "logged"):
            row[key] = sum(r[key] for r in runs)
        row["rounds"], row["load"] = len(runs), " | ".join(r["load"].split()[0] for r in runs)
        out.append(row)
    return out


def _ratios(rows: list[dict[str, Any]]) -> None:
    """after / before per (db, mode, scenario), for throughput and CPU per answer."""
    before = {(r["db"], r["mode"], r["scenario"]): r for r in rows if r["code"] == "before"}
    for r in rows:
        b = before.get((r["db"], r["mode"], r["scenario"]))
        if r["code"] == "after" and b and b["answers_s"] and r["cpu_ms"]:
            print(
                f"ratio {r['db']} {r['mode']} {r['scenario']}: answers/s x{r['answers_s'] / b['answers_s']:.2f}, "
                f"CPU/answer x{r['cpu_ms'] / b['cpu_ms']:.2f}, p99 {b['p99']:.1f} -> {r['p99']:.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or both (comma-separated)")
    parser.add_argument(
        "--pg-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/govhub_bench_verify",
        help="the PostgreSQL database to (re)create for --db postgresql",
    )
    parser.add_argument("--baseline", type=Path, help="another govhub checkout to measure first, as 'before'")
    parser.add_argument("--plan", default="full", help="full, or durable (sm2/commit only)")
    parser.add_argument("--rounds", type=int, default=1, help="alternate before/after this many times (medians)")
    parser.add_argument("--home", type=Path, help="reuse this prepared home (keeps it)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    print("command: python -m bench.bench_verify " + " ".join(sys.argv[1:]), flush=True)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench_verify_"))
    tree = Path(__file__).resolve().parent.parent
    try:
        if not (home / "ids.txt").exists():
            home.mkdir(parents=True, exist_ok=True)
            prep = setup(home, args.persons)
            print(f"setup, {args.persons:,} persons: " + ", ".join(f"{k} {v:.2f}" for k, v in prep.items()))
        micro = in_process(home)
        print("in-process: " + ", ".join(f"{k} {v:.3f}" for k, v in micro.items()))
        plan = PLAN if args.plan == "full" else PLAN[:1]
        rows: list[dict[str, Any]] = []
        for db in args.db.split(","):
            url = args.pg_url if db == "postgresql" else f"sqlite:///{home / 'govhub.db'}"
            codes = [("before", args.baseline.resolve())] if args.baseline else []
            for algorithm, durability, scenarios in plan:  # before and after back to back, per configuration
                for code, source in [*codes, ("after", tree)] * args.rounds:
                    key = setup_db(url)
                    runs = serve_and_load(
                        home,
                        tree=source,
                        db_url=url,
                        algorithm=algorithm,
                        durability=durability,
                        key=key,
                        seconds=args.seconds,
                        port=args.port,
                        scenarios=scenarios,
                    )
                    rows += [{"code": code, "db": db, **r} for r in runs]
        rows = _medians(rows)
        _print_rows(rows)
        _ratios(rows)
        print("RESULT-JSON " + json.dumps({"rows": rows, "in_process": micro}))
    finally:
        if args.keep or args.home:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
