"""Health is honest: no published version or nothing accepted is never fresh; refused files are problems."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from catalog import utcnow
from cli.main import app
from govhub.db import session_scope
from govhub.models import IngestRun
from govhub.pipeline import run_ingest
from govhub.settings import get_settings
from govhub.status import assess_health, resource_statuses
from schemas import load_contract
from web.monitor.alerts import collect_alerts
from web.monitor.queries import overview_rows

METADATA_STORES = ("sqlite",)


def _status(resource: str):
    with session_scope() as session:
        return next(s for s in resource_statuses(session) if s.resource == resource)


def test_a_run_that_accepted_nothing_before_person_published_is_not_fresh(hub) -> None:
    summary = run_ingest("legal_entity")  # person has not published: every reference is late
    assert summary["status"] == "succeeded" and summary["accepted"] == 0 and summary["extracted"] > 0
    status = _status("legal_entity")
    assert status.freshness == "unpublished" and status.version is None
    assert any("尚无已发布版本" in why for why in status.reasons)
    assert any("待关联" in why for why in status.reasons) and status.pending == summary["pending"]
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.startswith("│ legal_entity"))
    assert "及时" not in line and "尚无发布版本" in line
    with session_scope() as session:
        alerts, _ = collect_alerts(session, keys_dir=get_settings().keys_dir)
    assert any(a.kind == "not_fresh" and a.resource == "legal_entity" for a in alerts)

    run_ingest("person")  # the recheck promotes the waiting rows: a version, fresh again
    status = _status("legal_entity")
    assert status.version is not None and status.freshness == "fresh" and status.pending == 0


def test_assess_health_never_calls_an_empty_run_fresh() -> None:
    contract = load_contract("person")
    now = utcnow()
    run = IngestRun(
        run_id="r",
        resource="person",
        seq=1,
        status="succeeded",
        extracted=500,
        accepted=0,
        rejected=500,
        pending=0,
        finished_at=now,
    )
    assert assess_health(contract, last_success=run, version=3, pending=0, now=now).freshness == "nothing_accepted"
    assert assess_health(contract, last_success=run, version=None, pending=0, now=now).freshness == "unpublished"
    assert assess_health(contract, last_success=None, version=None, pending=0, now=now).freshness == "never"
    later = assess_health(contract, last_success=run, version=3, pending=0, now=now, promoted_since=480)
    assert later.freshness == "fresh"  # a recheck published what the run had set aside
    empty = IngestRun(
        run_id="e",
        resource="person",
        seq=2,
        status="succeeded",
        extracted=0,
        accepted=0,
        finished_at=now - timedelta(days=3),
    )
    stale = assess_health(contract, last_success=empty, version=3, pending=0, now=now)
    assert stale.freshness == "overdue" and stale.overdue_by > timedelta(days=1)


def test_refused_settlement_file_makes_the_run_succeed_with_problems(hub) -> None:
    files = sorted(hub.sources.inbox.glob("settlement_*.csv"))
    broken = files[-1]
    broken.write_bytes(broken.read_bytes()[:-40])  # the transfer broke off: the manifest's sha256 no longer fits
    run_ingest("person")
    summary = run_ingest("payment")
    assert summary["status"] == "succeeded"
    assert any(p["name"] == broken.name and p["severity"] == "error" for p in summary["problems"])
    status = _status("payment")
    assert status.last_status == "succeeded_with_problems"
    assert any(broken.name in why for why in status.reasons)
    with session_scope() as session:
        row = next(r for r in overview_rows(session) if r["resource"] == "payment")
        alerts, _ = collect_alerts(session, keys_dir=get_settings().keys_dir)
    assert row["last_status"] == "succeeded_with_problems" and row["problems"]
    alert = next(a for a in alerts if a.kind == "source_problems")
    assert alert.resource == "payment" and broken.name in alert.detail
    result = CliRunner().invoke(app, ["status"])
    assert "成功但有问题" in result.output
