"""Exchange log throughput: append one by one, in batches, and verify, on SQLite (and PostgreSQL).

Usage: .venv/bin/python bench/bench_exchange_log.py [--events 100000] [--batch 1000] [--no-pg]
Baseline measured in the same run: plain executemany INSERTs of the same rows without hashing or
locking (what the chain costs on top of writing the rows at all).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import create_engine, event, insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import Base, utcnow
from exchange.log import ExchangeEvent, ExchangeLog

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _kwargs(i: int) -> dict:
    return {
        "type": "delivery",
        "source": "hub",
        "target": f"dept-{i % 7}",
        "resource": "person",
        "version": i,
        "rows": 1000 + i,
        "bytes": 65536,
        "checksum": f"{i:064x}",
        "duration_ms": 12.5,
        "department": "公安局",
        "client": f"client-{i % 5}",
        "details": {"n": i},
    }


def _sqlite(path: Path) -> sa.Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    return engine


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _append_batches(xlog: ExchangeLog, events: int, batch: int) -> None:
    for start in range(0, events, batch):
        xlog.append_many([_kwargs(i) for i in range(start, min(start + batch, events))])


def _append_singly(xlog: ExchangeLog, events: int) -> None:
    for i in range(events):
        xlog.append(**_kwargs(i))


def _baseline(engine: sa.Engine, events: int, batch: int) -> None:
    """The same rows inserted with executemany, no hashing and no head lock."""
    now = utcnow()
    rows = [
        {
            **_kwargs(i),
            "seq": i + 1,
            "event_id": str(uuid.uuid4()),
            "recorded_at": now,
            "outcome": "ok",
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        }
        for i in range(events)
    ]
    for start in range(0, events, batch):
        with engine.begin() as conn:
            conn.execute(insert(ExchangeEvent.__table__), rows[start : start + batch])


def _fresh(engine: sa.Engine) -> ExchangeLog:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return ExchangeLog(engine)


def run(name: str, make_engine, events: int, single: int, batch: int, repeats: int) -> None:  # type: ignore[no-untyped-def]
    """Print events/s for the baseline, batched and single appends, and verify."""
    labels = ("baseline executemany", f"append_many ({batch})", "verify", f"append (single, {single})")
    results: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(repeats):
        engine = make_engine()
        _fresh(engine)
        results[labels[0]].append(events / _timed(lambda e=engine: _baseline(e, events, batch)))
        xlog = _fresh(engine)
        results[labels[1]].append(events / _timed(lambda x=xlog: _append_batches(x, events, batch)))
        results[labels[2]].append(events / _timed(lambda x=xlog: _check(x, events)))
        xlog = _fresh(engine)
        results[labels[3]].append(single / _timed(lambda x=xlog: _append_singly(x, single)))
        engine.dispose()
    base = statistics.median(results[labels[0]])
    print(f"\n{name}: {events} events (single appends: {single}), median of {repeats}")
    for label, values in results.items():
        med = statistics.median(values)
        print(f"  {label:<28} {med:>10,.0f} events/s   ({med / base:5.2f}x baseline)", flush=True)


def _check(xlog: ExchangeLog, events: int) -> None:
    report = xlog.verify()
    assert report.ok and report.events_checked == events, report.detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=None, help="events for the one-by-one run (default --events)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    single = args.single or args.events
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1000))
        run(
            "SQLite (file, WAL)",
            lambda: _sqlite(Path(tmp) / f"bench{next(counter)}.db"),
            args.events,
            single,
            args.batch,
            args.repeats,
        )
    if args.no_pg:
        return
    try:
        probe = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        probe.connect().close()
    except sa.exc.OperationalError:
        print("\nPostgreSQL: skipped (nothing answers on 127.0.0.1:5432)")
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"govhub_bench_log_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        run("PostgreSQL (localhost)", lambda: engine, args.events, single, args.batch, args.repeats)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
