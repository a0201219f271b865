"""A year of exchanges: generate the log, then time every monitor page, the alerts, `log verify` and archive.

    python -m bench.bench_year_log --events 1000000 --db sqlite      # or --db postgresql
    python -m bench.bench_year_log --events 1000000 --db sqlite --phase pages   # reuse a generated log
    python -m bench.bench_year_log --events 5000000 --db postgresql --pg-database my_scratch --phase verify \
        --verify-sql-repeat 1   # also walk the old way (the server renders the JSON), for the ratio

The generator bulk-loads the year (`bench.year_log_gen`: `event_hash`'s bytes for every event, rendered
from a pool of 16,384 event templates; a checkpoint signed with the hub key (its `seal_algorithm`) every
`log_checkpoint_every` events, 1,000 by default; `--append-many` goes through `ExchangeLog.append_many`
with an injected clock instead, ~8x slower), evenly over 365 days; 86 % verification answers,
the rest denials, deliveries, ingests, publishes, quarantines and subscriptions, with case numbers and
keyed subject hashes. Pages are timed through the real app (TestClient, a signed-in administrator):
one warm-up view, then the median of three (the slowest of the three is kept as `<page>_max`).
Prints one JSON object (the figures) as its last line; bench/README.md records them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEPARTMENTS = [f"11430900MB{n:07d}" for n in range(20)]
CLIENTS = [f"client-{n:02d}" for n in range(12)]
SOURCES = ["population", "legal_entity", "credit", "nontax"]
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 2000
PG_DATABASE = os.environ.get("YEAR_LOG_PG_DATABASE", "wt_log_year_bench")  # a scratch database, recreated


def _environment(home: Path, db: str) -> str:
    url = f"sqlite:///{home / 'govhub.db'}"
    if db == "postgresql":
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DATABASE}"
    os.environ.update(GOVHUB_HOME=str(home), GOVHUB_DB_URL=url, GOVHUB_LOG_MAINTENANCE_SECONDS="0")
    return url


def _reset_postgres() -> None:
    import sqlalchemy as sa

    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {PG_DATABASE}")
    admin.dispose()


_SUBJECT_HASHES: dict[str, str] = {}
SUBJECTS = 20_000  # distinct citizens checked over the year (many verifications each)


def _subject(ident: str, keys: Any) -> str:
    from exchange.subjects import subject_hash

    found = _SUBJECT_HASHES.get(ident)
    if found is None:
        found = _SUBJECT_HASHES[ident] = subject_hash(ident, keys=keys)
    return found


def _event(rng: random.Random, n: int, keys: Any) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.86:
        client = rng.choice(CLIENTS)
        ident = f"4309{rng.randrange(SUBJECTS):013d}X"
        return {
            "type": "verification",
            "source": "hub",
            "target": f"client:{client}",
            "client": client,
            "resource": "person",
            "version": 12,
            "outcome": "ok",
            "case_number": f"YY-BDC-2025-{n:08d}",
            "purpose": "不动产登记（转移登记）",
            "subject_hash": _subject(ident, keys),
            "request_id": f"{rng.getrandbits(128):032x}",
            "duration_ms": round(rng.random() * 20, 3),
            "details": {"item": "person_alive", "status": 200},
        }
    if roll < 0.92:
        client = rng.choice([*CLIENTS, None])
        return {
            "type": "denial",
            "source": "hub",
            "target": f"client:{client or 'unknown'}",
            "client": client,
            "outcome": "denied",
            "error_code": "rate_limited",
            "details": {"status": 429},
        }
    if roll < 0.96:
        dept = rng.choice(DEPARTMENTS)
        return {
            "type": "delivery",
            "source": "govhub",
            "target": dept,
            "department": dept,
            "resource": "person",
            "version": 12,
            "rows": rng.randrange(10, 5000),
            "outcome": "ok",
            "details": {"mode": "file", "subscription": rng.randrange(1, 40)},
        }
    kind = rng.choice(["ingest", "ingest", "publish", "quarantine", "subscription"])
    source = rng.choice(SOURCES)
    return {
        "type": kind,
        "source": source if kind == "ingest" else "govhub",
        "target": "govhub",
        "resource": "person",
        "rows": rng.randrange(100, 100_000),
        "run_id": f"run-{n}",
        "details": {"stage": "publish"},
    }


def generate(events: int, *, bulk: bool = True, days: int = 365) -> dict[str, Any]:
    """Write `events` events over `days` days (a year by default); returns timings.

    `bulk` (the default): `bench.year_log_gen` (the hub's hashes and signed checkpoints, loaded with the
    driver's bulk path); otherwise through the hub's own `append_many` with an injected clock.
    """
    from exchange.crypto import load_or_create_signer
    from exchange.log import ExchangeLog
    from govhub.db import get_engine, migrate
    from govhub.exchange_log import hub_subject_keys
    from govhub.settings import get_settings

    migrate()
    settings = get_settings()
    signer = load_or_create_signer(settings.keys_dir, algorithm=settings.seal_algorithm)  # the hub's own key
    keys = hub_subject_keys()
    rng = random.Random(20)
    if bulk:
        from bench.year_log_gen import bulk_generate

        figures = bulk_generate(
            get_engine(),
            signer,
            lambda n: _event(rng, n, keys),
            events=events,
            start=YEAR_START,
            span=timedelta(days=days),
            checkpoint_every=settings.log_checkpoint_every,
        )
        return {**figures, "events": events, "generator": "bulk"}
    step = timedelta(days=days) / events
    moment = {"now": YEAR_START}
    xlog = ExchangeLog(
        get_engine(), signer=signer, checkpoint_every=settings.log_checkpoint_every, clock=lambda: moment["now"]
    )
    started = time.perf_counter()
    for start in range(0, events, BATCH):
        count = min(BATCH, events - start)
        moment["now"] = YEAR_START + step * start
        xlog.append_many([_event(rng, start + i, keys) for i in range(count)])
    return {"generate_s": round(time.perf_counter() - started, 1), "events": events, "generator": "append_many"}


def _admin_client() -> Any:
    from fastapi.testclient import TestClient

    from govhub.settings import get_settings
    from web import create_app
    from web.monitor import create_admin

    create_admin(get_settings().keys_dir, "bench", "bench-password")
    client = TestClient(create_app())
    form = client.get("/monitor/login").text  # the sign-in form carries its CSRF token
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no CSRF token on the sign-in form"
    data = {"username": "bench", "password": "bench-password", "csrf_token": token.group(1)}
    signed = client.post("/monitor/login", data=data, follow_redirects=False)
    assert signed.status_code == 303, (signed.status_code, signed.text[:300])
    return client


def _timed(client: Any, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path, follow_redirects=False)  # a redirect to the sign-in form is not a page view
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return round(time.perf_counter() - started, 3)


def pages() -> dict[str, Any]:
    """Time every monitor page and API the data admin uses (after the first rollup and check)."""
    from exchange.log import check_incremental
    from exchange.log.rollup import refresh_rollups
    from govhub.db import get_engine
    from govhub.exchange_log import hub_log

    out: dict[str, Any] = {}
    started = time.perf_counter()
    out["first_rollup_s"] = (refresh_rollups(get_engine()), round(time.perf_counter() - started, 1))[1]
    started = time.perf_counter()
    check_incremental(hub_log())
    out["first_check_s"] = round(time.perf_counter() - started, 1)
    client = _admin_client()
    with client:
        names = {
            "overview": "/monitor",
            "exchanges_30d": "/monitor/exchanges?days=30",
            "exchanges_90d": "/monitor/exchanges?days=90",
            "exchanges_366d": "/monitor/exchanges?days=366",
            "log_first": "/monitor/log",
            "log_last_page": "/monitor/log?oldest=1",
            "log_department": f"/monitor/log?department={DEPARTMENTS[3]}",
            "log_client": f"/monitor/log?client={CLIENTS[5]}",
            "log_case_number": "/monitor/log?case_number=YY-BDC-2025-00000777",
            "log_subject": "/monitor/log?subject=430900000000000000X",
            "log_denied": "/monitor/log?outcome=denied",
            "sharing": "/monitor/sharing",
            "alerts_page": "/monitor/alerts",
            "alerts_api": "/monitor/api/alerts",
            "api_chain": "/monitor/api/chain",
            "api_exchanges_366d": "/monitor/api/exchanges?days=366",
        }
        for name, path in names.items():
            _timed(client, path)  # warm caches once, as a data admin's second view
            runs = sorted(_timed(client, path) for _ in range(3))
            out[name], out[f"{name}_max"] = runs[1], runs[2]  # the median of three views, and the slowest
        deep = client.get("/monitor/api/log?per_page=50&oldest=1").json()
        out["log_keyset_next_from_oldest"] = _timed(
            client, f"/monitor/api/log?per_page=50&after={deep['data'][0]['seq']}"
        )
        new_events = 1500  # what a busy hub appends between two views: checked incrementally
        from datetime import datetime as _dt

        xlog = hub_log()
        xlog.clock = lambda: _dt.now(UTC)
        xlog.append_many([{"type": "denial", "source": "hub", "target": "client:x", "outcome": "denied"}] * new_events)
        times: list[float] = []
        threads = [threading.Thread(target=lambda: times.append(_timed(client, "/monitor"))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out["three_views_after_1500_new_events"] = sorted(times)
    out["page_max_s"] = max(
        v for k, v in out.items() if isinstance(v, float) and not k.startswith("first") and not k.endswith("_max")
    )
    return out


def verify_figures(repeat: int = 3, sql_repeat: int = 0) -> dict[str, Any]:
    """Full walk (`govhub log verify`'s path) `repeat` times: median events/s, wall and CPU (workers included);
    on PostgreSQL `sql_repeat` walks the old way (the server renders the JSON) right after; then the
    per-row Python rehash on 100,000 events in the same run, for scale."""
    import statistics

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from exchange.log import ExchangeEvent, check_full
    from exchange.log._hashing import event_hash
    from govhub.db import get_engine
    from govhub.exchange_log import hub_log

    rates, cpu_rates, loads, report = [], [], [], None
    for _ in range(repeat):
        loads.append(round(os.getloadavg()[0], 1))
        before = _cpu()
        started = time.perf_counter()
        report = check_full(hub_log(), parallel=True)
        seconds = time.perf_counter() - started
        rates.append(round(report.events_checked / seconds))
        cpu_rates.append(round(report.events_checked / max(_cpu() - before, 1e-9)))
    assert report is not None
    figures: dict[str, Any] = {}
    if get_engine().dialect.name == "postgresql" and sql_repeat:
        figures = _sql_walk_figures(sql_repeat)
    table = ExchangeEvent.__table__
    with Session(get_engine()) as session:
        rows = [r._mapping for r in session.execute(select(table).order_by(table.c.seq).limit(100_000))]
        started = time.perf_counter()
        bad = sum(1 for r in rows if event_hash(r) != r["hash"])
        python_rate = len(rows) / (time.perf_counter() - started)
    return {
        "verify_ok": report.ok,
        "verify_events": report.events_checked,
        "verify_events_per_s_runs": rates,
        "verify_events_per_s": round(statistics.median(rates)),
        "verify_events_per_cpu_s_runs": cpu_rates,
        "verify_events_per_cpu_s": round(statistics.median(cpu_rates)),
        "verify_load_1min": loads,
        "python_rehash_events_per_s_excluding_reads": round(python_rate),
        "python_bad": bad,
        "unsigned_tail": report.unsigned_tail,
        **figures,
    }


def _sql_walk_figures(repeat: int) -> dict[str, Any]:
    """The same full walk with PostgreSQL rendering each event's JSON in SQL (the walk before COPY), right
    after the COPY walks: the ratio of the two is measured at one load."""
    import statistics

    from exchange.log import _walker, check_full
    from govhub.exchange_log import hub_log

    saved = _walker.COPY_SPEC, _walker.copy_walker
    _walker.COPY_SPEC, _walker.copy_walker = None, lambda connection: None  # type: ignore[assignment]
    rates, loads = [], []
    try:
        for _ in range(repeat):
            loads.append(round(os.getloadavg()[0], 1))
            started = time.perf_counter()
            report = check_full(hub_log(), parallel=True)
            rates.append(round(report.events_checked / (time.perf_counter() - started)))
            assert report.ok, report.detail
    finally:
        _walker.COPY_SPEC, _walker.copy_walker = saved
    return {
        "verify_sql_events_per_s_runs": rates,
        "verify_sql_events_per_s": round(statistics.median(rates)),
        "verify_sql_load_1min": loads,
    }


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the walk's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def archive_child(months: int, vacuum: bool = False) -> dict[str, Any]:
    """Archive the first `months` months (in this process: its peak RSS is the archive's); `vacuum` allows a
    full SQLite VACUUM on a database not in incremental mode."""
    from govhub.delivery_runner import open_lake
    from govhub.exchange_log import hub_log

    started = time.perf_counter()
    info = hub_log().archive(open_lake(), before=YEAR_START + timedelta(days=round(30.44 * months)), vacuum=vacuum)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "archived": info.events,
        "files": len(info.files),
        "archive_s": round(seconds, 1),
        "archive_peak_rss_mb": round(peak),
        "reclaim": info.reclaim.method if info.reclaim else None,
        "reclaim_pages_returned": info.reclaim.pages_returned if info.reclaim else 0,
        "reclaim_free_pages_left": info.reclaim.free_pages if info.reclaim else 0,
    }


def _size(url: str, home: Path) -> int:
    if url.startswith("sqlite"):
        return sum(p.stat().st_size for p in home.glob("govhub.db*"))
    import sqlalchemy as sa

    with sa.create_engine(url).connect() as conn:  # a partitioned table's size is its partitions'
        return int(
            conn.exec_driver_sql(
                "SELECT pg_total_relation_size('exchange_event') + coalesce(sum(pg_total_relation_size(inhrelid)), 0) "
                "FROM pg_inherits WHERE inhparent = 'exchange_event'::regclass"
            ).scalar()
        )


def after_archive() -> dict[str, Any]:
    """Verify archives + live as one chain, and the pages once more."""
    from exchange.log import check_full
    from govhub.delivery_runner import open_lake
    from govhub.exchange_log import hub_log

    started = time.perf_counter()
    report = check_full(hub_log(), archives=open_lake(), parallel=True)
    seconds = time.perf_counter() - started
    return {
        "verify_across_archives_ok": report.ok,
        "verify_across_archives_events": report.events_checked,
        "verify_across_archives_files": report.archives_checked,
        "verify_across_archives_s": round(seconds, 1),
    }


def main() -> None:
    global PG_DATABASE
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument(
        "--pg-database", default=PG_DATABASE, help="PostgreSQL scratch database (generate recreates it)"
    )
    parser.add_argument("--phase", choices=["all", "generate", "pages", "verify", "archive", "after"], default="all")
    parser.add_argument("--archive-months", type=int, default=6)
    parser.add_argument("--vacuum", action="store_true", help="archive: allow a full SQLite VACUUM (older databases)")
    parser.add_argument("--verify-repeat", type=int, default=3, help="full walks in the verify phase (median)")
    parser.add_argument(
        "--verify-sql-repeat", type=int, default=0, help="PostgreSQL: walks rendering the JSON in SQL, to compare"
    )
    parser.add_argument("--append-many", action="store_true", help="generate through append_many (slow)")
    parser.add_argument(
        "--days", type=int, default=365, help="spread the events over this many days (fewer: bigger months)"
    )
    args = parser.parse_args()
    PG_DATABASE = args.pg_database
    home = args.home or Path(f"/tmp/wt-log-year-bench-{args.db}-{args.events}")
    home.mkdir(parents=True, exist_ok=True)
    url = _environment(home, args.db)
    figures: dict[str, Any] = {"db": args.db, "events": args.events, "load_before": os.getloadavg()}
    if args.phase in ("all", "generate"):
        if args.db == "postgresql":
            _reset_postgres()
        elif (home / "govhub.db").exists():
            for p in home.glob("govhub.db*"):
                p.unlink()
        before = _cpu()
        figures.update(generate(args.events, bulk=not args.append_many, days=args.days))
        figures["generate_cpu_s"] = round(_cpu() - before, 1)
        figures["db_bytes"] = _size(url, home)
    if args.phase in ("all", "pages"):
        figures.update(pages())
    if args.phase in ("all", "verify"):
        figures.update(verify_figures(args.verify_repeat, args.verify_sql_repeat))
    if args.phase in ("all", "archive"):  # run it as its own phase: ru_maxrss is then the archive's
        figures.update(archive_child(args.archive_months, args.vacuum))
        figures["db_bytes_after_archive"] = _size(url, home)
    if args.phase in ("all", "after"):
        figures.update(after_archive())
    figures["load_after"] = os.getloadavg()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
