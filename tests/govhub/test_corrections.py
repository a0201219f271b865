"""校核纠错 end to end at the hub: flag → confirm → the source fixed → the next version closes it, all logged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from correction_support import ALICE, BOB, OTHER_USER, POLICE, USER, CorrectionHub, asked, correction_hub

from catalog import CatalogAccessDenied, CatalogError, Reporter, get_flag, list_flags
from exchange.log import EventType, ExchangeLog
from govhub.corrections import check_published, decide_logged, flag_logged, notice_key, overdue_logged
from govhub.delivery_runner import open_lake

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CorrectionHub:
    return correction_hub(tmp_path, monkeypatch)


def _flag(
    hub: CorrectionHub,
    *,
    reporter: Reporter | None = None,
    key: str = ALICE,
    field: str = "name",
    resource: str = "person",
) -> int:
    with hub.session() as session:
        flag = flag_logged(
            session,
            reporter=reporter or Reporter("department", USER),
            resource=resource,
            record_key=key,
            field=field,
            problem="姓名用字与户口簿不一致（张叁）",
            evidence_text="申请人出示户口簿原件",
            evidence_ref="户口簿 No.0001",
        )
        session.commit()
        return flag.id


def _actions(hub: CorrectionHub) -> list[str]:
    """The steps carried out, oldest first (refusals are in `_refusals`)."""
    with hub.session() as session:
        events = ExchangeLog(session).query(type=EventType.CORRECTION, outcome="ok")
        return [e.details["action"] for e in reversed(events)]  # type: ignore[index]


def _refusals(hub: CorrectionHub) -> list[tuple[str, str | None, str | None]]:
    """(outcome, error code, field) of every refused flag or decision, oldest first."""
    with hub.session() as session:
        events = [e for e in ExchangeLog(session).query(type=EventType.CORRECTION) if e.outcome != "ok"]
        return [(e.outcome, e.error_code, e.details["field"]) for e in reversed(events)]  # type: ignore[index]


def test_flag_confirm_fix_close_and_the_reporter_is_told(hub: CorrectionHub) -> None:
    flag_id = _flag(hub)
    with hub.session() as session:
        flag = get_flag(session, flag_id)
        assert (flag.status, flag.flagged_value, flag.flagged_version) == ("open", "张三", 0)
        assert flag.provider_code == POLICE
    assert check_published("person") == []  # nothing confirmed yet: an open flag does not close
    with hub.session() as session:
        decide_logged(session, flag_id, actor_department=POLICE, confirm=True, reason="核实属实，已通知户籍窗口更正")
        session.commit()
    assert hub.publish({ALICE: "张三", BOB: "李四"}) is None  # the same values: no version, nothing closes
    assert check_published("person") == []
    assert hub.publish({ALICE: "张叁", BOB: "李四"}) == 1
    closed = check_published("person")
    assert [f.id for f in closed] == [flag_id]
    with hub.session() as session:
        flag = get_flag(session, flag_id)
        assert (flag.status, flag.closed_version) == ("closed", 1)
        assert [e.action for e in flag.events] == ["flagged", "confirmed", "notified", "closed", "notified"]
    assert _actions(hub) == ["flagged", "confirmed", "notified", "closed", "notified"]
    notice = Path(open_lake().uri(notice_key(flag, "closed")))
    assert json.loads(notice.read_text(encoding="utf-8"))["status"] == "closed"
    assert check_published("person") == []  # idempotent: a closed flag stays closed


def test_the_log_keeps_a_keyed_hash_never_the_citizen_id(hub: CorrectionHub) -> None:
    _flag(hub)
    with hub.session() as session:
        (event,) = ExchangeLog(session).query(type=EventType.CORRECTION)
    assert event.subject_hash and event.subject_hash.startswith("hs1:")
    assert ALICE not in json.dumps(event.details, ensure_ascii=False) and ALICE not in (event.source + event.target)


def test_a_rejection_needs_reasons_and_is_final(hub: CorrectionHub) -> None:
    flag_id = _flag(hub)
    with hub.session() as session, pytest.raises(CatalogError, match="needs reasons"):
        decide_logged(session, flag_id, actor_department=POLICE, confirm=False, reason=" ")
    with hub.session() as session:
        decide_logged(session, flag_id, actor_department=POLICE, confirm=False, reason="户籍档案记载为张三，无误")
        session.commit()
    with hub.session() as session, pytest.raises(CatalogError, match="already answered") as raised:
        decide_logged(session, flag_id, actor_department=POLICE, confirm=True, reason=None)
    assert raised.value.kind == "conflict"
    assert _actions(hub) == ["flagged", "rejected", "notified"]
    assert _refusals(hub) == [("failed", "invalid", "reason"), ("failed", "conflict", None)]


@pytest.mark.parametrize("actor", [USER, OTHER_USER], ids=["the-reporter", "a-stranger"])
def test_only_the_provider_decides_and_nothing_changes(hub: CorrectionHub, actor: str) -> None:
    flag_id = _flag(hub)
    with hub.session() as session, pytest.raises(CatalogAccessDenied, match="only the provider"):
        decide_logged(session, flag_id, actor_department=actor, confirm=True, reason=None)
    with hub.session() as session:
        assert get_flag(session, flag_id).status == "open"
    assert _actions(hub) == ["flagged"]
    assert _refusals(hub) == [("denied", "forbidden", None)]


def test_bad_flags_are_refused_with_the_rule_named(hub: CorrectionHub) -> None:
    with pytest.raises(CatalogError, match="no published record") as unknown_record:
        _flag(hub, key="430902200001010000")
    assert unknown_record.value.kind == "not_found"
    with pytest.raises(CatalogError, match="has no field 'nickname'"):
        _flag(hub, field="nickname")
    with pytest.raises(CatalogAccessDenied, match="no grant"):
        _flag(hub, field="phone")  # a field the grant does not include
    with pytest.raises(CatalogAccessDenied, match="no grant"):
        _flag(hub, reporter=Reporter("department", OTHER_USER))
    with pytest.raises(CatalogAccessDenied, match="correct name at the source"):
        _flag(hub, reporter=Reporter("department", POLICE))
    first = _flag(hub)
    with pytest.raises(CatalogError, match=f"already has open flag #{first}") as duplicate:
        _flag(hub, reporter=Reporter("admin", "admin"))
    assert duplicate.value.kind == "conflict"
    with hub.session() as session:
        assert [f.id for f in list_flags(session)] == [first]
    assert _actions(hub) == ["flagged"]
    assert _refusals(hub) == [
        ("failed", "not_found", "record_key"),
        ("failed", "not_found", "nickname"),
        ("denied", "forbidden", "phone"),
        ("denied", "forbidden", "name"),
        ("denied", "forbidden", "name"),
        ("failed", "conflict", "name"),
    ]


def test_a_client_reports_with_its_case_number(hub: CorrectionHub) -> None:
    from exchange.verify import register_client

    with hub.session() as session:
        register_client(session, client_id="budongchan", name="不动产登记系统", allowed_items=["identity_matches"])
        session.commit()
    with pytest.raises(CatalogError, match="case number"):
        _flag(hub, reporter=Reporter("client", "budongchan"))
    case = Reporter("client", "budongchan", case_number="BDC-2026-0001")
    with pytest.raises(CatalogAccessDenied, match="asked no question about this person record") as not_asked:
        _flag(hub, reporter=case)
    with pytest.raises(CatalogAccessDenied) as unknown:  # a key that does not exist: the very same refusal
        _flag(hub, reporter=case, key="430902200001010000")
    assert str(unknown.value) == str(not_asked.value)
    asked("budongchan", "BDC-2026-0001", ALICE)
    with pytest.raises(CatalogAccessDenied, match="asked no question"):  # another case did not ask about Bob
        _flag(hub, reporter=case, key=BOB)
    flag_id = _flag(hub, reporter=case)
    with pytest.raises(CatalogAccessDenied, match="no grant"):
        _flag(hub, reporter=Reporter("client", "budongchan", case_number="BDC-2026-0002"), field="status")
    with hub.session() as session:
        assert get_flag(session, flag_id).case_number == "BDC-2026-0001"
        (event,) = ExchangeLog(session).query(type=EventType.CORRECTION, outcome="ok")
        assert (event.client, event.case_number) == ("budongchan", "BDC-2026-0001")


def test_an_unanswered_flag_turns_overdue_once(hub: CorrectionHub) -> None:
    flag_id = _flag(hub)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    with hub.session() as session:
        assert [f.id for f in overdue_logged(session, now=later)] == [flag_id]
        assert overdue_logged(session, now=later) == []
        session.commit()
        assert get_flag(session, flag_id).overdue(later)
    assert _actions(hub) == ["flagged", "overdue"]


def test_a_confirmation_after_the_source_was_fixed_closes_at_once(hub: CorrectionHub) -> None:
    flag_id = _flag(hub)
    hub.publish({ALICE: "张叁", BOB: "李四"})
    with hub.session() as session:
        flag = decide_logged(session, flag_id, actor_department=POLICE, confirm=True, reason=None)
        session.commit()
        assert (flag.status, flag.closed_version) == ("closed", 1)


def test_a_failed_check_after_publish_does_not_fail_the_run(
    hub: CorrectionHub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import govhub.corrections
    from govhub.pipeline import stages

    def broken(resource: str) -> list[object]:
        raise OSError("lake unreachable")

    monkeypatch.setattr(govhub.corrections, "check_published", broken)
    stages._check_corrections("person")  # logged, not raised: the next publish checks again
    assert "runs again at the next publish" in caplog.text


def test_the_store_itself_keeps_one_active_flag_per_record_and_field(hub: CorrectionHub) -> None:
    import sqlalchemy as sa

    from catalog import CorrectionFlag

    first = _flag(hub)
    with hub.session() as session:
        original = get_flag(session, first)
        twin = CorrectionFlag(
            **{c: getattr(original, c) for c in ("resource", "record_key", "field", "provider_code", "reporter_kind")},
            reporter="another",
            problem="同一错误",
            status="confirmed",
            raised_at=original.raised_at,
            due_at=original.due_at,
        )
        session.add(twin)
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()  # what a second request racing past the duplicate check meets
        session.rollback()
        twin.status = "closed"  # a closed flag does not count: the record may be flagged again later
        session.add(twin)
        session.commit()


def test_a_client_flags_a_record_its_question_found_by_a_secondary_key(hub: CorrectionHub) -> None:
    """`no_blacklist` looks credit records up by subject code: the flag names the record, the case asked the code."""
    from exchange.log import EventType
    from exchange.subjects import subject_hash
    from exchange.verify import register_client
    from govhub.exchange_log import hub_log, hub_subject_keys
    from tests.exchange.verify_support import CREDIT, E_REVOKED, commit_tables

    commit_tables(open_lake(), {"credit_record": CREDIT})
    with hub.session() as session:
        register_client(session, client_id="yancao", name="烟草专卖许可系统", allowed_items=["no_blacklist"])
        session.commit()
    reporter = Reporter("client", "yancao", case_number="YC-2026-7")
    record = next(r["record_id"] for r in CREDIT if r["subject_code"] == E_REVOKED)
    with pytest.raises(CatalogAccessDenied, match="asked no question"):
        _flag(hub, reporter=reporter, key=record, field="valid_to", resource="credit_record")
    hub_log().append(
        EventType.VERIFICATION,
        source="hub",
        target="client:yancao",
        client="yancao",
        resource="credit_record",
        case_number="YC-2026-7",
        subject_hash=subject_hash([E_REVOKED], keys=hub_subject_keys()),
        outcome="ok",
    )
    flag_id = _flag(hub, reporter=reporter, key=record, field="valid_to", resource="credit_record")
    with hub.session() as session:
        assert get_flag(session, flag_id).provider_code == "114309000060123604"  # 市发改委 provides credit records


def test_the_answer_limit_is_a_setting_of_at_least_one_working_day(monkeypatch: pytest.MonkeyPatch) -> None:
    from govhub.settings import get_settings, reset_settings
    from schemas import SettingsError

    monkeypatch.setenv("GOVHUB_CORRECTION_ANSWER_WORKING_DAYS", "0")
    reset_settings()
    with pytest.raises(SettingsError, match="GOVHUB_CORRECTION_ANSWER_WORKING_DAYS"):
        get_settings()
    monkeypatch.delenv("GOVHUB_CORRECTION_ANSWER_WORKING_DAYS")
    reset_settings()
    assert get_settings().correction_answer_working_days == 10  # the hub's default (the regulation's: unconfirmed)


def test_a_deleted_record_of_a_tombstone_resource_closes_its_flag(hub: CorrectionHub) -> None:
    """legal_entity keeps deleted records as tombstones (`_deleted`): for a flag the record has left."""
    import pyarrow as pa

    from schemas import load_contract
    from tests.exchange.verify_support import E_SHOP, ENTITIES, _fill, commit_tables

    market = "114309000060123529"  # 市市场监管局 provides legal_entity
    commit_tables(open_lake(), {"legal_entity": ENTITIES})
    flag_id = _flag(
        hub, reporter=Reporter("admin", "admin"), key=E_SHOP, field="legal_rep_name", resource="legal_entity"
    )
    with hub.session() as session:
        decide_logged(session, flag_id, actor_department=market, confirm=True, reason="登记信息有误，已注销重办")
        session.commit()
    contract = load_contract("legal_entity")
    shop = _fill(contract, [r for r in ENTITIES if r["uscc"] == E_SHOP])
    tombstone = shop.append_column("_deleted", pa.array([True]))
    open_lake().curated(contract).commit(tombstone, app_id="test:legal_entity", run_seq=2, metadata={})
    (closed,) = check_published("legal_entity")
    assert closed.id == flag_id and "no longer holds the record" in closed.events[-2].note  # type: ignore[operator]
    with pytest.raises(CatalogError, match="no published record"):  # and a tombstone cannot be flagged
        _flag(hub, reporter=Reporter("admin", "admin"), key=E_SHOP, field="name", resource="legal_entity")


def test_a_rolled_back_answer_leaves_no_notice(hub: CorrectionHub) -> None:
    flag_id = _flag(hub)
    with hub.session() as session:
        flag = decide_logged(session, flag_id, actor_department=POLICE, confirm=False, reason="无误")
        key = notice_key(flag, "rejected")
        session.rollback()  # e.g. the commit failed: nothing happened, so nobody is told
        session.commit()
    assert not Path(open_lake().uri(key)).exists()
    with hub.session() as session:
        assert get_flag(session, flag_id).status == "open"
        decide_logged(session, flag_id, actor_department=POLICE, confirm=False, reason="无误")
        session.commit()
    assert json.loads(Path(open_lake().uri(key)).read_text(encoding="utf-8"))["reason"] == "无误"
