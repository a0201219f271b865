"""The contract's dataset-level expectations evaluated in Arrow: the suite every increment gets.

Row count, primary-key uniqueness and null shares only show over a whole increment; the row rules
(required, value sets, ranges) already rejected every failing row in `quality.verdict`, so running
them again through Great Expectations proves nothing new for a few hundred rows. This evaluates the
dataset-level part of `quality.expectations` with pyarrow.compute in milliseconds, with no GX import,
and returns the same `SuiteResult` shape as `quality.suite.run_suite` (engine `govhub`), so stored
results read the same. The full GX suite runs on large increments and on a schedule.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from quality.expectations import ExpectationSpec, expectation_specs
from quality.suite import Sampled, SuiteResult, _live
from schemas import Contract

__all__ = ["run_dataset_suite"]

_PARTIAL = 20  # at most this many failing values are listed, as GX's partial_unexpected_list


def run_dataset_suite(table: pa.Table | Sampled, contract: Contract) -> SuiteResult:
    """Evaluate the contract's dataset-level expectations over an increment's live rows."""
    started = time.perf_counter()
    if isinstance(table, Sampled):
        rows, total, sampled = table.rows, table.total, table.sampled
    else:
        rows = _live(table)
        total, sampled = rows.num_rows, False
    results = [_evaluate(spec, rows) for spec in expectation_specs(contract) if spec.dataset_level]
    passed = sum(r["success"] for r in results)
    failed_critical = any(not r["success"] and r["severity"] == "critical" for r in results)
    return SuiteResult(
        resource=contract.resource,
        suite=f"govhub.{contract.resource}.dataset",
        success=not failed_critical,
        total_rows=total,
        evaluated_rows=rows.num_rows,
        sampled=sampled,
        results=results,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": 100.0 * passed / len(results) if results else None,
        },
        seconds=round(time.perf_counter() - started, 4),
        gx_version=None,
        engine="govhub",
    )


def _evaluate(spec: ExpectationSpec, rows: pa.Table) -> dict[str, Any]:
    """One expectation over the rows, as a compact result like `quality.suite._compact`'s."""
    kwargs = spec.kwargs
    if spec.type == "expect_table_row_count_to_be_between":
        n = rows.num_rows
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        ok = (low is None or n >= low) and (high is None or n <= high)
        return _result(spec, ok, {"observed_value": n})
    if spec.type == "expect_column_values_to_not_be_null":
        column = rows.column(kwargs["column"])
        n, nulls = len(column), column.null_count
        ok = n == 0 or (n - nulls) / n >= kwargs.get("mostly", 1.0)
        counts = {"element_count": n, "unexpected_count": nulls, "unexpected_percent": _percent(nulls, n)}
        return _result(spec, ok, {**counts, "partial_unexpected_list": [None] * min(nulls, _PARTIAL)})
    if spec.type in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        columns = [kwargs["column"]] if "column" in kwargs else list(kwargs["column_list"])
        return _unique(spec, rows.select(columns))
    raise ValueError(f"{spec.type} is not a dataset-level expectation this engine evaluates")


def _unique(spec: ExpectationSpec, keys: pa.Table) -> dict[str, Any]:
    """Rows whose key value occurs more than once (every occurrence counts, as in GX); missing keys aside."""
    n = keys.num_rows
    present = keys.drop_null() if keys.num_columns == 1 else keys.filter(_any_present(keys))
    missing = n - present.num_rows
    names = present.column_names
    grouped = present.group_by(names).aggregate([([], "count_all")])
    repeated = grouped.filter(pc.greater(grouped.column("count_all"), 1))
    unexpected = int(pc.sum(repeated.column("count_all")).as_py() or 0) if repeated.num_rows else 0
    listed = repeated.slice(0, _PARTIAL)
    if len(names) == 1:
        partial: list[Any] = listed.column(names[0]).to_pylist()
    else:
        partial = listed.select(names).to_pylist()
    return _result(
        spec,
        unexpected == 0,
        {
            "element_count": n,
            "missing_count": missing,
            "missing_percent": _percent(missing, n),
            "unexpected_count": unexpected,
            "unexpected_percent": _percent(unexpected, present.num_rows),
            "partial_unexpected_list": [_plain(v) for v in partial],
        },
    )


def _any_present(keys: pa.Table) -> pa.ChunkedArray | pa.Array:
    """Rows with at least one key value (GX leaves out rows whose key columns are all missing)."""
    mask = pc.is_valid(keys.column(0))
    for name in keys.column_names[1:]:
        mask = pc.or_(mask, pc.is_valid(keys.column(name)))
    return mask


def _result(spec: ExpectationSpec, ok: bool, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "expectation": spec.type,
        "kwargs": {k: _plain(v) for k, v in spec.kwargs.items() if v is not None},
        "severity": spec.severity,
        "meta": dict(spec.meta),
        "success": bool(ok),
        "result": result,
        "exception": None,
    }


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _plain(value: Any) -> Any:
    """A JSON-ready value: dates and decimals as text, like GX's serialised kwargs."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
