"""`govhub quarantine reprocess` after a contract fix publishes the rows the wrong contract rejected, once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from cli.main import app
from govhub.db import migrate
from govhub.exchange_log import hub_log
from govhub.pipeline import run_ingest
from govhub.pipeline.resources import open_resource
from schemas import Check, load_all
from tests.hub_support import configure_hub_env

METADATA_STORES = ("sqlite",)
ORDER = ["person", "legal_entity", "credit_record"]


def _too_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """A contract mistake: document numbers limited to 5 characters (the real contract allows 64)."""
    contracts = load_all()
    credit = contracts["credit_record"]
    fields = tuple(
        replace(f, checks=(Check("length", {"min": 4, "max": 5}, "error", "conformance"),))
        if f.name == "document_number"
        else f
        for f in credit.fields
    )
    monkeypatch.setitem(contracts, "credit_record", replace(credit, fields=fields))


def _curated(resource: str):
    ctx = open_resource(resource)
    return ctx.curated.read().sort_by(ctx.contract.primary_key[0])


def test_reprocess_after_a_contract_fix_equals_a_run_with_the_right_contract(hub, monkeypatch, tmp_path) -> None:
    cli = CliRunner()
    for resource in ORDER[:2]:
        run_ingest(resource)
    with monkeypatch.context() as m:
        _too_strict(m)
        wrong = run_ingest("credit_record")
    assert wrong["accepted"] == 0 and wrong["rejected"] == wrong["extracted"] > 0
    listed = cli.invoke(app, ["quarantine", "list", "credit_record", "--rule", "length"])
    assert listed.exit_code == 0, listed.output
    assert "已拒收" in listed.output and "决定文书号" in listed.output

    # the contract is right again; --run narrows to one run's rows
    other = cli.invoke(app, ["quarantine", "reprocess", "credit_record", "--rule", "length", "--run", "no-such-run"])
    assert other.exit_code == 0 and "no open quarantined row" in other.output
    fixed = cli.invoke(app, ["quarantine", "reprocess", "credit_record", "--rule", "length", "--run", wrong["run_id"]])
    assert fixed.exit_code == 0, fixed.output
    assert "promoted 已发布" in fixed.output
    again = cli.invoke(app, ["quarantine", "reprocess", "credit_record", "--rule", "length"])
    assert "no open quarantined row" in again.output  # exactly once: nothing left to take
    events = [
        e
        for e in hub_log().query(type="quarantine", resource="credit_record", limit=50)
        if (e.details or {}).get("action") == "reprocess"
    ]
    assert {e.details["outcome"] for e in events} >= {"promoted"}
    reprocessed = _curated("credit_record")

    configure_hub_env(monkeypatch, tmp_path / "right", hub.sources, hub.credit.base_url)
    migrate()
    for resource in ORDER:
        run_ingest(resource)
    assert _curated("credit_record").equals(reprocessed)
