"""Late references: rows waiting for a referenced resource are pending, then promoted, or expire after the grace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from govhub.db import migrate, session_scope
from govhub.models import IngestRun, ResourceState
from govhub.pipeline import run_ingest
from govhub.pipeline.pending import open_rows
from govhub.pipeline.resources import open_resource
from tests.hub_support import configure_hub_env

METADATA_STORES = ("sqlite",)
ROOT = Path(__file__).resolve().parents[2]
ORDER = ["person", "legal_entity", "credit_record", "payment"]


def _curated(resource: str) -> pa.Table:
    ctx = open_resource(resource)
    key = ctx.contract.primary_key[0]
    return ctx.curated.read().sort_by(key)


def _open(resource: str, verdicts=("pending",)) -> list[dict]:
    ctx = open_resource(resource)
    with session_scope() as session:
        return open_rows(ctx, session, verdicts=verdicts).to_pylist()


def test_credit_before_its_references_is_pending_then_promoted_as_in_order(hub, tmp_path, monkeypatch) -> None:
    early = run_ingest("credit_record")
    assert early["accepted"] == 0 and early["version"] is None
    assert early["pending"] > early["rejected"]
    assert early["extracted"] == early["accepted"] + early["rejected"] + early["pending"]
    assert early["reconciled"] is True
    pending = _open("credit_record")
    assert len(pending) == early["pending"]
    assert all({r["rule"] for r in row["reasons"] if r["severity"] == "error"} == {"references"} for row in pending)
    with session_scope() as session:
        assert session.get(ResourceState, "credit_record").pending == early["pending"]

    person = run_ingest("person")  # credit rows about natural persons can go in now
    assert [r["resource"] for r in person["rechecks"]] == ["credit_record"]
    first = person["rechecks"][0]
    assert first["kind"] == "recheck" and first["outcomes"]["promoted"] > 0
    assert first["extracted"] == first["accepted"] + first["rejected"] + first["pending"]
    legal = run_ingest("legal_entity")  # and now those about legal entities
    second = legal["rechecks"][0]
    assert second["outcomes"]["promoted"] > 0 and second["outcomes"]["superseded"] == 0
    promoted = first["outcomes"]["promoted"] + second["outcomes"]["promoted"]
    assert promoted == early["pending"] - len(_open("credit_record"))
    from govhub.exchange_log import hub_log

    events = [e for e in hub_log().query(type="quarantine", resource="credit_record", limit=100)]
    logged = {(e.run_id, e.details.get("outcome")): e.rows for e in events if e.details.get("action") == "recheck"}
    assert logged[(first["run_id"], "promoted")] == first["outcomes"]["promoted"]
    assert logged[(first["run_id"], "still_pending")] == first["outcomes"]["still_pending"]
    assert (first["run_id"], "expired") in logged
    assert any(e.details.get("verdict") == "pending" and e.rows == early["pending"] for e in events)
    run_ingest("payment")
    late = {r: _curated(r) for r in ORDER}
    left = len(_open("credit_record"))
    with session_scope() as session:
        assert session.get(ResourceState, "credit_record").pending == left
        kinds = {run.kind for run in session.query(IngestRun).filter_by(resource="credit_record")}
        assert kinds == {"ingest", "recheck"}

    configure_hub_env(monkeypatch, tmp_path / "in-order", hub.sources, hub.credit.base_url)
    migrate()
    for resource in ORDER:
        run_ingest(resource)
    for resource in ORDER:
        assert _curated(resource).equals(late[resource]), resource
    assert len(_open("credit_record")) == left  # waiting for records the referenced resources rejected


def _grace(monkeypatch, resource: str, grace: int) -> None:
    """Give one contract another pending grace for this test (contracts are loaded once per process)."""
    from dataclasses import replace

    from schemas import load_all

    contracts = load_all()
    monkeypatch.setitem(contracts, resource, replace(contracts[resource], pending_grace=grace))


def test_rows_still_waiting_after_the_grace_become_rejections_and_reprocess_brings_them_back(hub, monkeypatch) -> None:
    _grace(monkeypatch, "credit_record", 1)
    early = run_ingest("credit_record")
    person = run_ingest("person")  # one referenced version later: the grace of 1 is used up
    outcome = person["rechecks"][0]["outcomes"]
    assert outcome["expired"] > 0 and outcome["still_pending"] == 0
    assert outcome["promoted"] + outcome["expired"] == early["pending"]
    assert _open("credit_record") == []
    rejected = _open("credit_record", ("rejected",))
    expired = [row for row in rejected if any(r["rule"] == "pending_expired" for r in row["reasons"])]
    assert len(expired) == outcome["expired"]
    assert "转为拒收" in expired[0]["reasons"][-1]["message"]
    legal = run_ingest("legal_entity")
    assert "rechecks" not in legal  # expired rows are final: nothing is due
    before = _curated("credit_record").num_rows

    from govhub.pipeline.recheck import reprocess

    again = reprocess("credit_record", rule="pending_expired")
    assert again["kind"] == "reprocess" and again["outcomes"]["promoted"] > 0
    assert again["extracted"] == len(expired)
    assert again["extracted"] == again["accepted"] + again["rejected"] + again["pending"]
    assert _curated("credit_record").num_rows == before + again["accepted"]
    still = [row for row in _open("credit_record") if row["run_id"] == again["run_id"]]
    assert len(still) == again["pending"]  # references to records the referenced resources rejected: waiting again
    # exactly once: every expired row was resolved by the reprocess; a second one finds nothing to take
    assert reprocess("credit_record", rule="pending_expired") is None
    assert _curated("credit_record").num_rows == before + again["accepted"]


_CRASHER = textwrap.dedent(
    """
    import importlib, os, signal, sys
    module_path, cls_name, attr, when = sys.argv[1:5]
    owner = importlib.import_module(module_path)
    owner = getattr(owner, cls_name) if cls_name else owner
    original = getattr(owner, attr)

    def crashing(*args, **kwargs):
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, attr, crashing)
    from govhub.pipeline.recheck import recheck
    recheck("credit_record")
    """
)
RECHECK_CRASH_POINTS = {
    "after_quarantine_marks": ("lake", "QuarantineTable", "rewrite", "after"),
    "before_delta_commit": ("lake", "CuratedTable", "commit", "before"),
    "after_delta_commit": ("lake", "CuratedTable", "commit", "after"),
    "before_advance": ("govhub.pipeline", "", "advance", "before"),
}


def _settled(resource: str) -> tuple[list[dict], list[tuple], list[tuple], int, int | None]:
    """Curated rows, open pending and rejected rows (key, reasons), the pending count and the version."""
    rows = _curated(resource).to_pylist()
    pending = sorted((r["row_key"], r["record"]) for r in _open(resource))
    rejected = sorted((r["row_key"], r["record"]) for r in _open(resource, ("rejected",)))
    with session_scope() as session:
        state = session.get(ResourceState, resource)
        return rows, pending, rejected, state.pending, state.last_version


@pytest.mark.parametrize("point", list(RECHECK_CRASH_POINTS))
def test_kill_during_a_recheck_then_again_equals_one_clean_recheck(hub, monkeypatch, tmp_path, point) -> None:
    def use(home: str) -> None:
        configure_hub_env(monkeypatch, tmp_path / home, hub.sources, hub.credit.base_url)
        migrate()

    use("clean")
    run_ingest("credit_record")
    run_ingest("person")  # with its recheck of credit_record
    clean = _settled("credit_record")

    use("crashed")
    run_ingest("credit_record")
    run_ingest("person", recheck=False)
    module_path, cls_name, attr, when = RECHECK_CRASH_POINTS[point]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHER, module_path, cls_name, attr, when], env=env, cwd=ROOT, capture_output=True
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]

    from govhub.pipeline.recheck import recheck

    recheck("credit_record")  # recovers the committed recheck, or redoes it
    assert _settled("credit_record") == clean
    assert recheck("credit_record") is None  # nothing left due, nothing taken twice
    with session_scope() as session:
        runs = session.query(IngestRun).filter_by(resource="credit_record").all()
        assert all(r.status in ("succeeded", "failed") for r in runs)
