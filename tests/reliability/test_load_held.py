"""The verification API holds under sustained load while an ingest and a delivery run beside it.

A real uvicorn server (the govhub web app, one worker, every answer committed to the exchange log
before it is returned) over a copy of a hub that really ran; a load generator in another process
(tests/reliability/load_client.py: 4 httpx clients, closed loop, every seal checked against the
hub's public key and bound to its request); in this process, meanwhile, working days go by: the
sources tick, `run_ingest("person")` publishes a new version, the serving store is refreshed under
the server's feet and `run_deliveries("person")` delivers to the granted subscription. Held: every
request answered 200 with a valid seal (or a documented refusal), p99 under a generous bound, the
server's memory flat (median RSS of the last third of the run within 15 % of the first third, after
a warm-up: see `_rss_summary`), and every answered request found in the exchange log afterwards ("rows
lost" counts the answers missing from it).

Bounded form: 20 s of load. Long form (`--long`): 5 minutes. A working day starts every sixth of the
run (after the previous one ended), so several days' ingests, refreshes and deliveries overlap the load.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from exchange.log import ExchangeEvent
from govhub.db import engine_for
from tests.reliability.ledger import record, scaled
from tests.reliability.tamper_hub import ReliabilityHub, hub_copy, person_requests

ROOT = Path(__file__).resolve().parents[2]
LOAD_SECONDS = scaled(20, 300)
THREADS = 4
P99_BOUND_MS = 5_000  # generous: 2 shared cores carry the server, the clients, the ingest and the delivery
RSS_GROWTH_BOUND = 0.15


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReliabilityHub]:
    from govhub.demo_sharing import seed_subscriptions
    from govhub.settings import reset_settings

    copy = hub_copy(tmp_path / "hub", monkeypatch)
    seed_subscriptions(copy.home)  # departments apply, providers grant: person goes to 市人社局 (database mode)
    yield copy
    reset_settings()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    """uvicorn with the govhub app over this test's GOVHUB_HOME, one worker (its pid is the server's)."""
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "web.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode} before serving")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/verify/public-key", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError("uvicorn did not answer within 60 s")


class RssSampler(threading.Thread):
    """The server's resident set size (VmRSS, kB), sampled every `every` seconds until stopped."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def run(self) -> None:
        start = time.monotonic()
        while not self._halt.wait(self.every):
            self.samples.append((time.monotonic() - start, self.rss_kb()))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _rss_summary(samples: list[tuple[float, int]]) -> dict[str, Any]:
    """First and last third's median RSS (MB) after the warm-up, and the growth between them.

    Warm-up: the first fifth of the run, and, when the run is long enough, at least its first 70 s: the
    server verifies each client key again when its 60 s cache entry expires, and the requests in flight
    then run scrypt (16 MB each) at once; that one-time step (reported as `rss_largest_step`) is where
    the process settles, not a leak.
    """
    values = [kb for _, kb in samples]
    duration = samples[-1][0]
    warm = max(duration / 5, min(70.0, duration / 3))
    steady = [kb for t, kb in samples if t >= warm]
    third = max(1, len(steady) // 3)
    first, last = statistics.median(steady[:third]), statistics.median(steady[-third:])
    return {
        "rss_samples": len(values),
        "rss_warm_up_s": round(warm),
        "rss_start_mb": round(values[0] / 1024, 1),
        "rss_end_mb": round(values[-1] / 1024, 1),
        "rss_max_mb": round(max(values) / 1024, 1),
        "rss_first_third_median_mb": round(first / 1024, 1),
        "rss_last_third_median_mb": round(last / 1024, 1),
        "rss_growth_pct": round((last / first - 1) * 100, 1),
        "rss_largest_step": _largest_step(samples),
        "rss_median_by_fifth_mb": [
            round(statistics.median(values[k * len(values) // 5 : (k + 1) * len(values) // 5] or values) / 1024, 1)
            for k in range(5)
        ],
    }


def _largest_step(samples: list[tuple[float, int]]) -> str:
    """The biggest rise between two consecutive samples, and when (a step, not a slope, is not a leak)."""
    if len(samples) < 2:
        return "n/a"
    rise, at = max((b[1] - a[1], b[0]) for a, b in itertools.pairwise(samples))
    return f"+{rise / 1024:.1f} MB at {at:.0f} s"


class WorkingDays(threading.Thread):
    """Working days while the load runs: tick the sources, ingest person, refresh serving, deliver."""

    def __init__(self, hub: ReliabilityHub, started: float, until: threading.Event, *, pause: float) -> None:
        super().__init__(daemon=True)
        self.hub, self.started, self.until, self.pause = hub, started, until, pause
        self.days: list[dict[str, Any]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        from govhub.delivery_runner import run_deliveries
        from govhub.pipeline import run_ingest
        from govhub.serving_runner import refresh_serving
        from simulators.tick import tick_all

        day = max(self.hub.sources.days or [0]) + 1
        try:
            while True:
                begun = time.monotonic() - self.started
                tick_all(self.hub.sources, day=day)
                ingest = run_ingest("person")
                serving = refresh_serving("person")
                deliveries = run_deliveries("person")
                ended = time.monotonic() - self.started
                self.days.append(
                    {
                        "day": day,
                        "from_s": round(begun, 1),
                        "to_s": round(ended, 1),
                        "ingest": ingest,
                        "serving_version": serving["version"],
                        "deliveries": deliveries,
                    }
                )
                day += 1
                if self.until.wait(self.pause):  # the next working day, unless the load is over
                    return
        except BaseException as e:
            self.error = e


def _logged(db_path: Path, answer_ids: list[str]) -> int:
    """How many of the answer ids are verification events in the exchange log."""
    events = ExchangeEvent.__table__
    engine = engine_for(f"sqlite:///{db_path}")
    found = 0
    with engine.connect() as conn:
        for i in range(0, len(answer_ids), 500):
            chunk = answer_ids[i : i + 500]
            found += conn.execute(
                select(func.count()).where(events.c.type == "verification", events.c.request_id.in_(chunk))
            ).scalar_one()
    return found


def _chain(hub: ReliabilityHub) -> Any:
    """The exchange log verified end to end with the hub's key pinned (appends from three writers)."""
    from exchange.crypto import load_or_create_signer
    from exchange.log import ExchangeLog

    signer = load_or_create_signer(hub.home / "keys", algorithm="sm2")
    engine = engine_for(f"sqlite:///{hub.db_path}")
    return ExchangeLog(engine, trusted_keys={signer.key_id: signer.public_key_pem()}).verify()


def test_verification_api_holds_under_load_while_ingest_and_delivery_run(hub: ReliabilityHub, tmp_path: Path) -> None:
    requests = person_requests(hub.persons, 2_000, seed=7)
    (tmp_path / "requests.json").write_text(json.dumps(requests, ensure_ascii=False), encoding="utf-8")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(port)
    try:
        with httpx.Client(base_url=url, headers={"X-Client-Key": hub.client_key}, timeout=30) as warm:
            for item, body in requests[-40:]:  # warm-up: imports, the key check, the store opened
                assert warm.post(f"/api/verify/{item}", json=body).status_code == 200
        sampler = RssSampler(server.pid)
        flag = tmp_path / "load.started"
        load_cmd = [
            sys.executable,
            "-m",
            "tests.reliability.load_client",
            "--url",
            url,
            "--key",
            hub.client_key,
            "--requests",
            str(tmp_path / "requests.json"),
            "--seconds",
            str(LOAD_SECONDS),
            "--threads",
            str(THREADS),
            "--out",
            str(tmp_path / "result.json"),
            "--started",
            str(flag),
        ]
        load = subprocess.Popen(load_cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 120
        while not flag.exists():  # the generator's imports take seconds on a busy machine: start together
            assert load.poll() is None and time.monotonic() < deadline, "the load generator did not start"
            time.sleep(0.1)
        started = time.monotonic()
        sampler.start()
        load_over = threading.Event()
        time.sleep(min(3.0, LOAD_SECONDS / 8))  # let the load ramp up first
        days = WorkingDays(hub, started, load_over, pause=LOAD_SECONDS / 6)
        days.start()
        assert load.wait(timeout=LOAD_SECONDS + 120) == 0, "the load generator failed"
        load_over.set()
        load_ended = time.monotonic() - started
        sampler.stop()
        days.join(timeout=300)
        assert server.poll() is None, "the server died under load"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    answer_ids = result["answer_ids"]
    logged = _logged(hub.db_path, answer_ids)
    rss = _rss_summary(sampler.samples)
    overlapping = [d for d in days.days if d["from_s"] < load_ended]
    delivered = [r for d in days.days for r in d["deliveries"]]
    figures = {
        "seconds": result["seconds"],
        "threads": THREADS,
        "rps": result["rps"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "max_ms": result["max_ms"],
        "errors": result["errors"],
        "statuses": result["statuses"],
        "documented_refusals": result["documented_refusals"],
        "seals_checked": result["seals_checked"],
        "answers_in_log": f"{logged}/{len(answer_ids)}",
        **rss,
        "working_days_during_load": len(overlapping),
        "ingest_versions": [d["ingest"]["version"] for d in days.days],
        "deliveries": [f"{r['department_code']}:{r['status']}" for r in delivered],
        "day_windows_s": [(d["from_s"], d["to_s"]) for d in days.days],
        "load_ended_s": round(load_ended, 1),
    }
    chain = _chain(hub)
    figures.update(log_events=chain.events_checked, log_intact=chain.ok)
    held = result["requests"] - result["errors"]
    record(
        "load",
        "verification API under sustained load while an ingest and a delivery run",
        tried=result["requests"],
        held=held,
        rows_lost=len(answer_ids) - logged,
        **figures,
    )

    assert days.error is None, f"the working day failed beside the load: {days.error!r}"
    assert overlapping and all(d["ingest"]["status"] == "succeeded" for d in days.days), days.days
    assert delivered and all(r["status"] == "done" for r in delivered), delivered
    for day in days.days:  # each day's new version reached the subscriber, none skipped
        version = day["ingest"]["version"]
        assert [r["to_version"] for r in day["deliveries"]] == ([] if version is None else [version]), day
    assert chain.ok, f"the exchange log no longer verifies after the load: {chain.detail}"
    assert result["errors"] == 0, (result["error_codes"], result["transport_errors"], result["bad_seals"])
    assert len(set(answer_ids)) == len(answer_ids) and logged == len(answer_ids), "answers missing from the log"
    assert result["p99_ms"] < P99_BOUND_MS, figures
    assert rss["rss_growth_pct"] <= RSS_GROWTH_BOUND * 100, rss
