"""Source faults through the whole pipeline: each ends as documented (retried, failed cleanly, refused)
and, once the fault clears, a re-run takes every row; nothing is lost, counts reconcile on every run.

What connectors/README.md documents and these tests hold the pipeline to:
- credit platform: timeouts, 429/5xx and invalid or truncated JSON are retried with backoff; a fault that
  outlasts the retries (or a refused token, at once) fails the run, and the watermark stays;
- registries: an unreachable, locked or damaged database fails the run, the watermark stays;
- settlement files: a file whose manifest, checksum or row count disagrees is refused, left in the
  inbox and reported, the others go on; identical re-sends are skipped; a late file is taken.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from govhub.pipeline import run_ingest
from govhub.settings import reset_settings
from schemas import PipelineError
from simulators import corrupt, tick_all
from simulators.home import build_population
from simulators.nontax import manifest_path, settlement_name
from simulators.testing import POSTGRES_URL, server_database
from tests.reliability.input_hub import (
    FaultHub,
    add_credit_records,
    curated_keys,
    curated_version,
    last_run,
    open_hub,
    quarantine_rows,
    rows_lost,
    tune_connectors,
    watermark,
)
from tests.reliability.ledger import record
from tests.service_db import metadata_store, postgres_unreachable  # noqa: F401

HUB_SIZE = 400


@pytest.fixture
def fhub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metadata_store) -> Iterator[FaultHub]:  # noqa: F811
    with open_hub(tmp_path, monkeypatch, metadata_store.fresh_url(tmp_path), size=HUB_SIZE) as hub:
        yield hub


@contextlib.contextmanager
def fault_case(case: str) -> Iterator[dict[str, Any]]:
    """One injected fault: recorded as held when its block ends without an assertion failing.

    The block sets facts["lost"] (rows lost, computed) and may add figures; it asserts the outcome.
    """
    facts: dict[str, Any] = {"lost": 0}
    started = time.perf_counter()
    try:
        yield facts
    except BaseException:
        facts["seconds"] = round(time.perf_counter() - started, 2)
        record("faults", case, tried=1, held=0, rows_lost=facts.pop("lost"), **facts)
        raise
    facts["seconds"] = round(time.perf_counter() - started, 2)
    lost = facts.pop("lost")
    record("faults", case, tried=1, held=1 if lost == 0 else 0, rows_lost=lost, **facts)
    assert lost == 0, f"{case}: {lost} rows lost"


def _reconciled(summary: dict[str, Any]) -> None:
    assert summary["status"] == "succeeded", summary
    assert summary["extracted"] == summary["accepted"] + summary["rejected"] + summary["pending"], summary


def _failed_cleanly(resource: str, before: tuple[Any, int], version: int | None, *, error: str) -> None:
    """The run is recorded failed with the cause, the watermark and curated version did not move, and
    it quarantined nothing."""
    run = last_run(resource)
    assert run.status == "failed", run
    assert error in (run.error or ""), run.error
    assert watermark(resource) == before, "the watermark moved on a failed run"
    assert curated_version(resource) == version, "a failed run changed the curated table"
    assert not [q for q in quarantine_rows(resource) if q["run_id"] == run.run_id]


# ---- credit platform -----------------------------------------------------------------------------

# (case, fault mode, normal requests before it, faulty requests (None: until cleared), expected outcome)
CREDIT_FAULTS: list[tuple[str, str, int, int | None, str]] = [
    ("credit platform answers 503 twice, then recovers", "error503", 0, 2, "HTTP 503"),
    ("credit platform hangs on a page mid-stream (timeout), then recovers", "hang", 2, 1, "timed out"),
    ("credit platform sends garbled JSON mid-stream, then recovers", "garbled", 1, 2, "invalid JSON"),
    ("credit platform sends truncated pages mid-stream, then recovers", "truncated", 2, 2, "invalid JSON"),
    ("credit platform rate-limits the hub (HTTP 429)", "rate_limit", 0, None, "HTTP 429"),
    ("credit platform unavailable (503) for a whole run, then recovers", "error503", 1, None, "failed after"),
    ("credit platform hangs for a whole run, then recovers", "hang", 0, None, "failed after"),
    ("credit platform refuses the hub's token (401), then the token is renewed", "token", 0, None, "HTTP 401"),
]


# small pages so a read spans several requests; short backoffs; four attempts per page; a generous
# timeout (a busy test machine must not time out by itself) except where the platform hangs
CREDIT_TUNING: dict[str, Any] = {
    "page_size": 3,
    "backoff": 0.02,
    "max_backoff": 0.2,
    "max_retry_after": 0.3,
    "max_retries": 3,
    "timeout": 5.0,
}
CASE_TUNING: dict[str, dict[str, Any]] = {
    "hang": {"timeout": 0.5},
    "rate_limit": {"page_size": 1000, "max_retry_after": 1.0},  # wait as long as the platform asks
}


def test_credit_platform_faults_are_retried_or_fail_cleanly(
    fhub: FaultHub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tune_connectors(monkeypatch, "credit", **CREDIT_TUNING)
    caplog.set_level(logging.WARNING, logger="connectors.http")
    for resource in ("person", "legal_entity", "credit_record"):
        _reconciled(run_ingest(resource))
    credit = fhub.credit
    for day, (case, mode, after, count, expect) in enumerate(CREDIT_FAULTS, start=1):
        changed = add_credit_records(fhub.sources, 7, stamp=fhub.sources.epoch + dt.timedelta(days=day, hours=2))
        with fault_case(case) as facts:
            before, version = watermark("credit_record"), curated_version("credit_record")
            caplog.clear()
            requests = credit.requests
            persistent = count is None and mode not in ("rate_limit",)
            tune_connectors(monkeypatch, "credit", **{**CREDIT_TUNING, **CASE_TUNING.get(mode, {})})
            if mode == "rate_limit":  # another client of the same token has just used this second's budget
                with credit.state.lock:
                    credit.state.rate_limit = 1
                    credit.state.hits[credit.state.token].append(time.monotonic())
            elif mode == "token":
                credit.state.token = "revoked-" + credit.state.token
            else:
                credit.set_fault(mode, after_requests=after, count=count)  # type: ignore[arg-type]
            try:
                if persistent:
                    with pytest.raises(PipelineError, match=expect):
                        run_ingest("credit_record")
                    _failed_cleanly("credit_record", before, version, error=expect)
                    retries = _retries(caplog)
                    facts["outcome"] = "failed, watermark kept"
                    if mode == "token":
                        assert retries == 0 and credit.requests - requests == 1, "a refused token must not be retried"
                    else:
                        assert retries >= 3, f"expected every retry to be spent, saw {retries}"
                else:
                    summary = run_ingest("credit_record")
                    _reconciled(summary)
                    assert summary["extracted"] == changed, (summary["extracted"], changed)
                    retries = _retries(caplog, expect)
                    assert retries >= (count or 1), f"the fault was not met and retried ({retries} retries)"
                    facts["outcome"] = "retried"
            finally:
                tune_connectors(monkeypatch, "credit", **CREDIT_TUNING)
                credit.set_fault("ok")
                credit.state.rate_limit = 1_000
                credit.state.token = fhub.sources.token
            facts["retries"] = retries
            if persistent:  # the fault cleared: the re-run takes exactly what the failed run could not
                summary = run_ingest("credit_record")
                _reconciled(summary)
                assert summary["extracted"] == changed, (summary["extracted"], changed)
                assert watermark("credit_record")[0] != before[0]
            offered, facts["lost"] = rows_lost("credit_record", fhub.sources)
            facts["rows_offered"] = offered


def _retries(caplog: pytest.LogCaptureFixture, cause: str = "") -> int:
    return sum(
        1
        for r in caplog.records
        if r.name == "connectors.http" and "retrying" in r.getMessage() and cause in r.getMessage()
    )


# ---- population and legal-entity registries ------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    return Path(sa.make_url(url).database or "")


def _checkpoint(db: Path) -> None:
    """Fold the WAL into the database file, so a file copy is the whole database."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _zero_pages(db: Path) -> Callable[[], None]:
    """Storage failure: every page after the first reads as zeros (the header stays)."""

    def strike() -> None:
        size = db.stat().st_size
        with db.open("r+b") as f:
            f.seek(4096)
            f.write(b"\0" * (size - 4096))

    return strike


