"""Appending to the exchange log: fields, links, hashes, validation, transactions, checkpoints."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from log_support import event_kwargs
from sqlalchemy.orm import Session

from exchange.crypto import Signer, canonical_json, sm3_hex
from exchange.log import EventType, ExchangeEvent, ExchangeLog, ExchangeLogError
from exchange.log._hashing import HASHED_FIELDS, _canonical_event, event_hash
from exchange.log.models import GENESIS_HASH


def test_append_links_each_event_to_its_predecessor(engine: sa.Engine) -> None:
    xlog = ExchangeLog(engine)
    events = [xlog.append(**event_kwargs(i)) for i in range(5)]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert len({e.event_id for e in events}) == 5
    assert xlog.head() == (5, events[-1].hash)
    stored = xlog.query(limit=10)
    assert [e.seq for e in stored] == [5, 4, 3, 2, 1]
    assert stored[-1].department == "公安局" and stored[-1].details == {"n": 0, "note": "测试"}
    assert stored[-1].recorded_at.tzinfo is not None
    assert all(event_hash({f: getattr(e, f) for f in (*HASHED_FIELDS, "hash")}) == e.hash for e in stored)


def test_hash_is_sm3_of_jcs_canonical_json_of_the_documented_fields(engine: sa.Engine) -> None:
    started = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    event = ExchangeLog(engine).append(
        EventType.VERIFICATION,
        source="web",
        target="hub",
        started_at=started,
        duration_ms=3.14159,
        outcome="denied",
        error_code="not_granted",
        details={"score": 0.5, "big": 2**40},
    )
    payload = {f: getattr(event, f) for f in HASHED_FIELDS}
    payload.update(
        v=1,
        recorded_at=event.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        started_at="2026-05-01T08:00:00.123456Z",
        finished_at=None,
        duration_ms="3.142",
    )
    assert event.hash == sm3_hex(canonical_json(payload))


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**53 - 1), 2**53 - 1)
            | st.text(max_size=12)
            | st.floats(allow_nan=False, allow_infinity=False),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
            max_leaves=10,
        ),
        max_size=6,
    )
)
def test_fast_canonical_path_gives_the_jcs_bytes(details: dict) -> None:
    payload = {"v": 1, "seq": 7, "source": "hub", "details": details}
    assert _canonical_event(payload) == canonical_json(payload)


def test_failed_and_denied_events_are_logged_like_successful_ones(engine: sa.Engine) -> None:
    xlog = ExchangeLog(engine)
    xlog.append("ingest", source="population", target="hub", resource="person", rows=10)
    xlog.append("ingest", source="credit", target="hub", outcome="failed", error_code="source_timeout")
    xlog.append(
        "denial",
        source="client-9",
        target="hub",
        outcome="denied",
        error_code="no_subscription",
        client="client-9",
        purpose="审批核验",
    )
    assert xlog.verify().ok
    assert [e.error_code for e in xlog.query(outcome="failed")] == ["source_timeout"]
    denied = xlog.query(outcome="denied")
    assert len(denied) == 1 and denied[0].type == "denial" and denied[0].purpose == "审批核验"


def test_append_many_is_one_chain_in_one_transaction(engine: sa.Engine) -> None:
    xlog = ExchangeLog(engine)
    xlog.append(**event_kwargs(0))
    batch = xlog.append_many([event_kwargs(i) for i in range(1, 501)])
    assert [e.seq for e in batch] == list(range(2, 502))
    assert xlog.count() == 501 and xlog.verify().ok
    with pytest.raises(ExchangeLogError, match="event type 'nope'"):
        xlog.append_many([event_kwargs(1), event_kwargs(2, type="nope")])
    assert xlog.count() == 501  # nothing of the refused batch was written
    assert xlog.append_many([]) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"type": "gossip"}, "event type 'gossip' is not one of", id="type"),
        pytest.param({"outcome": "maybe"}, "outcome 'maybe' is not one of ok, failed, denied, invalid", id="outcome"),
        pytest.param({"source": ""}, "needs a non-empty 'source'", id="source"),
        pytest.param({"purpose": "x" * 300}, "field 'purpose' is 300 characters", id="length"),
        pytest.param({"details": ["a"]}, "details must be a JSON object", id="details-type"),
        pytest.param({"details": {"blob": b"\x00"}}, "details cannot be logged", id="details-bytes"),
        pytest.param({"rows": 2**60}, "field 'rows' must be an integer", id="rows-range"),
        pytest.param({"colour": "red"}, r"unknown exchange-log field\(s\) \['colour'\]", id="unknown"),
    ],
)
def test_bad_events_are_refused_with_a_clear_message(engine: sa.Engine, overrides: dict, message: str) -> None:
    xlog = ExchangeLog(engine)
    with pytest.raises(ExchangeLogError, match=message):
        xlog.append(**event_kwargs(1, **overrides))
    assert xlog.count() == 0


def test_details_are_stored_exactly_as_hashed(engine: sa.Engine) -> None:
    when = datetime(2026, 5, 1, 8, tzinfo=UTC)
    event = ExchangeLog(engine).append(
        "publish",
        source="hub",
        target="catalog",
        details={"amount": Decimal("12.50"), "at": when, "ids": (1, 2)},
    )
    assert event.details == {"amount": "12.50", "at": "2026-05-01T08:00:00Z", "ids": [1, 2]}
    assert ExchangeLog(engine).verify().ok


def test_with_a_session_the_event_commits_or_rolls_back_with_the_callers_work(engine: sa.Engine) -> None:
    with Session(engine) as session:
        ExchangeLog(session).append(**event_kwargs(1))
        session.rollback()
    assert ExchangeLog(engine).count() == 0
    with Session(engine) as session:
        first = ExchangeLog(session).append(**event_kwargs(1))
        session.commit()
        seq, digest = first.seq, first.hash
        session.add(first)  # a detached snapshot: adding it back must not insert a second row
        session.commit()
    xlog = ExchangeLog(engine)
    assert seq == 1 and xlog.count() == 1
    assert xlog.append(**event_kwargs(2)).prev_hash == digest
    assert xlog.verify().ok


def test_checkpoints_are_signed_every_n_events_and_on_demand(engine: sa.Engine, signer: Signer) -> None:
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=10)
    for i in range(25):
        xlog.append(**event_kwargs(i))
    xlog.append_many([event_kwargs(i) for i in range(25)])  # 26..50 crosses 30, 40, 50: one checkpoint
    assert [cp.seq for cp in xlog.checkpoints()] == [10, 20, 50]
    cp = xlog.checkpoint()
    assert (cp.seq, cp.head_hash, cp.key_id, cp.algorithm) == (50, xlog.head()[1], signer.key_id, "sm2")
    report = xlog.verify()
    assert report.ok and report.checkpoints_checked == 4


def test_checkpoint_needs_a_signer(engine: sa.Engine) -> None:
    with pytest.raises(ExchangeLogError, match="checkpoint\\(\\) needs a signer"):
        ExchangeLog(engine).checkpoint()


def test_query_filters_and_pages(engine: sa.Engine) -> None:
    xlog = ExchangeLog(engine)
    xlog.append_many([event_kwargs(i) for i in range(30)])
    xlog.append("admin", source="admin:张三", target="hub", details={"action": "rotate key"})
    assert len(xlog.query(resource="person", limit=100)) == 10
    assert {e.department for e in xlog.query(department="财政局")} == {"财政局"}
    assert len(xlog.query(client="client-1")) == 15
    assert [e.type for e in xlog.query(type=EventType.ADMIN)] == ["admin"]
    pages = [xlog.query(limit=7, offset=o) for o in range(0, 35, 7)]
    seqs = [e.seq for page in pages for e in page]
    assert seqs == list(range(31, 0, -1))
    now = datetime.now(UTC)
    assert len(xlog.query(since=now - timedelta(minutes=1), limit=1000)) == 31
    assert xlog.query(until=now - timedelta(minutes=1)) == []
    assert xlog.query(since=now + timedelta(minutes=1)) == []
    assert all(isinstance(e, ExchangeEvent) for e in xlog.query(resource="payment", outcome="ok"))
