"""The access record's index: deliveries of versions that changed a subject, verification answers about it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_delivery import commit, person_rows, pid, subscribe

from catalog import Base
from exchange.access import (
    SubjectChange,
    SubjectChangeMark,
    access_record,
    backfill_changes,
    index_changes,
    query_rows,
    subject_fields,
)
from exchange.access.index import answer_summary
from exchange.delivery import deliver_resource
from exchange.log import ExchangeLog
from exchange.subjects import SubjectKeys, subject_hash
from lake import Lake
from schemas import Contract, load_contract

SECRET = b"hub-test-secret"
KEYS = SubjectKeys(b"k" * 32)


@pytest.fixture(scope="module")
def person() -> Contract:
    return load_contract("person")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A hub metadata store with every room's tables (SQLite in tmp_path)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def test_subject_fields_come_from_the_contracts() -> None:
    assert subject_fields(load_contract("person")) == ("id_number",)
    assert subject_fields(load_contract("legal_entity")) == ("uscc", "legal_rep_id")
    assert subject_fields(load_contract("credit_record")) == ("subject_code",)  # not the deciding authority's code
    assert subject_fields(load_contract("payment")) == ("payer_id",)


def _deliver(session: Session, lake: Lake, contract: Contract) -> list:
    return deliver_resource(session, lake, contract, secret=SECRET, subject_keys=KEYS)


def test_a_delivery_lists_the_subjects_its_versions_changed(
    session: Session, lake: Lake, person: Contract, tmp_path: Path
) -> None:
    sub = subscribe(session, mode="file")
    commit(lake, person, person_rows(person, [pid(1), pid(2)]), 1)
    snapshot = _deliver(session, lake, person)
    commit(lake, person, person_rows(person, [pid(2), pid(3)], tag="v2"), 2)  # 2 updated, 3 inserted
    increment = _deliver(session, lake, person)
    assert [r.status for r in snapshot + increment] == ["done", "done"]

    one = access_record(session, pid(1), kind="person", keys=KEYS)
    two = access_record(session, pid(2), kind="person", keys=KEYS)
    three = access_record(session, pid(3), kind="person", keys=KEYS)
    assert [(d.from_version, d.to_version) for d in one.deliveries] == [(None, 0)]  # only the snapshot
    assert [(d.from_version, d.to_version) for d in two.deliveries] == [(0, 1), (None, 0)]
    assert [(d.from_version, d.to_version) for d in three.deliveries] == [(0, 1)]
    entry = two.deliveries[0]
    assert entry.department == sub.department_code and entry.purpose == "社保待遇资格认证"
    assert entry.department_name.startswith("部门") and entry.versions == (1,)
    assert access_record(session, pid(9), kind="person", keys=KEYS).deliveries == []
    # the index holds hashes only, never the ID
    stored = session.scalars(select(SubjectChange.subject_hash)).all()
    assert subject_hash([pid(2)], keys=KEYS) in stored and not any(pid(2) in h for h in stored)


def test_versions_are_indexed_once_for_all_subscribers_and_a_rerun_changes_nothing(
    session: Session, lake: Lake, person: Contract
) -> None:
    subscribe(session, department="11430900MB0000001X")
    subscribe(session, department="11430900MB0000002X")
    commit(lake, person, person_rows(person, [pid(1), pid(2), pid(3)]), 1)
    _deliver(session, lake, person)
    count = session.scalar(select(func.count()).select_from(SubjectChange))
    assert count == 3 and session.get(SubjectChangeMark, "person").version == 0  # type: ignore[union-attr]
    assert index_changes(session, lake.curated(person), person, keys=KEYS, upto=0) == 0
    # an interrupted run's rows are replaced, not duplicated
    session.get(SubjectChangeMark, "person").version = -1  # type: ignore[union-attr]
    assert index_changes(session, lake.curated(person), person, keys=KEYS, upto=0) == 3
    session.commit()
    assert session.scalar(select(func.count()).select_from(SubjectChange)) == 3
    assert len(access_record(session, pid(1), kind="person", keys=KEYS).deliveries) == 2


def test_a_snapshot_after_a_deletion_does_not_list_the_deleted_record(
    session: Session, lake: Lake, person: Contract
) -> None:
    commit(lake, person, person_rows(person, [pid(1), pid(2)]), 1)
    commit(lake, person, person_rows(person, [pid(1)], deleted=[True]), 2)
    subscribe(session)  # subscribes after the deletion: its snapshot at v1 leaves pid(1) out
    _deliver(session, lake, person)
    assert access_record(session, pid(1), kind="person", keys=KEYS).deliveries == []
    assert len(access_record(session, pid(2), kind="person", keys=KEYS).deliveries) == 1


def test_backfill_indexes_versions_delivered_before_the_index(session: Session, lake: Lake, person: Contract) -> None:
    subscribe(session)
    commit(lake, person, person_rows(person, [pid(1)]), 1)
    deliver_resource(session, lake, person, secret=SECRET)  # no subject keys: nothing indexed
    assert access_record(session, pid(1), kind="person", keys=KEYS).deliveries == []
    assert backfill_changes(session, lake, [person], keys=KEYS) == {"person": 1}
    assert len(access_record(session, pid(1), kind="person", keys=KEYS).deliveries) == 1
    assert backfill_changes(session, lake, [person], keys=KEYS) == {"person": 0}


def test_retired_keys_still_find_the_record(session: Session, lake: Lake, person: Contract) -> None:
    subscribe(session)
    commit(lake, person, person_rows(person, [pid(1)]), 1)
    _deliver(session, lake, person)
    rotated = SubjectKeys(b"n" * 32, retired=(KEYS.current,))
    assert len(access_record(session, pid(1), kind="person", keys=rotated).deliveries) == 1


@pytest.mark.parametrize(
    ("answer", "index", "expected"),
    [
        pytest.param({"answer_id": "a", "case_number": "c", "match": True}, None, {"match": True}, id="predicate"),
        pytest.param(
            {"answer_id": "a", "name": "益阳", "status": "1"}, None, {"fields": ["name", "status"]}, id="value"
        ),
        pytest.param({"results": [{"match": False}, {"found": False}]}, 1, {"found": False}, id="batch"),
    ],
)
def test_answer_summaries_name_what_was_told_without_values(answer: dict, index: int | None, expected: dict) -> None:
    assert answer_summary(answer, index=index) == expected


def test_only_answered_verification_events_are_indexed(session: Session) -> None:
    xlog = ExchangeLog(session)
    h = subject_hash([pid(1)], keys=KEYS)
    common = {"source": "hub", "target": "client:c", "client": "c", "subject_hash": h, "request_id": "ans-1"}
    events = xlog.append_many(
        [
            {"type": "verification", "details": {"item": "person_alive", "status": 200}, **common},
            {"type": "verification", "outcome": "failed", "error_code": "invalid_check_digit", **common},
            {"type": "verification", "outcome": "failed", "error_code": "subject_not_found", **common},
            {"type": "denial", "outcome": "denied", "error_code": "item_not_granted", **common},
            {"type": "verification", **{**common, "subject_hash": None}},
        ]
    )
    rows = query_rows(events, {"ans-1": {"answer": {"answer_id": "ans-1", "match": True}}})
    assert [(r["seq"], r["answer"]) for r in rows] == [
        (events[0].seq, '{"match":true}'),
        (events[2].seq, '{"found":false}'),
    ]


@pytest.mark.parametrize("value", ["430902199001011234", "91350100m000100y43", 'A"B', "a\\b", "益阳", " x ", "\x01"])
def test_bulk_hashes_equal_the_one_by_one_hash(value: str) -> None:
    from exchange.subjects import hash_values

    assert hash_values([value], keys=KEYS) == [subject_hash([value], keys=KEYS)]


def test_a_legal_representative_sees_only_deliveries_granted_their_id(session: Session, lake: Lake) -> None:
    from test_delivery import make_rows

    from catalog.departments import Department
    from catalog.subscriptions import Subscription

    entity = load_contract("legal_entity")
    rows = make_rows(entity, ["91430902MA4L00001X", "91430902MA4L00002X"])
    rows = rows.set_column(rows.schema.get_field_index("legal_rep_id"), "legal_rep_id", pa.array([pid(1), pid(2)]))
    commit(lake, entity, rows, 1)
    for code, fields in (("11430900MB0000001X", ["uscc", "name"]), ("11430900MB0000002X", ["uscc", "legal_rep_id"])):
        session.add(Department(code=code, name=f"部门{code[-3:]}"))
        session.add(
            Subscription(
                resource="legal_entity",
                department_code=code,
                purpose="企业开办",
                legal_basis="《市场主体登记管理条例》",
                fields=fields,
                pii_access=False,
                delivery_mode="file",
                status="granted",
            )
        )
    session.commit()
    _deliver(session, lake, entity)
    company = access_record(session, "91430902MA4L00001X", kind="entity", keys=KEYS)
    assert sorted(d.department for d in company.deliveries) == ["11430900MB0000001X", "11430900MB0000002X"]
    representative = access_record(session, pid(1), kind="person", keys=KEYS)
    assert [d.department for d in representative.deliveries] == ["11430900MB0000002X"]  # only where it was granted


def test_a_versions_subjects_go_in_in_index_order_with_their_hashes_and_changes(
    session: Session, lake: Lake, person: Contract
) -> None:
    """Inserted in (version, subject hash) order (random order made a large first version thrash SQLite's
    indexes); every row still carries the subject's own hash and change."""
    keys = [pid(i) for i in range(40)]
    commit(lake, person, person_rows(person, keys), 1)
    commit(lake, person, person_rows(person, keys[:10], tag="v2", deleted=[True] * 3 + [False] * 7), 2)
    assert index_changes(session, lake.curated(person), person, keys=KEYS, upto=1) == 50
    session.commit()
    stored = session.execute(sa.text("SELECT version, subject_hash, change FROM subject_change ORDER BY rowid")).all()
    assert [(v, h) for v, h, _ in stored] == sorted((v, h) for v, h, _ in stored)
    expected = {(0, subject_hash([k], keys=KEYS), "insert") for k in keys}
    expected |= {(1, subject_hash([k], keys=KEYS), "delete" if i < 3 else "update") for i, k in enumerate(keys[:10])}
    assert set(map(tuple, stored)) == expected
