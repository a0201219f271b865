"""HTTP connector: paging, exact boundaries, retries (429 + Retry-After, 503, hangs, bad JSON)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from connector_support import FakeCreditApi, credit_record

from connectors import HttpConnector, connector_for
from schemas import SourceError, StateError

T0 = "2024-03-01T08:00:00.123456+08:00"
T1 = "2024-03-01T08:00:01.000001+08:00"


def _conn(credit, api: FakeCreditApi, **config):
    settings = {
        "base_url": "http://credit.test",
        "token": "secret",
        "timeout": 0.5,
        "max_retries": 2,
        "backoff": 0.01,
        "page_size": 3,
        "transport": httpx.MockTransport(api),
        **config,
    }
    return connector_for(credit, settings, batch_size=4)


def _ids(ex) -> list[str]:
    table = ex.read_all()
    return [] if table is None else table.column("record_id").to_pylist()


def test_pages_and_boundary_rows_neither_missed_nor_repeated(credit):
    api = FakeCreditApi([credit_record(i, T0) for i in range(5)] + [credit_record(9, T1, deleted=True)])
    conn = _conn(credit, api)
    ex = conn.extract(None)
    table = ex.read_all()
    assert table.num_rows == 6 and ex.batches == 2  # 3 pages of 3, batches of 4
    assert table.schema.names == [*credit.field_names, "_deleted"]
    assert table.column("_deleted").to_pylist() == [False] * 5 + [True]
    assert table.column("amount").to_pylist()[0] == "1.5"  # decimals stay exact text
    state = json.loads(json.dumps(ex.proposed_state))
    assert state == {"cursor": T1, "key": ["CF000000000009"]}
    # rows arrive later sharing the boundary timestamp: one sorts before the key (taken?), one after
    api.records += [
        credit_record(8, T1),
        credit_record(10, T1),
        credit_record(11, "2024-03-01T09:00:00+08:00"),
    ]
    second = conn.extract(state)
    assert _ids(second) == ["CF000000000010", "CF000000000011"]
    assert api.requests[-1]["updated_since"] == T1
    assert conn.extract(second.proposed_state).read_all() is None


def test_429_retry_after_is_honoured(credit):
    api = FakeCreditApi([credit_record(1, T0)])
    api.faults = ["429"]
    started = time.monotonic()
    assert _ids(_conn(credit, api).extract(None)) == ["CF000000000001"]
    assert time.monotonic() - started >= 0.95  # waited the 1 s the server asked for


def test_retry_after_is_capped(credit):
    api = FakeCreditApi([credit_record(1, T0)])
    api.faults = ["429"]
    waits: list[float] = []
    conn = HttpConnector(
        credit,
        {
            "base_url": "http://credit.test",
            "token": "secret",
            "max_retry_after": 0.2,
            "transport": httpx.MockTransport(api),
        },
        sleep=waits.append,
    )
    assert _ids(conn.extract(None)) == ["CF000000000001"]
    assert len(waits) == 1 and waits[0] <= 0.5


def test_503_then_recovery(credit):
    api = FakeCreditApi([credit_record(i, T0) for i in range(4)])
    api.faults = ["503", "503"]
    assert len(_ids(_conn(credit, api).extract(None))) == 4


def test_hang_times_out_then_source_error(credit):
    api = FakeCreditApi([credit_record(1, T0)])
    api.faults = ["timeout"] * 3
    ex = _conn(credit, api).extract(None)
    with pytest.raises(
        SourceError,
        match=r"credit/credit_record.*http://credit.test/api/v1/credit-records.*3 attempts.*timed out",
    ):
        list(ex)
    with pytest.raises(StateError):
        _ = ex.proposed_state


@pytest.mark.parametrize("fault", ["garbled", "truncated"])
def test_bad_json_is_retried_then_fails_without_state(credit, fault):
    api = FakeCreditApi([credit_record(i, T0) for i in range(7)])
    api.faults = [None, fault, fault, fault]  # first page fine, second page broken on every try
    ex = _conn(credit, api).extract(None)
    with pytest.raises(SourceError, match="invalid JSON"):
        list(ex)
    assert not ex.complete


def test_bad_json_recovers_on_retry(credit):
    api = FakeCreditApi([credit_record(i, T0) for i in range(7)])
    api.faults = ["garbled"]
    assert len(_ids(_conn(credit, api).extract(None))) == 7


def test_bad_token_fails_at_once(credit):
    api = FakeCreditApi([credit_record(1, T0)], token="other")
    with pytest.raises(SourceError, match="HTTP 401: check the token"):
        list(_conn(credit, api).extract(None))
    assert len(api.requests) == 1


def test_schema_drift_from_first_record(credit):
    record = credit_record(1, T0)
    record["penalty_level"] = "A"
    del record["source_unit"]
    record["amount"] = True
    diff = _conn(credit, FakeCreditApi([record])).check_schema()
    assert diff.new == ("penalty_level",)
    assert diff.missing == ("source_unit",)
    assert diff.retyped == (("amount", "decimal", "boolean"),)
    assert not _conn(credit, FakeCreditApi([credit_record(1, T0)])).check_schema().drifted


def test_each_retry_is_logged_with_the_configured_attempts_and_backoff(credit, caplog):
    api = FakeCreditApi([credit_record(1, T0)])
    api.faults = ["503"] * 3
    waits: list[float] = []
    conn = HttpConnector(
        credit,
        {
            "base_url": "http://credit.test",
            "token": "secret",
            "max_retries": 2,
            "backoff": 0.4,
            "max_backoff": 0.6,
            "transport": httpx.MockTransport(api),
        },
        sleep=waits.append,
    )
    with caplog.at_level("WARNING", logger="connectors.http"), pytest.raises(SourceError, match="3 attempts: HTTP 503"):
        list(conn.extract(None))
    assert len(api.requests) == 3  # max_retries 2: three tries, two waits in between
    assert 0.2 <= waits[0] <= 0.4 and 0.3 <= waits[1] <= 0.6  # 0.4 × 2^(n-1), capped at 0.6, × jitter ½..1
    logged = [r.getMessage() for r in caplog.records]
    assert [m.split(": ", 1)[1].split(";")[0] for m in logged] == [
        "GET http://credit.test/api/v1/credit-records attempt 1/3: HTTP 503",
        "GET http://credit.test/api/v1/credit-records attempt 2/3: HTTP 503",
    ]
    assert logged[0].endswith(f"retrying in {waits[0]:.2f} s")
