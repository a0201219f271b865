"""Where a snapshot delivery's time goes: one subscriber per target kind (file, database, api), in one process.

Run: .venv/bin/python -m bench.profile_delivery [--rows 500000] [--pending] [--profile] [--access-record]
     [--modes file,database,api] [--home DIR] [--keep]

A person table of `--rows` rows is loaded (`bench_lake.person_rows`); with `--pending`, a 1 % change
(`bench_delivery.change_batch`) is committed after it, so the state is the base plus pending
merge-on-read changes (as after an incremental run). Then, in this one process, each target kind gets
a first delivery (a snapshot) by `deliver_resource` with a one-subscription list, as the city does:
file masked (pseudonymised key), database with PII access (a SQLite department database), api masked.
Each delivery is timed (wall and process CPU) and, with `--profile`, run under cProfile; its 30
heaviest functions (cumulative and own time) go to `bench/out/profile_delivery_<mode>[_pending].txt`;
`--sampler` takes a statistical profile with pyinstrument instead (install it by hand; cProfile's cost
per call inflates the per-row Python loops), written beside it as `.sampled.txt`.
`--access-record` indexes the version's subjects first (`subject_keys`, as `run_deliveries` does) and
times that apart. `--home` reuses a loaded table (`--keep` leaves it for the next run). To profile
another checkout (e.g. one extracted with `git archive`), copy this file with `_harness.py` and
`_delivery_hub.py` into its bench/ and run it there.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._delivery_hub import Sub, delivery_hub  # noqa: E402
from bench._harness import loadavg, print_table, vmhwm_mb, write_profile  # noqa: E402

OUT = ROOT / "bench" / "out"
SECRET = b"bench-profile-delivery-secret-32"


def _load(home: Path, rows: int, *, pending: bool) -> None:
    from bench.bench_delivery import change_batch
    from bench.bench_lake import CONTRACT, person_rows
    from lake import Lake

    table = Lake(f"{home}/lake").curated(CONTRACT)
    if table.version() is None:
        table.commit(person_rows(rows), app_id="bench", run_seq=1, metadata={})
    if pending and table.version() == 0:
        table.commit(change_batch(rows, 1), app_id="bench", run_seq=2, metadata={})


def _profiled(run, *, profile: bool, name: str, sampler: bool = False):  # type: ignore[no-untyped-def]
    import resource

    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    profiler = cProfile.Profile() if profile and not sampler else None
    sampling = None
    if sampler:  # pyinstrument, if installed: a statistical profile without cProfile's cost per call
        from pyinstrument import Profiler

        sampling = Profiler(interval=0.005)
        sampling.start()
    if profiler is not None:
        profiler.enable()
    out = run()
    if profiler is not None:
        profiler.disable()
    if sampling is not None:
        sampling.stop()
        OUT.mkdir(exist_ok=True)
        (OUT / f"profile_delivery_{name}.sampled.txt").write_text(sampling.output_text(unicode=False, color=False))
    after = resource.getrusage(resource.RUSAGE_SELF)
    seconds = time.perf_counter() - wall
    work = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    if profiler is not None:
        write_profile(profiler, OUT / f"profile_delivery_{name}.txt")
    return out, seconds, work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--pending", action="store_true", help="a 1 %% change pending on the base")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sampler", action="store_true", help="profile with pyinstrument (not a dependency)")
    parser.add_argument("--access-record", action="store_true", help="index the version's subjects first")
    parser.add_argument("--modes", default="file,database,api")
    parser.add_argument("--home", help="a folder holding (or to hold) the loaded table")
    parser.add_argument("--keep", action="store_true", help="keep --home's table after the run")
    args = parser.parse_args()

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="profile-delivery-"))
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    _load(home, args.rows, pending=args.pending)
    print(f"table ready in {time.perf_counter() - started:.1f} s at {home}", file=sys.stderr)

    from sqlalchemy.orm import Session

    from exchange.delivery import deliver_resource

    extra = inspect.signature(deliver_resource).parameters
    suffix = "_pending" if args.pending else ""
    rows: list[list[object]] = []
    load = [loadavg()]
    with delivery_hub(home, prefix="run-") as hub:
        contract, lake, work = hub.contract, hub.lake, hub.work
        with Session(hub.engine, expire_on_commit=False) as session:
            if args.access_record:
                from exchange.access.index import index_changes
                from exchange.subjects import SubjectKeys

                keys = SubjectKeys(b"bench-subject-hash-key-32-bytes-")
                curated = lake.curated(contract)
                target = curated.version()
                assert target is not None

                def index() -> int:
                    n = index_changes(session, curated, contract, keys=keys, upto=target)
                    session.commit()
                    return n

                written, seconds, cpu = _profiled(
                    index, profile=args.profile, name=f"access{suffix}", sampler=args.sampler
                )
                rows.append(["access record", written, f"{seconds:.2f}", f"{cpu:.2f}", ""])
            for i, mode in enumerate(args.modes.split(","), start=1):
                pii = mode == "database"
                sub = Sub(i, f"11430900MB{i:07d}X", mode, pii, fields=hub.fields)
                if mode == "database":
                    sub.target_url, sub.target_name = f"sqlite:///{work}/dept{i}.db", f"dept{i}"

                def deliver(sub: Sub = sub):  # type: ignore[no-untyped-def]
                    if "targets" not in extra:  # the code before targets were resolved by name (--baseline)
                        return deliver_resource(session, lake, contract, secret=SECRET, subscriptions=[sub])
                    return deliver_resource(
                        session, lake, contract, secret=SECRET, subscriptions=[sub], targets=lambda s: str(s.target_url)
                    )

                results, seconds, cpu = _profiled(
                    deliver, profile=args.profile, name=f"{mode}{suffix}", sampler=args.sampler
                )
                (result,) = results
                assert result.status == "done", result.error
                rows.append([f"{mode} ({'PII' if pii else 'masked'})", result.rows, f"{seconds:.2f}", f"{cpu:.2f}", ""])
        rows[-1][-1] = f"{vmhwm_mb():.0f}"
        load.append(loadavg())
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    print_table(["delivery", "rows", "wall s", "CPU s", "peak RSS MB"], rows)
    print(json.dumps({"rows": args.rows, "pending": args.pending, "load": load}))


if __name__ == "__main__":
    main()
