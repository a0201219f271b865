"""Row-level validation speed: govhub's compiled Arrow checks vs Great Expectations 1.x on pandas.

Both validate the same generated person rows (12 columns, ~2% injected bad records, strings as a
source gives them) against the same row-level checks; GX gets the closest built-in expectation
where it has no national-code check (regex shape for GB 11643, value set for GB/T 2260) and
`result_format=COMPLETE` so that it names the failing rows, as a row-level verdict must. Each case
runs in its own subprocess so peak RSS (ru_maxrss) is its own. Also times `run_suite` (dataset
expectations, default 100k-row sample) on the accepted rows.

    .venv/bin/python bench/bench_quality.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = dt.date(2025, 1, 1)


def _generate(rows: int, path: Path) -> None:
    from simulators.generate import generate_persons

    generated = generate_persons(rows, seed=42, bad_share=0.02, epoch=dt.datetime(2025, 1, 1))
    columns = dict(generated.columns)
    deleted = columns.pop("is_deleted")
    table = pa.table({**{k: pa.array(v) for k, v in columns.items()}, "_deleted": pa.array(deleted).cast(pa.bool_())})
    # as a file or JSON source gives them: every field a string
    table = table.set_column(11, "updated_at", table.column("updated_at").cast(pa.string()))
    pq.write_table(table, path)


def _case_arrow(path: Path, repeat: int) -> dict:
    from quality import validate
    from schemas import load_contract

    contract = load_contract("person")
    table = pq.read_table(path).combine_chunks()
    times, counts = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        verdict = validate(table, contract, today=TODAY)
        times.append(time.perf_counter() - start)
        counts = dict(verdict.counts)
    return {"times": times, "counts": counts}


def _case_gx(path: Path, repeat: int) -> dict:
    import great_expectations as gx

    from quality.codes import REGIONS
    from quality.suite import _ephemeral_context
    from schemas import load_contract

    contract = load_contract("person")
    frame = pq.read_table(path).drop_columns(["_deleted"]).to_pandas()
    context = _ephemeral_context()
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset(name="person")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    ge = gx.expectations
    suite = gx.ExpectationSuite(name="person_rows")
    for f in contract.fields:
        if f.required:
            suite.add_expectation(ge.ExpectColumnValuesToNotBeNull(column=f.name))
        for c in f.checks:
            p = c.params
            if c.rule == "enum":
                codes = list(contract.code_tables[p["table"]].codes)
                suite.add_expectation(ge.ExpectColumnValuesToBeInSet(column=f.name, value_set=codes))
            elif c.rule == "length":
                suite.add_expectation(
                    ge.ExpectColumnValueLengthsToBeBetween(
                        column=f.name, min_value=p.get("min"), max_value=p.get("max")
                    )
                )
            elif c.rule == "pattern":
                suite.add_expectation(ge.ExpectColumnValuesToMatchRegex(column=f.name, regex=p["regex"]))
            elif c.rule == "gb11643":
                suite.add_expectation(ge.ExpectColumnValuesToMatchRegex(column=f.name, regex=r"^\d{17}[\dX]$"))
            elif c.rule == "gb2260":
                suite.add_expectation(ge.ExpectColumnValuesToBeInSet(column=f.name, value_set=sorted(REGIONS)))
            elif c.rule == "range":
                suite.add_expectation(ge.ExpectColumnValuesToBeBetween(column=f.name, min_value=p.get("min")))
        if f.type == "date":
            suite.add_expectation(ge.ExpectColumnValuesToMatchStrftimeFormat(column=f.name, strftime_format="%Y-%m-%d"))
    suite.add_expectation(ge.ExpectColumnValuesToBeUnique(column="id_number"))
    suite = context.suites.add(suite)
    times, failed = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = batch.validate(suite, result_format="COMPLETE")
        times.append(time.perf_counter() - start)
        failed = sum(not r.success for r in result.results)
    return {"times": times, "failed_expectations": failed, "expectations": len(suite.expectations)}


def _case_suite(path: Path, repeat: int) -> dict:
    import great_expectations  # noqa: F401  (import time is not part of a suite run)

    from quality import run_suite, validate
    from schemas import load_contract

    contract = load_contract("person")
    accepted = validate(pq.read_table(path).combine_chunks(), contract, today=TODAY).accepted
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_suite(accepted, contract)
        times.append(time.perf_counter() - start)
    return {
        "times": times,
        "sampled": result.sampled,
        "evaluated_rows": result.evaluated_rows,
        "success": result.success,
    }


CASES = {"arrow": _case_arrow, "gx": _case_gx, "suite": _case_suite}


def _child(case: str, path: Path, repeat: int) -> None:
    out = CASES[case](path, repeat)
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--gx-repeat", type=int, default=3)
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _child(args.case, args.data, args.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "person.parquet"
        start = time.perf_counter()
        _generate(args.rows, path)
        print(f"generated {args.rows:,} person rows in {time.perf_counter() - start:.1f} s")
        results = {}
        for case, repeat in (("arrow", args.repeat), ("gx", args.gx_repeat), ("suite", args.gx_repeat)):
            cmd = [sys.executable, __file__, "--case", case, "--data", str(path), "--repeat", str(repeat)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            results[case] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = results[case]
            extra = {k: v for k, v in r.items() if k not in ("times", "maxrss_mb")}
            runs = ", ".join(f"{t:.2f}" for t in r["times"])
            median = statistics.median(r["times"])
            print(f"{case:6s} median {median:7.3f} s  (runs {runs})  peak RSS {r['maxrss_mb']:7.0f} MB  {extra}")
        ratio = statistics.median(results["gx"]["times"]) / statistics.median(results["arrow"]["times"])
        print(f"GX / Arrow row-level validation: {ratio:.1f}x slower; "
              f"peak RSS {results['gx']['maxrss_mb'] / results['arrow']['maxrss_mb']:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
