"""The full Great Expectations 1.x suite generated from a contract, and the result format both engines share.

The suite holds the contract's expectations (`quality.expectations`: volume, null shares,
uniqueness, value sets, ranges); row-level verdicts come from `quality.verdict`, and the
dataset-level part alone is evaluated without GX by `quality.dataset_suite`. GX is imported
lazily (it takes seconds to import); a process keeps one in-memory context, its data source and
each contract's suite, so a warm worker pays the set-up once. Results are returned as a
JSON-ready dict for the hub's own metadata store (GX has no S3 store). Tables larger than
`max_rows` are validated on a deterministic sample.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quality.expectations import expectation_specs
from schemas import Contract

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


# A warm worker's GX state: one in-memory context, its pandas data source, a whole-dataframe batch
# definition per resource and a suite per contract. Guarded by one lock (GX contexts are not thread-safe).
_GX_LOCK = threading.RLock()
_GX: dict[str, Any] = {}
_SUITES: dict[int, tuple[Contract, gx.ExpectationSuite]] = {}


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
    gx_version: str | None
    engine: str = "great_expectations"  # or "govhub": the dataset-level expectations evaluated in Arrow
    scope: str = "increment"  # or "version": a whole curated version (the scheduled check)

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
    the live rows (the `_deleted` column, or the first one); the second keeps the same sample `run_suite`
    takes from the whole table, so results do not depend on how the rows were held.
    """
    counts: list[int] = []
    schema = open_reader(None).schema
    has_deleted = "_deleted" in schema.names
    for batch in open_reader(["_deleted"] if has_deleted else schema.names[:1]):  # one column to count
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
    """The contract's dataset expectations (`quality.expectations`) as a GX suite, built once per contract.

    Row count, not-null, unique key, value sets, ranges, null shares. The suite is cached with the
    hub's GX context: a warm worker builds it once, and every run validates against the same object.
    """
    with _GX_LOCK:
        return _suite_for(contract)


def _suite_for(contract: Contract) -> gx.ExpectationSuite:
    import great_expectations as gx

    cached = _SUITES.get(id(contract))
    if cached is not None and cached[0] is contract:
        return cached[1]
    _context()  # GX 1.x builds suites against the active context
    suite = gx.ExpectationSuite(name=f"govhub.{contract.resource}")
    for spec in expectation_specs(contract):
        expectation = getattr(gx.expectations, spec.gx_class)
        kwargs = {k: v for k, v in spec.kwargs.items() if v is not None}  # an open bound is GX's default
        suite.add_expectation(expectation(**kwargs, severity=spec.severity, meta=dict(spec.meta)))
    _SUITES[id(contract)] = (contract, suite)
    return suite


def run_suite(
    table: pa.Table | Sampled, contract: Contract, *, max_rows: int = 100_000, scope: str = "increment"
) -> SuiteResult:
    """Run the contract's full GX suite over a table of curated rows (source deletions are left out).

    Args:
        table: typed rows, e.g. `Verdict.accepted` or a dataset version read from the lake, or a
            `Sampled` one taken from a stream by `sample_stream`.
        contract: the resource's contract.
        max_rows: above this many rows, a deterministic random sample of `max_rows` is validated
            (uniqueness and row counts then describe the sample; the sample size is recorded).
        scope: what the rows are, recorded with the result: `increment` or `version`.
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
    _no_batch_fingerprint()
    with _GX_LOCK:  # one validation at a time on the shared context
        suite = _suite_for(contract)
        batch = _batch_definition(contract).get_batch(batch_parameters={"dataframe": frame})
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
        scope=scope,
    )


def _context() -> Any:
    """The hub's in-memory GX context (no files, no analytics, no progress bars), made once per process."""
    context = _GX.get("context")
    if context is None:
        context = _GX["context"] = _ephemeral_context()
    return context


def _batch_definition(contract: Contract) -> Any:
    """The resource's whole-dataframe batch definition on the cached context (made on first use)."""
    key = f"batch:{contract.resource}"
    if key not in _GX:
        source = _GX.get("source")
        if source is None:
            source = _GX["source"] = _context().data_sources.add_pandas("govhub")
        asset = source.add_dataframe_asset(name=contract.resource)
        _GX[key] = asset.add_batch_definition_whole_dataframe("increment")
    return _GX[key]


def _no_batch_fingerprint() -> None:
    """Stop GX from fingerprinting every dataframe it validates.

    GX's pandas engine MD5-hashes every value of a batch (`pandas_data_fingerprint`, a batch
    marker) below its 1 GB threshold — twice per validation, 0.35 CPU s of the 100,000-row suite's
    ~1.3 s (bench/README.md). The marker only describes the batch; govhub stores neither it nor the
    batch metadata (`_compact`), so the hash is work for nothing. The engine reads the threshold
    at call time; zero skips the hash.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


def _ephemeral_context() -> Any:
    """A fresh in-memory GX context; it becomes the active one."""
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
