"""Dataset-level expectations: a Great Expectations 1.x suite generated from a contract.

The suite holds what only makes sense over a whole dataset or increment (volume, null shares,
uniqueness, value sets, ranges); row-level verdicts come from `quality.verdict`. GX is imported
lazily (it takes seconds to import) and runs on an in-memory ephemeral context over a pandas
frame; results are returned as a JSON-ready dict for the hub's own metadata store (GX has no
S3 store). Tables larger than `max_rows` are validated on a deterministic sample.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import Contract, QualityError

if TYPE_CHECKING:
    import great_expectations as gx

__all__ = ["Sampled", "SuiteResult", "build_suite", "run_suite", "sample_stream"]

log = logging.getLogger(__name__)
_SAMPLE_SEED = 20160901  # fixed: the same table always yields the same sample
_KEEP_RESULT_KEYS = (
    "observed_value",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "missing_percent",
    "partial_unexpected_list",
)


@dataclass(frozen=True)
class SuiteResult:
    """Outcome of a suite run, JSON-serialisable through `to_dict()`."""

    resource: str
    suite: str
    success: bool
    total_rows: int
    evaluated_rows: int
    sampled: bool
    results: list[dict[str, Any]]
    statistics: dict[str, Any]
    seconds: float
    gx_version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sampled:
    """Live rows drawn from a stream (all of them, or a sample) and how many live rows it held."""

    rows: pa.Table
    total: int
    sampled: bool


def _live(table: pa.Table) -> pa.Table:
    """Rows that are not source deletions, without the `_deleted` column."""
    if "_deleted" not in table.column_names:
        return table
    return table.filter(pc.invert(table.column("_deleted").fill_null(False))).drop_columns(["_deleted"])


def _sample_indices(total: int, max_rows: int) -> np.ndarray:
    """The sorted row numbers of the deterministic sample (the same rows for the same row count)."""
    rng = np.random.default_rng(_SAMPLE_SEED)
    return np.sort(rng.choice(total, size=max_rows, replace=False))


def sample_stream(open_reader: Callable[[list[str] | None], pa.RecordBatchReader], *, max_rows: int) -> Sampled:
    """The rows `run_suite` would validate, drawn from a re-readable stream holding one batch at a time.

    `open_reader(columns)` opens the stream (of only `columns` when given). A first pass counts
    the live rows (the `_deleted` column only); the second keeps the same sample `run_suite`
    takes from the whole table, so results do not depend on how the rows were held.
    """
    counts: list[int] = []
    schema = open_reader(None).schema
    has_deleted = "_deleted" in schema.names
    for batch in open_reader(["_deleted"] if has_deleted else None):
        flag = batch.column("_deleted").fill_null(False) if has_deleted else None
        counts.append(batch.num_rows - (pc.sum(flag).as_py() or 0 if flag is not None else 0))
    total = sum(counts)
    wanted = _sample_indices(total, max_rows) if total > max_rows else None
    parts, offset = [], 0
    for batch in open_reader(None):
        live = _live(pa.Table.from_batches([batch]))
        if wanted is None:
            parts.append(live)
        else:
            lo, hi = np.searchsorted(wanted, [offset, offset + live.num_rows])
            if hi > lo:
                parts.append(live.take(pa.array(wanted[lo:hi] - offset)))
        offset += live.num_rows
    rows = pa.concat_tables(parts) if parts else _live(schema.empty_table())
    return Sampled(rows, total, wanted is not None)


def build_suite(contract: Contract) -> gx.ExpectationSuite:
    """The contract's dataset expectations: row count, not-null, unique key, value sets, ranges, nulls."""
    import great_expectations as gx

    _ephemeral_context()  # GX 1.x builds suites against the active context
    ge = gx.expectations
    suite = gx.ExpectationSuite(name=f"govhub.{contract.resource}")
    dataset = contract.dataset
    if "min_rows" in dataset:
        suite.add_expectation(
            ge.ExpectTableRowCountToBeBetween(min_value=int(dataset["min_rows"]), meta={"from": "dataset.min_rows"})
        )
    for f in contract.fields:
        if f.required:
            suite.add_expectation(ge.ExpectColumnValuesToNotBeNull(column=f.name, meta={"from": "required"}))
    if len(contract.primary_key) == 1:
        suite.add_expectation(
            ge.ExpectColumnValuesToBeUnique(column=contract.primary_key[0], meta={"from": "primary_key"})
        )
    else:
        suite.add_expectation(
            ge.ExpectCompoundColumnsToBeUnique(column_list=list(contract.primary_key), meta={"from": "primary_key"})
        )
    for f in contract.fields:
        for check in f.checks:
            severity = "warning" if check.severity == "warn" else "critical"
            meta = {"from": f"checks.{check.rule}", "dimension": check.dimension}
            if check.rule == "enum":
                codes = sorted(contract.code_tables[check.params["table"]].codes)
                suite.add_expectation(
                    ge.ExpectColumnValuesToBeInSet(column=f.name, value_set=codes, severity=severity, meta=meta)
                )
            elif check.rule == "range":
                low, high = (_bound(check.params.get(k), f.type) for k in ("min", "max"))
                suite.add_expectation(
                    ge.ExpectColumnValuesToBeBetween(
                        column=f.name, min_value=low, max_value=high, severity=severity, meta=meta
                    )
                )
    for name, share in (dataset.get("max_null_share") or {}).items():
        if name not in contract.field_names:
            raise QualityError(f"{contract.file}: dataset.max_null_share names unknown field '{name}'")
        suite.add_expectation(
            ge.ExpectColumnValuesToNotBeNull(
                column=name,
                mostly=round(1.0 - float(share), 6),
                meta={"from": "dataset.max_null_share", "max_null_share": share},
            )
        )
    return suite


