"""Delivery benchmark: a 1 % change to 10 subscribers vs re-sending the full snapshot to the same 10.

A 1 M-row person-shaped curated table; 10 granted subscriptions (5 file, 5 database on local SQLite
files; half with PII access, half masked with pseudonymous keys). After the initial snapshots, each
round commits a 1 % change (90 % updates, 5 % inserts, 5 % deletes) and delivers it incrementally;
then the same 10 are sent the full snapshot again (their records cleared, as a hub without change
feeds would do every time). Each measurement runs in a fresh child process so its peak RSS is its own.

Run: .venv/bin/python -m bench.bench_delivery [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.bench_lake import CONTRACT, person_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._harness import in_child, vmhwm_mb

SECRET = b"bench-secret"
SUBSCRIBERS = 10


def _ids(keys: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(
        "43090219", pc.utf8_lpad(pc.cast(pa.array(keys, pa.int64()), pa.string()), 10, "0"), ""
    )


def change_batch(n: int, round_: int) -> pa.Table:
    """1 % of n: 90 % updates, 5 % inserts, 5 % deletes, different keys and values each round."""
    k = n // 100
    rng = np.random.default_rng(100 + round_)
    keys = np.sort(rng.choice(n, k * 19 // 20, replace=False))
    upd, dele = keys[: k * 18 // 20], keys[k * 18 // 20 :]
    updated = person_rows(len(upd), seed=round_, tag=f"改{round_}")
    updated = updated.set_column(0, updated.schema.field(0), _ids(upd))
    inserted = person_rows(k // 20, seed=50 + round_, offset=n + round_ * k, tag="新")
    deleted = person_rows(len(dele), seed=9)
    deleted = deleted.set_column(0, deleted.schema.field(0), _ids(dele))
    flags = [False] * (updated.num_rows + inserted.num_rows) + [True] * deleted.num_rows
    return pa.concat_tables([updated, inserted, deleted]).append_column("_deleted", pa.array(flags, pa.bool_()))


def _open(folder: str):
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    import exchange.log.models  # noqa: F401
    from catalog import Base
    from lake import Lake

    engine = sa.create_engine(f"sqlite:///{folder}/hub.db")
    Base.metadata.create_all(engine)
    return Session(engine, expire_on_commit=False), Lake(f"{folder}/lake")


def job_setup(n: int, folder: str) -> tuple[float, float]:
    """Load the table, create the 10 subscriptions, deliver the initial snapshots (not measured)."""
    from catalog import register_target
    from catalog.departments import Department
    from catalog.subscriptions import Subscription
    from exchange.delivery import deliver_resource

    session, lake = _open(folder)
    lake.curated(CONTRACT).commit(person_rows(n), app_id="bench", run_seq=1, metadata={})
    fields = [f.name for f in CONTRACT.fields]
    for i in range(SUBSCRIBERS):
        code = f"11430900MB{i:07d}X"
        session.add(Department(code=code, name=f"部门{i}"))
        mode = "file" if i % 2 == 0 else "database"
        if mode == "database":  # a registered target: the URL in a secret file, the subscription names it
            secret = Path(folder) / f"dept{i}.url"
            secret.write_text(f"sqlite:///{folder}/dept{i}.db")
            session.flush()
            register_target(session, department_code=code, name="db", connection_ref=f"file:{secret}", reserved={})
        session.add(
            Subscription(
                resource="person",
                department_code=code,
                purpose="bench",
                legal_basis="bench",
                fields=fields,
                pii_access=i < SUBSCRIBERS // 2,
                delivery_mode=mode,
                status="granted",
                target_name="db" if mode == "database" else None,
            )
        )
    session.commit()
    start = time.perf_counter()
    results = deliver_resource(session, lake, CONTRACT, secret=SECRET)
    assert all(r.status == "done" for r in results), [r.error for r in results]
    return time.perf_counter() - start, vmhwm_mb()


def job_incremental(n: int, folder: str, round_: int) -> tuple[float, float, int]:
    from exchange.delivery import deliver_resource

    session, lake = _open(folder)
    lake.curated(CONTRACT).commit(change_batch(n, round_), app_id="bench", run_seq=1 + round_, metadata={})
    start = time.perf_counter()
    results = deliver_resource(session, lake, CONTRACT, secret=SECRET)
    elapsed = time.perf_counter() - start
    assert len(results) == SUBSCRIBERS and all(r.status == "done" for r in results), [r.error for r in results]
    return elapsed, vmhwm_mb(), results[0].rows


def job_full(n: int, folder: str) -> tuple[float, float, int]:
    """Re-send the full snapshot at the current version to the same 10 (records cleared first)."""
    import sqlalchemy as sa

    from exchange.delivery import BOOKKEEPING_TABLE, Delivery, deliver_resource

    session, lake = _open(folder)
    session.execute(sa.delete(Delivery))
    session.commit()
    for db in Path(folder).glob("dept*.db"):
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {BOOKKEEPING_TABLE}"))
        engine.dispose()
    start = time.perf_counter()
    results = deliver_resource(session, lake, CONTRACT, secret=SECRET)
    elapsed = time.perf_counter() - start
    assert len(results) == SUBSCRIBERS and all(r.status == "done" for r in results), [r.error for r in results]
    return elapsed, vmhwm_mb(), results[0].rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, r = args.rows, args.repeat
    work = Path(tempfile.mkdtemp(prefix="bench_delivery_"))
    try:
        setup_s, setup_mb = in_child(job_setup, n, str(work))
        print(f"rows={n:,}  subscribers={SUBSCRIBERS} (5 file, 5 SQLite database; 5 masked)  repeat={r}")
        print(f"initial snapshots to 10      {setup_s:7.2f} s  peak RSS {setup_mb:6.0f} MB (setup, incl. load)")
        inc = [in_child(job_incremental, n, str(work), i + 1) for i in range(r)]
        inc_s = statistics.median(x[0] for x in inc)
        print(f"1% change to 10, incremental  median {inc_s:7.2f} s  peak RSS {max(x[1] for x in inc):6.0f} MB "
              f"({inc[-1][2]:,} rows each)")  # fmt: skip
        full = [in_child(job_full, n, str(work)) for _ in range(1)]
        full_s = statistics.median(x[0] for x in full)
        print(f"full snapshot to the same 10        {full_s:7.2f} s  peak RSS {max(x[1] for x in full):6.0f} MB "
              f"({full[-1][2]:,} rows each)")  # fmt: skip
        print(f"ratio full / incremental: x{full_s / inc_s:.1f} (target >= x20)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
