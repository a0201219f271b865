"""Benchmark building GX Data Docs from stored suite results (what `/monitor/data-docs` does on a change).

Runs the person suite once on simulated rows, stores its result for `--versions` versions, and builds
the offline site from them (`quality.build_data_docs`): process CPU seconds of the GX import and of the
whole build and of adding one new version's page (GX's incremental build), measured in the same run.

    .venv/bin/python -m bench.bench_data_docs [--rows 2000] [--versions 60]   (from the repo root)
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import pyarrow as pa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=60)
    args = parser.parse_args()

    started = time.process_time()
    import great_expectations  # noqa: F401  (import time is reported on its own)

    imported = time.process_time() - started
    from quality import run_suite, validate
    from quality.data_docs import StoredValidation, build_data_docs
    from schemas import load_contract
    from simulators.generate import generate_persons

    contract = load_contract("person")
    generated = generate_persons(args.rows, seed=42, bad_share=0.02, epoch=dt.datetime(2025, 1, 1))
    columns = dict(generated.columns)
    deleted = columns.pop("is_deleted")
    table = pa.table({**{k: pa.array(v) for k, v in columns.items()}, "_deleted": pa.array(deleted).cast(pa.bool_())})
    table = table.set_column(11, "updated_at", table.column("updated_at").cast(pa.string()))
    accepted = validate(table, contract, today=dt.date(2025, 1, 1)).accepted
    result = run_suite(accepted, contract).to_dict()
    first = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stored = [
        StoredValidation("person", v, f"person-{v + 1:06d}-bench", first + dt.timedelta(days=v), result)
        for v in range(args.versions)
    ]
    with tempfile.TemporaryDirectory(prefix="govhub-data-docs-") as tmp:
        before = time.process_time()
        index = build_data_docs(stored, Path(tmp) / "site", asset_prefix="/static/vendor/datadocs/")
        built = time.process_time() - before
        pages = sum(1 for _ in index.parent.rglob("*.html"))
        one_more = StoredValidation("person", args.versions, "person-new-bench", first + dt.timedelta(days=999), result)
        before = time.process_time()
        build_data_docs([*stored, one_more], index.parent, asset_prefix="/static/vendor/datadocs/", new=[one_more])
        added = time.process_time() - before
        assert sum(1 for _ in index.parent.rglob("*.html")) == pages + 1
    expectations = len(result["results"])
    print(f"GX import: {imported:.2f} s CPU")
    print(f"whole build of {args.versions} validations ({expectations} expectations each, {pages} pages):", end=" ")
    print(f"{built:.2f} s CPU")
    print(f"one new validation added to them (incremental): {added:.2f} s CPU")


if __name__ == "__main__":
    main()