def test_registry_faults_fail_the_run_and_a_rerun_takes_everything(
    fhub: FaultHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    strike: dict[str, Callable[[], None] | None] = {"fault": None}

    def after_first_batch() -> None:
        fault, strike["fault"] = strike["fault"], None
        if fault is not None:
            fault()

    # small batches so a read spans several; a short busy timeout so a locked database fails fast
    tune_connectors(
        monkeypatch,
        ("population", "legal_entity"),
        batch_size=5,
        after_first_batch=after_first_batch,
        engine_options={"connect_args": {"timeout": 0.5}},
    )
    sources = fhub.sources
    population, entities = _sqlite_path(sources.population_url), _sqlite_path(sources.legal_entity_url)

    # 1. the very first (full) read fails: the registry file is not where it should be
    with fault_case("population registry file missing (moved away), then put back") as facts:
        population.rename(population.with_suffix(".away"))
        try:
            with pytest.raises(PipelineError, match="does not exist"):
                run_ingest("person")
            _failed_cleanly("person", (None, 0), None, error="does not exist")
        finally:
            population.with_suffix(".away").rename(population)
        summary = run_ingest("person")
        _reconciled(summary)
        assert summary["extracted"] == sources.counts["person"]
        facts["rows_offered"], facts["lost"] = rows_lost("person", sources)
    _reconciled(run_ingest("legal_entity"))

    # 2. another process holds an exclusive lock on the registry
    day = 1
    tick_all(sources.root, day=day, change_share=0.1)
    with fault_case("population registry locked by another process, then released") as facts:
        before, version = watermark("person"), curated_version("person")
        holder = sqlite3.connect(population, isolation_level=None)
        try:
            holder.execute("PRAGMA locking_mode=EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(PipelineError, match="locked"):
                run_ingest("person")
            _failed_cleanly("person", before, version, error="locked")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        summary = run_ingest("person")
        _reconciled(summary)
        assert summary["extracted"] > 0
        facts["rows_offered"], facts["lost"] = rows_lost("person", sources)

    # 3. a maintenance job renames the registry's table (the database answers, the table is gone)
    day += 1
    tick_all(sources.root, day=day, change_share=0.1)
    with fault_case("population registry table renamed during maintenance, then renamed back") as facts:
        before, version = watermark("person"), curated_version("person")
        with contextlib.closing(sqlite3.connect(population)) as conn:
            conn.execute("ALTER TABLE person RENAME TO person_maintenance")
        try:
            with pytest.raises(PipelineError, match="not found"):
                run_ingest("person")
            _failed_cleanly("person", before, version, error="not found")
        finally:
            with contextlib.closing(sqlite3.connect(population)) as conn:
                conn.execute("ALTER TABLE person_maintenance RENAME TO person")
        summary = run_ingest("person")
        _reconciled(summary)
        assert summary["extracted"] > 0
        facts["rows_offered"], facts["lost"] = rows_lost("person", sources)

    # 4./5. storage fails mid-read (after the first batch was handed over); the DBA restores a backup
    for resource, db, case in (
        ("person", population, "population registry storage fails mid-read, then restored from backup"),
        ("legal_entity", entities, "legal-entity registry storage fails mid-read, then restored from backup"),
    ):
        day += 1
        tick_all(sources.root, day=day, change_share=0.5)
        _reconciled(run_ingest("person")) if resource == "legal_entity" else None
        with fault_case(case) as facts:
            before, version = watermark(resource), curated_version(resource)
            _checkpoint(db)
            backup = db.with_suffix(".backup")
            shutil.copyfile(db, backup)
            strike["fault"] = _zero_pages(db)
            try:
                with pytest.raises(PipelineError, match=r"malformed|not a database|disk I/O"):
                    run_ingest(resource)
                assert strike["fault"] is None, "the fault did not strike mid-read"
                _failed_cleanly(resource, before, version, error="failed")
            finally:
                strike["fault"] = None
                for suffix in ("-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                os.replace(backup, db)
            summary = run_ingest(resource)
            _reconciled(summary)
            assert summary["extracted"] > 5, "the re-read should span several batches"
            facts["rows_offered"], facts["lost"] = rows_lost(resource, sources)


@pytest.mark.services
def test_postgres_registry_connection_killed_mid_stream(fhub: FaultHub, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with server_database(POSTGRES_URL, prefix="govhub_faults") as url:
        build_population(url, size=HUB_SIZE, seed=23, bad_share=0.02)
        monkeypatch.setenv("GOVHUB_POPULATION_URL", url)
        reset_settings()
        database = sa.make_url(url).database

        def kill() -> None:
            admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                killed = conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).scalar_one()
            admin.dispose()
            assert killed >= 1, "no reading connection to kill"

        tune_connectors(monkeypatch, "population", batch_size=25, after_first_batch=kill)
        with fault_case("population registry (PostgreSQL) connection killed mid-stream, then back") as facts:
            with pytest.raises(PipelineError, match=r"terminat|connection|closed"):
                run_ingest("person")
            _failed_cleanly("person", (None, 0), None, error="failed")
            tune_connectors(monkeypatch, "population", batch_size=25)
            summary = run_ingest("person")
            _reconciled(summary)
            assert summary["extracted"] == HUB_SIZE
            facts["rows_offered"], facts["lost"] = rows_lost("person", replace(fhub.sources, population_url=url))


# ---- settlement files ----------------------------------------------------------------------------


def _taken(name: str) -> bool:
    state, _ = watermark("payment")
    return name in ((state or {}).get("taken") or {})


def _problem(summary: dict[str, Any], name: str) -> str:
    return " / ".join(p["reason"] for p in summary["problems"] if p["name"] == name)


def _new_file(fhub: FaultHub, day: int, rows: int = 12) -> Path:
    from tests.reliability.input_hub import write_settlement_day

    return write_settlement_day(fhub.sources, fhub.sources.epoch.date() + dt.timedelta(days=day), rows)


def test_settlement_file_faults_are_refused_or_skipped_and_nothing_is_lost(fhub: FaultHub) -> None:
    sources = fhub.sources
    _reconciled(run_ingest("person"))
    _reconciled(run_ingest("payment"))

    def refused_then_resent(case: str, day: int, damage: Callable[[Path], None], reason: str) -> None:
        path = _new_file(fhub, day)
        good_csv, good_manifest = path.read_bytes(), manifest_path(path).read_bytes()
        with fault_case(case) as facts:
            damage(path)
            summary = run_ingest("payment")
            _reconciled(summary)
            assert reason in _problem(summary, path.name), summary["problems"]
            assert summary["extracted"] == 0
            assert path.exists() and not _taken(path.name), "a refused file must stay in the inbox, not taken"
            path.write_bytes(good_csv)  # the provider sends the file again, whole
            manifest_path(path).write_bytes(good_manifest)
            summary = run_ingest("payment")
            _reconciled(summary)
            assert summary["extracted"] == 12 and _taken(path.name)
            facts["reported"] = reason
            facts["rows_offered"], facts["lost"] = rows_lost("payment", sources)

    refused_then_resent(
        "settlement file cut short in transfer (checksum disagrees), then re-sent",
        1,
        lambda p: corrupt.truncate(p, keep=0.6),
        "sha256 mismatch",
    )
    refused_then_resent(
        "settlement file cut short, checksum recomputed (row count disagrees), then re-sent",
        2,
        lambda p: corrupt.truncate(p, keep=0.6, fix_manifest=True),
        "row count mismatch",
    )
    for day, (what, reason) in enumerate(
        (("rows", "row count mismatch"), ("sha256", "sha256 mismatch"), ("file", "manifest names file")), start=3
    ):
        refused_then_resent(
            f"settlement manifest with a wrong {what}, then corrected",
            day,
            lambda p, w=what: corrupt.wrong_manifest(p, what=w),
            reason,
        )
    refused_then_resent(
        "settlement file without its manifest (not ready), then the manifest arrives",
        6,
        lambda p: corrupt.wrong_manifest(p, what="missing"),
        "not ready",
    )

    first = _new_file(fhub, 7)
    _reconciled(run_ingest("payment"))
    keys = len(curated_keys("payment"))
    with fault_case("settlement file re-sent twice (identical)") as facts:
        for _ in range(2):
            corrupt.resend(first, sources.inbox)
            summary = run_ingest("payment")
            _reconciled(summary)
            assert summary["extracted"] == 0 and "identical re-send skipped" in _problem(summary, first.name)
        assert len(curated_keys("payment")) == keys
        facts["rows_offered"], facts["lost"] = rows_lost("payment", sources)

    with fault_case("settlement file re-sent under another name (same rows)") as facts:
        copy = corrupt.resend(first, sources.inbox, name=first.name.replace(".csv", "_resend.csv"))
        summary = run_ingest("payment")
        _reconciled(summary)
        assert summary["extracted"] == 12 and _taken(copy.name)
        assert len(curated_keys("payment")) == keys, "a re-sent file must not duplicate payments"
        facts["rows_offered"], facts["lost"] = rows_lost("payment", sources)

    with fault_case("settlement file re-sent under its name with other content") as facts:
        good_csv, good_manifest = first.read_bytes(), manifest_path(first).read_bytes()
        corrupt.flip_bytes(first, count=1)
        summary = run_ingest("payment")
        _reconciled(summary)
        assert "already taken with sha256" in _problem(summary, first.name) and summary["extracted"] == 0
        assert first.exists()
        first.write_bytes(good_csv)  # resolved with the provider: the original stands
        manifest_path(first).write_bytes(good_manifest)
        assert run_ingest("payment")["extracted"] == 0
        facts["rows_offered"], facts["lost"] = rows_lost("payment", sources)

    with fault_case("settlement inbox unmounted during a run, then mounted again") as facts:
        waiting = _new_file(fhub, 10)
        before, version = watermark("payment"), curated_version("payment")
        unmounted = sources.inbox.with_name("inbox.unmounted")
        sources.inbox.rename(unmounted)
        try:
            with pytest.raises(PipelineError, match="does not exist"):
                run_ingest("payment")
            _failed_cleanly("payment", before, version, error="does not exist")
        finally:
            unmounted.rename(sources.inbox)
        summary = run_ingest("payment")
        _reconciled(summary)
        assert summary["extracted"] == 12 and _taken(waiting.name)
        facts["rows_offered"], facts["lost"] = rows_lost("payment", sources)

    with fault_case("settlement files arrive out of order") as facts:
        late, later = _new_file(fhub, 8), _new_file(fhub, 9)
        held = sources.root / "held"
        held.mkdir()
        for p in (late, manifest_path(late)):
            p.rename(held / p.name)
        summary = run_ingest("payment")
        _reconciled(summary)
        assert summary["extracted"] == 12 and _taken(later.name) and not _taken(late.name)
        for p in held.iterdir():
            p.rename(sources.inbox / p.name)
        summary = run_ingest("payment")
        _reconciled(summary)
        assert summary["extracted"] == 12 and _taken(late.name)
        assert "out of order" in _problem(summary, late.name)
        assert settlement_name(sources.epoch.date() + dt.timedelta(days=8)) == late.name
        facts["rows_offered"], facts["lost"] = rows_lost("payment", sources)
