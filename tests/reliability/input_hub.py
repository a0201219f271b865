"""A hub over simulated sources for the fault and bad-input suites, and the reconciliation they share.

`open_hub(...)` builds the four source systems, serves the credit platform, points GOVHUB_* at them and
yields a `FaultHub`. The reconciliation helpers say where every row a source offered ended up: in the
curated table, in quarantine, or nowhere (lost). They read the sources directly, never the hub's counts.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from connectors import connector_for as _connector_for
from govhub.db import session_scope
from govhub.models import IngestRun, ResourceState
from govhub.pipeline import ingest_order
from govhub.pipeline.resources import open_resource
from govhub.settings import reset_settings
from schemas import load_contract
from simulators import CreditSimulator, SimulatorHome, build_all
from simulators.nontax import generate_payments, write_settlement
from simulators.registry import connect, insert_rows, reflect_table, update_rows
from tests.hub_support import configure_hub_env

__all__ = [
    "FaultHub",
    "RunFacts",
    "add_credit_records",
    "curated_keys",
    "last_run",
    "open_hub",
    "quarantine_rows",
    "rows_lost",
    "source_rows",
    "tune_connectors",
    "watermark",
    "write_settlement_day",
]

RESOURCES = tuple(ingest_order())


@dataclass
class FaultHub:
    """A hub (GOVHUB_HOME) with its simulated sources and the running credit platform."""

    home: Path
    sources: SimulatorHome
    credit: CreditSimulator


@contextlib.contextmanager
def open_hub(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
    *,
    size: int = 400,
    seed: int = 23,
    bad_share: float = 0.02,
    rate_limit: float = 1_000,
) -> Iterator[FaultHub]:
    """Sources of `size` persons in `tmp_path/sources`, the hub in `tmp_path/hub` on `store_url`."""
    monkeypatch.setenv("GOVHUB_DB_URL", store_url)
    sources = build_all(tmp_path / "sources", size=size, seed=seed, bad_share=bad_share)
    with CreditSimulator(sources.credit_db, token=sources.token, rate_limit=rate_limit) as credit:
        configure_hub_env(monkeypatch, tmp_path / "hub", sources, credit.base_url)
        try:
            yield FaultHub(home=tmp_path / "hub", sources=sources, credit=credit)
        finally:
            reset_settings()


def tune_connectors(
    monkeypatch: pytest.MonkeyPatch,
    systems: str | tuple[str, ...],
    *,
    batch_size: int | None = None,
    after_first_batch: Callable[[], None] | None = None,
    **config: Any,
) -> None:
    """Lay connection options over one source system's config, as a deployment's connection extras do
    (e.g. the credit platform's `page_size`, `backoff`); the pipeline builds its connectors as usual.

    `after_first_batch` runs once the connector has handed over its first batch of a read: a fault
    that strikes mid-stream (the next batch comes from the source after it).
    """
    import connectors

    def connector_for(contract, base, **kwargs):  # type: ignore[no-untyped-def]
        if contract.source.system not in ((systems,) if isinstance(systems, str) else systems):
            return _connector_for(contract, base, **kwargs)
        if batch_size:
            kwargs["batch_size"] = batch_size
        conn = _connector_for(contract, {**base, **config}, **kwargs)
        if after_first_batch is not None:
            conn._run = _strike_after_first(conn._run, after_first_batch)
        return conn

    monkeypatch.setattr(connectors, "connector_for", connector_for)


def _strike_after_first(run: Callable[..., Generator], fault: Callable[[], None]) -> Callable[..., Generator]:
    def striking(*args: Any) -> Generator:
        gen = run(*args)
        try:
            first = next(gen)
        except StopIteration as stop:
            return stop.value
        yield first
        fault()
        return (yield from gen)

    return striking


# ---- what the hub holds ------------------------------------------------------------------------


def curated_keys(resource: str) -> set[str]:
    """Primary keys of the live rows of the curated table (tombstones left out)."""
    ctx = open_resource(resource)
    if not ctx.curated.exists():
        return set()
    table = ctx.curated.read()
    if "_deleted" in table.column_names:
        table = table.filter(pc.invert(pc.fill_null(table.column("_deleted"), False)))
    key = ctx.contract.primary_key[0]
    return {str(k) for k in table.column(key).to_pylist()}


def curated_version(resource: str) -> int | None:
    ctx = open_resource(resource)
    return ctx.curated.version() if ctx.curated.exists() else None


def quarantine_rows(resource: str, *, run_seq: int | None = None) -> list[dict[str, Any]]:
    """Quarantined rows (rejected and warned) as dicts."""
    table = open_resource(resource).quarantine.read(run_seq=run_seq)
    return table.to_pylist() if table.num_rows else []


def watermark(resource: str) -> tuple[Any, int]:
    """The committed watermark and sequence number of a resource."""
    with session_scope() as session:
        state = session.get(ResourceState, resource)
        return (None, 0) if state is None else (state.watermark, state.last_seq)


@dataclass(frozen=True)
class RunFacts:
    """The last run of a resource as the metadata store recorded it."""

    run_id: str
    status: str
    error: str | None
    extracted: int | None
    accepted: int | None
    rejected: int | None
    problems: list[dict[str, Any]]


def last_run(resource: str) -> RunFacts:
    with session_scope() as session:
        run = session.scalars(
            sa.select(IngestRun).where(IngestRun.resource == resource).order_by(IngestRun.started_at.desc())
        ).first()
        assert run is not None, f"no run of {resource} recorded"
        return RunFacts(
            run.run_id, run.status, run.error, run.extracted, run.accepted, run.rejected, list(run.problems or [])
        )


# ---- what the sources offered -------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRow:
    """One row a source offers: its key, and for files where it sits."""

    key: str
    file: str | None = None
    line: int | None = None


def source_rows(resource: str, sources: SimulatorHome) -> list[SourceRow]:
    """Every live row the source offers now: registry/credit rows not flagged deleted, every data line of
    every settlement file in the inbox that has a manifest."""
    contract = load_contract(resource)
    if contract.source.kind == "filedrop":
        return _file_rows(contract, sources.inbox)
    url = {
        "person": sources.population_url,
        "legal_entity": sources.legal_entity_url,
        "credit_record": sources.credit_url,
    }[resource]
    engine = connect(url)
    table = contract.source.options.get("table", resource)
    key, flag = contract.primary_key[0], contract.source.deleted_flag
    try:
        with engine.connect() as conn:
            keys = conn.exec_driver_sql(f"SELECT {key} FROM {table} WHERE {flag} = 0").scalars().all()
    finally:
        engine.dispose()
    return [SourceRow(str(k)) for k in keys]


def _file_rows(contract: Any, inbox: Path) -> list[SourceRow]:
    options = contract.source.options
    rows: list[SourceRow] = []
    for path in sorted(inbox.glob(options["pattern"])):
        if (
            path.name.endswith(options["manifest_suffix"])
            or not path.with_name(path.name + options["manifest_suffix"]).is_file()
        ):
            continue
        text = path.read_bytes().decode(options.get("encoding", "utf-8"), "replace")
        numbered = [(n, t.rstrip("\r")) for n, t in enumerate(text.split("\n"), start=1) if t.strip("\r\n\t ")]
        for n, line in numbered[1:]:
            try:
                first = next(csv.reader([line]), [""])
            except csv.Error:  # a broken line: kept (or not) by its file and line, not its key
                first = [""]
            rows.append(SourceRow(first[0] if first else "", path.name, n))
    return rows


def write_settlement_day(sources: SimulatorHome, day: dt.date, rows: int, *, seed: int = 5) -> Path:
    """A good settlement file (and its manifest) for `day`, written by the payment system's own writer;
    payers are persons of the population registry the simulator did not damage."""
    bad = {b.key for b in sources.bad_records if b.key}
    engine = connect(sources.population_url)
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(  # names as bytes: a registry may hold some that are not UTF-8
                "SELECT CAST(name AS BLOB), id_number FROM person WHERE status = '1' AND is_deleted = 0 "
                "ORDER BY id_number LIMIT 200"
            ).all()
    finally:
        engine.dispose()
    payers = [(name.decode(), code) for name, code in found if code not in bad and name and _utf8(name)]
    table, planned = generate_payments(rows, payers, seed=seed, day=day, bad_share=0.0)
    path, _ = write_settlement(sources.inbox, day, table, planned)
    return path


def add_credit_records(sources: SimulatorHome, n: int, *, stamp: dt.datetime, withdraw: int = 1) -> int:
    """`n` new credit records (copies of good ones under new record ids) and `withdraw` withdrawals, all
    stamped from `stamp` on, written to the platform's store with the simulator's own writers; returns
    the number of changed records the next read must deliver."""
    contract = load_contract("credit_record")
    bad = {b.key for b in sources.bad_records if b.key}
    engine = connect(sources.credit_url)
    table = reflect_table(engine, "credit_record")
    try:
        with engine.connect() as conn:
            live = [
                r._asdict()
                for r in conn.execute(sa.select(table).where(table.c.deleted == 0).order_by(table.c.record_id))
            ]
            top = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        good = [r for r in live if r["record_id"] not in bad]
        rows = []
        for i in range(n):
            row = dict(good[i % len(good)])
            prefix = row["record_id"].rstrip("0123456789")
            row["record_id"] = f"{prefix}{9 * 10**11 + top + i:012d}"
            row["updated_at"] = stamp + dt.timedelta(microseconds=i)
            rows.append(row)
        insert_rows(engine, table, rows)
        later = stamp + dt.timedelta(seconds=1)
        gone = [
            {"record_id": r["record_id"], "deleted": 1, "updated_at": later + dt.timedelta(microseconds=i)}
            for i, r in enumerate(good[-withdraw:] if withdraw else [])
        ]
        update_rows(engine, table, "record_id", gone)
    finally:
        engine.dispose()
    assert contract.primary_key == ("record_id",)
    return n + len(gone)


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def rows_lost(resource: str, sources: SimulatorHome, *, refused: frozenset[str] = frozenset()) -> tuple[int, int]:
    """(rows offered, rows in neither the curated table nor quarantine) for one resource.

    A settlement-file row counts as kept when its key is curated or its file and line are quarantined
    (a broken line has no usable key); a registry or credit row when its key is in either table. Rows of
    `refused` files (refused and reported, still in the inbox) are not offered.
    """
    offered = [r for r in source_rows(resource, sources) if r.file not in refused]
    curated = curated_keys(resource)
    quarantined = quarantine_rows(resource)
    keys = {q["row_key"] for q in quarantined}
    lines = {(q["source_file"], q["source_line"]) for q in quarantined}
    lost = [r for r in offered if r.key not in curated and r.key not in keys and (r.file, r.line) not in lines]
    return len(offered), len(lost)
