"""Simulated registry data with injected bad records: every injected bad row is rejected."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from quality import validate

simulators = pytest.importorskip("simulators.generate", reason="simulators/ is not available")


def test_injected_bad_person_rows_are_all_rejected(contracts):
    contract = contracts["person"]
    generated = simulators.generate_persons(3000, seed=7, bad_share=0.05, epoch=dt.datetime(2025, 1, 1))
    columns = dict(generated.columns)
    deleted = columns.pop(contract.source.deleted_flag)
    table = pa.table({**{k: pa.array(v) for k, v in columns.items()}, "_deleted": pa.array(deleted).cast(pa.bool_())})
    verdict = validate(table, contract, today=dt.date(2025, 1, 1))

    bad_keys = {b.key for b in generated.bad}
    assert len(bad_keys) == 150
    rejected = set(verdict.rejected.column("row_key").to_pylist())
    assert bad_keys <= rejected
    assert verdict.counts["rows"] == verdict.counts["accepted"] + verdict.counts["rejected"]
    assert verdict.counts["rejected"] == len(bad_keys)  # and nothing good was rejected
