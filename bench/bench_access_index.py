"""What the access record's index costs: a version's changed subjects, and a verification group commit's rows.

    .venv/bin/python -m bench.bench_access_index [--persons 200000]

Indexing: a first person version of N rows (every subject new), then a 1 % increment, through
`index_changes` (the hook `deliver_resource` calls once per version range); CPU seconds of this process
beside the delivery of the same increment to one file subscriber, the work the hook rides on. Verification:
`ExchangeLog.append_many` of 100 verification events in one transaction with and without the index rows
`query_rows` + `record_queries` add (what the log writer does per group commit), median of 20 groups.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench._harness import loadavg
from catalog import Base
from catalog.departments import Department
from catalog.subscriptions import Subscription
from exchange.access import SubjectChange, index_changes, query_rows, record_queries
from exchange.delivery import deliver_resource
from exchange.log import ExchangeLog
from exchange.subjects import SubjectKeys, hash_values
from lake import Lake
from quality.codes import make_id_number
from schemas import arrow_schema, load_contract

KEYS = SubjectKeys(b"b" * 32)


def _persons(ids: list[str], tag: str) -> pa.Table:
    contract = load_contract("person")
    n = len(ids)
    values = {
        "id_number": ids,
        "name": [f"张{tag}{i % 97}" for i in range(n)],
        "gender": ["1"] * n,
        "ethnicity": ["01"] * n,
        "birth_date": [dt.date(1990, 1, 1)] * n,
        "birth_place": ["湖南省益阳市"] * n,
        "household_address": [f"益阳市赫山区龙岭街道{i}号" for i in range(n)],
        "region_code": ["430903"] * n,
        "household_number": [f"{i:09d}" for i in range(n)],
        "phone": [f"139{i:08d}" for i in range(n)],
        "status": ["1"] * n,
        "updated_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * n,
    }
    return pa.table(values, schema=arrow_schema(contract))


def _cpu(fn):  # type: ignore[no-untyped-def]
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def indexing(persons: int, root: Path) -> dict[str, float]:
    contract = load_contract("person")
    lake = Lake(str(root / "lake"))
    ids = [
        make_id_number("430902", dt.date(1950, 1, 1) + dt.timedelta(days=i // 400), i % 400 + 100)
        for i in range(persons)
    ]
    curated = lake.curated(contract)
    curated.commit(_persons(ids, "a"), app_id="bench", run_seq=1, metadata={})
    changed = ids[::100]
    curated.commit(_persons(changed, "b"), app_id="bench", run_seq=2, metadata={})
    engine = sa.create_engine(f"sqlite:///{root / 'hub.db'}")
    Base.metadata.create_all(engine)
    out: dict[str, float] = {}
    with Session(engine, expire_on_commit=False) as session:
        out["first_cpu_s"], rows = _cpu(lambda: index_changes(session, curated, contract, keys=KEYS, upto=0))
        session.commit()
        out["first_rows"] = rows
        out["increment_cpu_s"], rows = _cpu(lambda: index_changes(session, curated, contract, keys=KEYS, upto=1))
        session.commit()
        out["increment_rows"] = rows
        out["hash_cpu_s_per_1e5"], _ = _cpu(lambda: hash_values(ids[:100_000], keys=KEYS))
        session.add(Department(code="11430900MB0000001X", name="部门"))
        sub = Subscription(
            resource="person", department_code="11430900MB0000001X", purpose="p", legal_basis="b",
            fields=list(contract.field_names), pii_access=True, delivery_mode="file", status="granted",
        )  # fmt: skip
        session.add(sub)
        session.commit()
        # the subscriber already holds version 0: deliver the increment, as the hook's host does
        from exchange.delivery.models import Delivery

        session.add(Delivery(subscription_id=sub.id, department_code=sub.department_code, resource="person",
                             from_version=None, to_version=0, mode="file", status="done"))  # fmt: skip
        session.commit()
        out["deliver_increment_cpu_s"], _ = _cpu(lambda: deliver_resource(session, lake, contract, secret=b"s" * 32))
        out["index_rows_total"] = session.query(SubjectChange).count()
    return out


def group_commit(root: Path, *, groups: int = 20, size: int = 100) -> dict[str, float]:
    engine = sa.create_engine(f"sqlite:///{root / 'log.db'}")
    Base.metadata.create_all(engine)
    hashes = hash_values([f"43090219900101{i:04d}" for i in range(size)], keys=KEYS)
    base = {"type": "verification", "source": "hub", "target": "client:c", "client": "c", "case_number": "YY-1",
            "purpose": "不动产登记", "details": {"item": "person_alive", "status": 200}}  # fmt: skip
    times: dict[str, list[float]] = {"plain": [], "indexed": []}
    for g in range(groups * 2):
        kind = "indexed" if g % 2 else "plain"
        events = [{**base, "subject_hash": h, "request_id": f"a{g}-{i}"} for i, h in enumerate(hashes)]
        answers = {f"a{g}-{i}": {"answer": {"match": True}} for i in range(size)}
        started = time.process_time()
        with Session(engine) as session:
            appended = ExchangeLog(session).append_many(events)
            if kind == "indexed":
                record_queries(session, query_rows(appended, answers))
            session.commit()
        times[kind].append(time.process_time() - started)
    return {f"{k}_cpu_ms": round(statistics.median(v) * 1000, 2) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-access-") as tmp:
        figures = {"persons": args.persons, **indexing(args.persons, Path(tmp)), **group_commit(Path(tmp))}
    figures["loadavg"] = loadavg()  # type: ignore[assignment]
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
