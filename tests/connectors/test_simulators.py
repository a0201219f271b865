"""Connectors against the simulated source systems (simulators.testing): the real shapes."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from connectors import connector_for
from schemas import SourceError, load_contract

testing = pytest.importorskip("simulators.testing", reason="simulators/ not available")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return testing.simulator_home(tmp_path_factory.mktemp("sim"), size=300)


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("resource", ["person", "legal_entity"])
def test_sql_registries_read_fully_then_incrementally(home, resource):
    url = home.population_url if resource == "person" else home.legal_entity_url
    conn = connector_for(load_contract(resource), {"url": url}, batch_size=128)
    assert not conn.check_schema().drifted
    ex = conn.extract(None)
    assert ex.read_all().num_rows == _count(url, resource)
    assert conn.extract(ex.proposed_state).read_all() is None


def test_credit_api_pages_and_recovers(home):
    contract = load_contract("credit_record")
    with testing.running_credit_api(home, rate_limit=1000) as api:
        config = {"base_url": api.base_url, "token": home.token, "timeout": 2, "page_size": 4, "backoff": 0.05}
        conn = connector_for(contract, config)
        assert not conn.check_schema().drifted
        api.set_fault("error503", count=2)
        ex = conn.extract(None)
        table = ex.read_all()
        assert table.num_rows == _count(home.credit_url, "credit_record")
        assert conn.extract(ex.proposed_state).read_all() is None


@pytest.mark.parametrize("fault", ["hang", "garbled", "truncated"])
def test_credit_api_faults_end_in_source_error(home, fault):
    contract = load_contract("credit_record")
    with testing.running_credit_api(home, rate_limit=1000) as api:
        config = {
            "base_url": api.base_url,
            "token": home.token,
            "timeout": 0.3,
            "max_retries": 1,
            "backoff": 0.01,
            "page_size": 4,
        }
        api.set_fault(fault, after_requests=1)
        ex = connector_for(contract, config).extract(None)
        started = time.monotonic()
        pattern = r"'credit/credit_record': GET http://127.0.0.1:\d+/api/v1/credit-records failed after 2 attempts"
        with pytest.raises(SourceError, match=pattern):
            list(ex)
        assert time.monotonic() - started < 5
        assert not ex.complete


def test_credit_api_rate_limit_is_honoured(home):
    contract = load_contract("credit_record")
    with testing.running_credit_api(home, rate_limit=2) as api:
        config = {"base_url": api.base_url, "token": home.token, "timeout": 2, "page_size": 2, "backoff": 0.01}
        table = connector_for(contract, config).extract(None).read_all()
        assert table.num_rows == _count(home.credit_url, "credit_record")


def test_settlement_inbox(home):
    contract = load_contract("payment")
    conn = connector_for(contract, {"inbox": str(home.inbox)}, batch_size=7)
    assert not conn.check_schema().drifted
    ex = conn.extract(None)
    table = ex.read_all()
    files = sorted(p.name for p in home.inbox.glob("settlement_*.csv"))
    taken = ex.proposed_state["taken"]
    refused = {p.name for p in ex.problems if p.severity == "error"}
    assert set(taken) | refused == set(files)
    assert table.num_rows >= home.counts["payments_per_day"] * len(taken) * 0.5
    assert connector_for(contract, {"inbox": str(home.inbox)}).extract(ex.proposed_state).read_all() is None
