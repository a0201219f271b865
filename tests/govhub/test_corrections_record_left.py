"""A confirmed flag closed because its record left, and the record published again later.

The provider confirmed the value wrong; the record leaving closes the flag (there is nothing left to
correct). Re-inserted with the same wrong value, the error is back uncorrected: the flag reopens, the
reporter is told and the verification answers about the record are marked under correction again.
Re-inserted with another value, the flag stays closed and marks nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from correction_support import ALICE, BOB, POLICE, USER, CorrectionHub, correction_hub
from sqlalchemy.orm import Session

from catalog import CatalogError, Reporter, get_flag
from catalog.corrections import reopen_flag
from exchange.log import EventType, ExchangeLog
from exchange.verify.corrections import CorrectionMarks
from govhub.corrections import check_published, decide_logged, flag_logged, notice_key
from govhub.db import engine_for
from govhub.delivery_runner import open_lake


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CorrectionHub:
    return correction_hub(tmp_path, monkeypatch)


def _confirmed_flag(hub: CorrectionHub, reporter: Reporter | None = None) -> int:
    """Alice's name (张三) flagged by 市人社局 and confirmed by 市公安局; the flag's id."""
    with hub.session() as session:
        flag = flag_logged(
            session,
            reporter=reporter or Reporter("department", USER),
            resource="person",
            record_key=ALICE,
            field="name",
            problem="姓名用字与户口簿不一致（张叁）",
            evidence_text="申请人出示户口簿原件",
        )
        decide_logged(session, flag.id, actor_department=POLICE, confirm=True, reason="核实属实")
        session.commit()
        return flag.id


def _closed_by_departure(hub: CorrectionHub) -> int:
    flag_id = _confirmed_flag(hub)
    assert hub.publish({BOB: "李四"}, deleted=[ALICE]) == 1
    assert [f.id for f in check_published("person")] == [flag_id]
    with hub.session() as session:
        flag = get_flag(session, flag_id)
        assert (flag.status, flag.closed_version, flag.closed_reason) == ("closed", 1, "record_left")
        assert flag.events[-2].note == "version 1 no longer holds the record"  # the closing step says it too
    return flag_id


def _marked(hub: CorrectionHub) -> dict[str, list[int]]:
    return CorrectionMarks(engine_for(hub.db_url)).active("person")


def test_a_record_back_with_the_flagged_value_reopens_its_flag(hub: CorrectionHub) -> None:
    flag_id = _closed_by_departure(hub)
    assert _marked(hub) == {}
    assert hub.publish({ALICE: "张三", BOB: "李四"}) == 2  # re-inserted, still carrying the value confirmed wrong
    assert check_published("person") == []
    with hub.session() as session:
        flag = get_flag(session, flag_id)
        assert (flag.status, flag.closed_at, flag.closed_version, flag.closed_reason) == ("confirmed", None, None, None)
        assert [e.action for e in flag.events][-2:] == ["reopened", "notified"]
        assert "version 2 holds the record again" in (flag.events[-2].note or "")
        actions = [e.details["action"] for e in ExchangeLog(session).query(type=EventType.CORRECTION, outcome="ok")]
        assert actions[:2] == ["notified", "reopened"]  # newest first
    assert _marked(hub) == {ALICE: [flag_id]}  # answers about Alice say "under correction" again
    assert Path(open_lake().uri(notice_key(flag, "reopened"))).exists()
    assert check_published("person") == []  # idempotent: reopened once
    with hub.session() as session:
        assert [e.action for e in get_flag(session, flag_id).events].count("reopened") == 1
    assert hub.publish({ALICE: "张叁", BOB: "李四"}) == 3  # now corrected at the source: closes for good
    assert [f.id for f in check_published("person")] == [flag_id]
    with hub.session() as session:
        flag = get_flag(session, flag_id)
        assert (flag.status, flag.closed_version, flag.closed_reason) == ("closed", 3, "corrected")
    assert _marked(hub) == {}


def test_a_record_back_with_another_value_keeps_its_flag_closed(hub: CorrectionHub) -> None:
    flag_id = _closed_by_departure(hub)
    assert hub.publish({ALICE: "张叁", BOB: "李四"}) == 2
    assert check_published("person") == []
    with hub.session() as session:
        flag = get_flag(session, flag_id)
        assert (flag.status, flag.closed_version, flag.closed_reason) == ("closed", 1, "record_left")
        assert "reopened" not in [e.action for e in flag.events]
    assert _marked(hub) == {}


def test_a_newer_flag_on_the_returned_record_is_not_doubled(hub: CorrectionHub) -> None:
    old = _closed_by_departure(hub)
    assert hub.publish({ALICE: "张三", BOB: "李四"}) == 2
    with hub.session() as session:  # reported again before the check ran: the new flag follows the error
        new = flag_logged(
            session,
            reporter=Reporter("admin", "admin"),
            resource="person",
            record_key=ALICE,
            field="name",
            problem="姓名错误仍未更正",
            evidence_text="再次核对户口簿",
        ).id
        session.commit()
    check_published("person")
    check_published("person")
    with hub.session() as session:
        flag = get_flag(session, old)
        assert flag.status == "closed" and [e.action for e in flag.events].count("superseded") == 1
        assert flag.closed_reason == "record_left"  # still closed because its record left: the newer flag follows
        assert f"flag #{new}" in (flag.events[-1].note or "")
    assert _marked(hub) == {ALICE: [new]}


def test_only_a_flag_closed_by_departure_reopens(hub: CorrectionHub) -> None:
    flag_id = _confirmed_flag(hub)
    assert hub.publish({ALICE: "张叁", BOB: "李四"}) == 1
    check_published("person")  # closed by a corrected value
    with Session(engine_for(hub.db_url)) as session:
        flag = get_flag(session, flag_id)
        assert (flag.status, flag.closed_reason) == ("closed", "corrected")
        with pytest.raises(CatalogError, match="only a flag closed because its record left reopens"):
            reopen_flag(session, flag, version=1, note="by hand")
    assert hub.publish({ALICE: "张三", BOB: "李四"}) == 2  # the wrong value back after a correction: not reopened
    check_published("person")
    with hub.session() as session:
        assert get_flag(session, flag_id).status == "closed"