def run_suite(table: pa.Table | Sampled, contract: Contract, *, max_rows: int = 100_000) -> SuiteResult:
    """Run the contract's suite over a table of curated rows (source deletions are left out).

    Args:
        table: typed rows, e.g. `Verdict.accepted` or a dataset version read from the lake, or a
            `Sampled` one taken from a stream by `sample_stream`.
        contract: the resource's contract.
        max_rows: above this many rows, a deterministic random sample of `max_rows` is validated
            (uniqueness and row counts then describe the sample; the sample size is recorded).
    """
    import great_expectations as gx

    started = time.perf_counter()
    if isinstance(table, Sampled):
        table, total, sampled = table.rows, table.total, table.sampled
    else:
        table = _live(table)
        total = table.num_rows
        sampled = total > max_rows
        if sampled:
            table = table.take(pa.array(_sample_indices(total, max_rows)))
    frame = _to_pandas(table, contract)
    context = _ephemeral_context()
    asset = context.data_sources.add_pandas("govhub").add_dataframe_asset(name=contract.resource)
    batch = asset.add_batch_definition_whole_dataframe("increment").get_batch(batch_parameters={"dataframe": frame})
    suite = build_suite(contract)
    outcome = batch.validate(suite).to_json_dict()
    results = [_compact(r) for r in outcome["results"]]
    seconds = time.perf_counter() - started
    log.info(
        "suite %s on %s of %s rows: success=%s in %.2fs",
        suite.name,
        len(frame),
        total,
        outcome["success"],
        seconds,
    )
    return SuiteResult(
        resource=contract.resource,
        suite=suite.name,
        success=bool(outcome["success"]),
        total_rows=total,
        evaluated_rows=len(frame),
        sampled=sampled,
        results=results,
        statistics=dict(outcome.get("statistics") or {}),
        seconds=round(seconds, 3),
        gx_version=gx.__version__,
    )


def _ephemeral_context():
    """A fresh in-memory GX context (no files, no analytics, no progress bars); it becomes the active one."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )


def _to_pandas(table: pa.Table, contract: Contract):
    """Decimals become floats (GX compares numbers), dates stay datetime.date objects."""
    columns = {}
    for f in contract.fields:
        col = table.column(f.name)
        columns[f.name] = col.cast(pa.float64()) if f.type == "decimal" else col
    return pa.table(columns).to_pandas(date_as_object=True)


def _bound(raw: Any, kind: str) -> Any:
    if raw is None:
        return None
    if kind == "date":
        return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
    if kind == "integer":
        return int(raw)
    return float(raw)


def _compact(result: dict[str, Any]) -> dict[str, Any]:
    config = result.get("expectation_config") or {}
    kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    raw = result.get("result") or {}
    kept = {k: raw[k] for k in _KEEP_RESULT_KEYS if k in raw}
    if "partial_unexpected_list" in kept:
        kept["partial_unexpected_list"] = kept["partial_unexpected_list"][:20]
    exception = result.get("exception_info") or {}
    return {
        "expectation": config.get("type"),
        "kwargs": kwargs,
        "severity": config.get("severity", "critical"),
        "meta": config.get("meta") or {},
        "success": bool(result.get("success")),
        "result": kept,
        "exception": exception.get("exception_message") if exception.get("raised_exception") else None,
    }
