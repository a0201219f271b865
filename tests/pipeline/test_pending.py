"""Late references: rows waiting for a referenced resource are pending, then promoted, or expire after the grace."""

from __future__ import annotations

import pyarrow as pa

from govhub.db import migrate, session_scope
from govhub.models import IngestRun, ResourceState
from govhub.pipeline import run_ingest
from govhub.pipeline.pending import open_rows
from govhub.pipeline.resources import open_resource
from tests.hub_support import configure_hub_env

METADATA_STORES = ("sqlite",)
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
    assert first["outcomes"]["promoted"] + second["outcomes"]["promoted"] == early["pending"] - len(_open("credit_record"))
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
