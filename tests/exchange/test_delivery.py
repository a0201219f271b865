"""Deliveries: snapshot then increments, field restriction, masking, revocation, exactly-once, failures."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import exchange.delivery.deliver as deliver_module
from catalog import Base, get_target, list_targets, register_target
from catalog.departments import Department
from catalog.subscriptions import Subscription
from exchange.delivery import (
    BOOKKEEPING_TABLE,
    Delivery,
    deliver_resource,
    file_key,
    mask_column,
    net_changes,
    restrict_and_mask,
)
from exchange.log import ExchangeEvent, ExchangeLog
from lake import Lake
from schemas import Contract, arrow_schema, load_contract

SECRET = b"hub-test-secret"
ALL_PERSON = [
    "id_number",
    "name",
    "gender",
    "ethnicity",
    "birth_date",
    "birth_place",
    "household_address",
    "region_code",
    "household_number",
    "phone",
    "status",
    "updated_at",
]


# -- factories ------------------------------------------------------------------------------------


def person_rows(contract: Contract, keys: Sequence[str], *, tag: str = "v1", deleted: Sequence[bool] = ()) -> pa.Table:
    """Person rows shaped like the registry's: 18-character IDs, Chinese names and addresses."""
    n = len(keys)
    values = {
        "id_number": list(keys),
        "name": [f"张{tag}{i}" for i in range(n)],
        "gender": ["1"] * n,
        "ethnicity": ["01"] * n,
        "birth_date": [dt.date(1990, 1, 1) + dt.timedelta(days=i) for i in range(n)],
        "birth_place": ["湖南省益阳市"] * n,
        "household_address": [f"益阳市赫山区龙岭街道{i}号{tag}" for i in range(n)],
        "region_code": ["430903"] * n,
        "household_number": [f"{i:09d}" for i in range(n)],
        "phone": [f"1391234{i:04d}" for i in range(n)],
        "status": ["1"] * n,
        "updated_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * n,
    }
    table = pa.table(values, schema=arrow_schema(contract))
    if deleted:
        table = table.append_column("_deleted", pa.array(list(deleted), pa.bool_()))
    return table


def make_rows(contract: Contract, keys: Sequence[str], *, deleted: Sequence[bool] = ()) -> pa.Table:
    """Rows of any contract: the key from `keys`, other values derived from the type."""
    samples = {"string": "x", "int64": 1, "double": 1.0, "bool": True, "date32[day]": dt.date(2020, 1, 1)}
    columns = {}
    for f in arrow_schema(contract):
        if f.name in contract.primary_key:
            columns[f.name] = pa.array(list(keys), f.type)
        elif pa.types.is_timestamp(f.type):
            columns[f.name] = pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * len(keys), f.type)
        elif pa.types.is_decimal(f.type):
            columns[f.name] = pa.array([decimal.Decimal(1)] * len(keys), f.type)
        else:
            columns[f.name] = pa.array([samples[str(f.type)]] * len(keys), f.type)
    table = pa.table(columns, schema=arrow_schema(contract))
    if deleted:
        table = table.append_column("_deleted", pa.array(list(deleted), pa.bool_()))
    return table


def pid(i: int) -> str:
    return f"43090219900101{i:04d}"


@pytest.fixture(scope="module")
def person() -> Contract:
    return load_contract("person")


@pytest.fixture(scope="function")
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture(scope="function")
def session(tmp_path: Path) -> Iterator[Session]:
    """A hub metadata store with every room's tables (SQLite in tmp_path)."""
    import exchange.log.models  # noqa: F401  (registers the exchange-log tables)

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def subscribe(
    session: Session,
    *,
    department: str = "11430900MB0000001X",
    mode: str = "file",
    fields: Sequence[str] = ALL_PERSON,
    pii_access: bool = True,
    target_url: str | None = None,
    status: str = "granted",
) -> Subscription:
    if session.get(Department, department) is None:
        session.add(Department(code=department, name=f"部门{department[-3:]}"))
        session.flush()
    target = None
    if target_url is not None:  # registered as the hub administrator would: a name -> a 0600 secret file
        target = f"db-{len(list_targets(session, department=department, active_only=False)) + 1}"
        secret = Path(tempfile.mkdtemp(prefix="govhub-test-target-")) / f"{target}.url"
        secret.write_text(target_url)
        register_target(session, department_code=department, name=target, connection_ref=f"file:{secret}", reserved={})
    sub = Subscription(
        resource="person",
        department_code=department,
        purpose="社保待遇资格认证",
        legal_basis="《社会保险法》",
        fields=list(fields),
        pii_access=pii_access,
        delivery_mode=mode,
        target_name=target,
        status=status,
    )
    session.add(sub)
    session.commit()
    return sub


def commit(lake: Lake, contract: Contract, table: pa.Table, seq: int) -> int:
    info = lake.curated(contract).commit(table, app_id="test", run_seq=seq, metadata={})
    assert info is not None
    return info.version


def run(session: Session, lake: Lake, contract: Contract, **options) -> list:
    return deliver_resource(session, lake, contract, secret=SECRET, **options)


def read_delivered(lake: Lake, key: str) -> pa.Table:
    return pq.read_table(Path(lake.root, key))


def target_rows(url: str, table: str = "person") -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    engine.dispose()
    return rows


# -- pure functions -------------------------------------------------------------------------------


def test_net_changes_collapse_each_key_to_its_net_effect(person: Contract, lake: Lake) -> None:
    v0 = commit(lake, person, person_rows(person, [pid(1), pid(2), pid(3)]), 1)
    commit(lake, person, person_rows(person, [pid(2), pid(4), pid(5)], tag="v2"), 2)  # update 2, insert 4, 5
    v2 = commit(lake, person, person_rows(person, [pid(2), pid(3), pid(4)], tag="v3", deleted=[False, True, True]), 3)
    feed = net_changes(lake.curated(person).changes(after_version=v0, to_version=v2), person, snapshot=False)
    net = {r["id_number"]: (r["_change_type"], r["_commit_version"], r["name"]) for r in feed.table.to_pylist()}
    # 2 updated twice -> one update with the last values; 3 deleted (with the values its deletion record
    # carried: the change table keeps what the run sent); 4 inserted then deleted -> nothing; 5 inserted
    assert net == {
        pid(2): ("update", v2, "张v30"),
        pid(3): ("delete", v2, "张v31"),
        pid(5): ("insert", 1, "张v22"),
    }
    assert (feed.inserted, feed.updated, feed.deleted) == (1, 1, 1)


def test_tombstones_are_deletes_for_subscribers(lake: Lake) -> None:
    entity = load_contract("legal_entity")
    commit(lake, entity, make_rows(entity, ["A", "B"]), 1)
    v1 = commit(lake, entity, make_rows(entity, ["B"], deleted=[True]), 2)
    table = lake.curated(entity)
    feed = net_changes(table.changes(after_version=0, to_version=v1), entity, snapshot=False)
    assert [(r[entity.primary_key[0]], r["_change_type"]) for r in feed.table.to_pylist()] == [("B", "delete")]
    assert "_deleted" not in feed.table.column_names
    snap = net_changes(table.changes(after_version=None, to_version=v1), entity, snapshot=True)
    assert snap.table.column(entity.primary_key[0]).to_pylist() == ["A"]


@pytest.mark.parametrize(
    ("pii", "name", "values", "expected"),
    [
        pytest.param(
            "identifier",
            "legal_rep_id",
            ["430902199001011234", "1234567"],
            ["430902**********34", "*******"],
            id="identifier-6-and-2",
        ),
        pytest.param("personal", "name", ["张三丰", "李", None], ["张**", "*", None], id="personal-name"),
        pytest.param(
            "personal",
            "household_address",
            ["益阳市赫山区龙岭街道12号", "益阳市沅江市琼湖街道5号", "湖南省益阳市南县南洲镇3组", "龙岭路1号"],
            ["益阳市赫山区", "益阳市沅江市", "湖南省益阳市南县", "***"],
            id="personal-address-to-county",
        ),
        pytest.param("sensitive", "phone", ["13912345678"], [None], id="sensitive-null"),
        pytest.param("none", "region_code", ["430903"], ["430903"], id="none-unchanged"),
    ],
)
def test_mask_rules_per_pii_class(pii: str, name: str, values: list, expected: list) -> None:
    assert mask_column(pa.array(values, pa.string()), pii=pii, name=name).to_pylist() == expected


def test_masked_person_keys_are_stable_per_department_pseudonyms(person: Contract) -> None:
    rows = person_rows(person, [pid(1), pid(2)])
    a = restrict_and_mask(rows, person, fields=ALL_PERSON, pii_access=False, secret=SECRET, department="A")
    again = restrict_and_mask(rows, person, fields=ALL_PERSON, pii_access=False, secret=SECRET, department="A")
    b = restrict_and_mask(rows, person, fields=ALL_PERSON, pii_access=False, secret=SECRET, department="B")
    keys = a.column("id_number").to_pylist()
    assert keys == again.column("id_number").to_pylist()  # stable: upserts keep working
    assert all(len(k) == 64 and k not in (pid(1), pid(2)) for k in keys)
    assert set(keys).isdisjoint(b.column("id_number").to_pylist())  # departments cannot join on it
    first = a.to_pylist()[0]
    assert first["name"] == "张***"  # 张v10: first character + one * per further character
    assert first["household_address"] == "益阳市赫山区"
    assert first["household_number"] == "0********"
    assert (first["ethnicity"], first["phone"], first["birth_date"]) == (None, None, None)
    assert (first["region_code"], first["status"]) == ("430903", "1")


# -- end to end -----------------------------------------------------------------------------------


def test_file_mode_first_snapshot_then_only_the_change(person: Contract, lake: Lake, session: Session) -> None:
    sub = subscribe(session)
    v0 = commit(lake, person, person_rows(person, [pid(1), pid(2), pid(3)]), 1)
    [first] = run(session, lake, person)
    assert (first.status, first.from_version, first.to_version, first.rows_inserted) == ("done", None, v0, 3)
    assert first.location == file_key(sub.department_code, "person", None, v0)
    assert first.link == str(Path(lake.root, first.location))
    snap = read_delivered(lake, first.location)
    assert snap.column_names == [*ALL_PERSON, "_change_type", "_commit_version"]
    assert snap.column("_change_type").to_pylist() == ["insert"] * 3

    v1 = commit(lake, person, person_rows(person, [pid(2), pid(3), pid(4)], tag="v2", deleted=[False, True, False]), 2)
    [second] = run(session, lake, person)
    assert (second.from_version, second.to_version) == (v0, v1)
    assert (second.rows_inserted, second.rows_updated, second.rows_deleted) == (1, 1, 1)
    delta = read_delivered(lake, f"deliveries/{sub.department_code}/person/v{v0}-{v1}.parquet")
    kinds = sorted((r["id_number"], r["_change_type"]) for r in delta.to_pylist())
    assert kinds == [(pid(2), "update"), (pid(3), "delete"), (pid(4), "insert")]
    import hashlib

    assert hashlib.sha256(Path(second.link).read_bytes()).hexdigest() == second.checksum

    assert run(session, lake, person) == []  # nothing new: nothing delivered
    records = session.scalars(sa.select(Delivery).order_by(Delivery.to_version)).all()
    assert [(r.from_version, r.to_version, r.status) for r in records] == [(None, v0, "done"), (v0, v1, "done")]


def test_department_never_receives_a_field_it_was_not_granted(
    person: Contract, lake: Lake, session: Session, tmp_path: Path
) -> None:
    granted = ["id_number", "name", "region_code"]
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    file_sub = subscribe(session, fields=granted, pii_access=True)
    subscribe(session, department="11430900MB0000002X", mode="database", fields=granted, target_url=url)
    commit(lake, person, person_rows(person, [pid(1), pid(2)]), 1)
    results = run(session, lake, person)
    assert [r.status for r in results] == ["done", "done"]
    delivered = read_delivered(lake, results[0].location)
    assert delivered.column_names == [*granted, "_change_type", "_commit_version"]
    raw = Path(lake.root, results[0].location).read_bytes()
    for secret_value in ("13912340000", "龙岭街道", "household_address", "phone"):  # ungranted values and names
        assert secret_value.encode() not in raw
    [row, _] = target_rows(url)
    assert sorted(row) == sorted([*granted, "_commit_version"])
    assert file_sub.fields == granted


def test_masking_applies_unless_the_grant_covers_pii(person: Contract, lake: Lake, session: Session) -> None:
    subscribe(session, pii_access=False)
    subscribe(session, department="11430900MB0000002X", pii_access=True)
    commit(lake, person, person_rows(person, [pid(1)]), 1)
    masked_result, clear_result = run(session, lake, person)
    masked = read_delivered(lake, masked_result.location).to_pylist()[0]
    clear = read_delivered(lake, clear_result.location).to_pylist()[0]
    assert masked["id_number"] != pid(1) and len(masked["id_number"]) == 64
    assert (masked["name"], masked["phone"], masked["ethnicity"]) == ("张***", None, None)
    assert (clear["id_number"], clear["name"], clear["phone"]) == (pid(1), "张v10", "13912340000")


def test_a_masked_delivery_says_which_fields_are_masked_why_and_how_to_ask(
    person: Contract, lake: Lake, session: Session
) -> None:
    granted = ["id_number", "name", "gender", "birth_date", "region_code"]
    subscribe(session, fields=granted, pii_access=False)
    subscribe(session, department="11430900MB0000002X", fields=granted, pii_access=True)
    commit(lake, person, person_rows(person, [pid(1)]), 1)
    masked_result, clear_result = run(session, lake, person, exchange_log=ExchangeLog(session))
    expected = tuple(f.name for f in person.fields if f.name in granted and f.pii != "none")  # from the contract
    assert masked_result.masked_fields == expected == ("id_number", "name", "gender", "birth_date")
    assert clear_result.masked_fields == ()
    schema = pq.read_schema(Path(lake.root, masked_result.location))  # the file's own metadata says it
    notice = json.loads(schema.metadata[b"govhub:masking"])
    assert [f["name"] for f in notice["fields"]] == list(expected) and notice["rule"] == "pii_masking"
    assert {f["name"]: f["masking"] for f in notice["fields"]}["birth_date"] == "withheld"
    assert "pii_access" in notice["reason_zh"] and "--pii-access" in notice["how_to_ask_zh"]
    assert "出生日期（birth_date）" in notice["how_to_ask_zh"] and "市公安局" in notice["how_to_ask_zh"]
    assert schema.field("gender").metadata[b"govhub:masked"] == b"initial"
    assert b"govhub:masked" not in (schema.field("region_code").metadata or {})
    clear = pq.read_schema(Path(lake.root, clear_result.location))
    assert b"govhub:masking" not in (clear.metadata or {})
    logged = session.scalars(sa.select(ExchangeEvent).where(ExchangeEvent.type == "delivery")).all()
    assert sorted(tuple(e.details["masked_fields"]) for e in logged) == [(), expected]  # the log records it too


def test_database_mode_upserts_deletes_and_records_in_the_target(
    person: Contract, lake: Lake, session: Session, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    sub = subscribe(session, mode="database", target_url=url, pii_access=True)
    commit(lake, person, person_rows(person, [pid(1), pid(2), pid(3)]), 1)
    run(session, lake, person)
    v1 = commit(lake, person, person_rows(person, [pid(2), pid(3), pid(4)], tag="v2", deleted=[False, True, False]), 2)
    [result] = run(session, lake, person)
    assert (result.status, result.location, result.rows) == ("done", "person", 3)
    rows = {r["id_number"]: r for r in target_rows(url)}
    assert sorted(rows) == [pid(1), pid(2), pid(4)]
    assert (rows[pid(2)]["name"], rows[pid(2)]["_commit_version"]) == ("张v20", v1)
    book = target_rows(url, BOOKKEEPING_TABLE)
    assert [(b["subscription_id"], b["to_version"]) for b in book] == [(sub.id, 0), (sub.id, v1)]


def test_revocation_takes_effect_on_the_next_delivery(person: Contract, lake: Lake, session: Session) -> None:
    from catalog.subscriptions import granted_subscriptions

    keep = subscribe(session)
    gone = subscribe(session, department="11430900MB0000002X")
    commit(lake, person, person_rows(person, [pid(1)]), 1)
    assert len(run(session, lake, person)) == 2
    gone.status, gone.revoked_at = "revoked", dt.datetime.now(dt.UTC)
    session.commit()
    commit(lake, person, person_rows(person, [pid(2)]), 2)
    assert [s.id for s in granted_subscriptions(session, "person")] == [keep.id]
    assert [r.subscription_id for r in run(session, lake, person)] == [keep.id]
    # a caller-supplied list cannot smuggle a revoked subscription through either
    assert run(session, lake, person, subscriptions=[gone]) == []


def test_crash_between_target_write_and_hub_record_neither_doubles_nor_skips(
    person: Contract, lake: Lake, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    sub = subscribe(session, mode="database", target_url=url)
    commit(lake, person, person_rows(person, [pid(1), pid(2)]), 1)
    run(session, lake, person)
    v1 = commit(lake, person, person_rows(person, [pid(3)]), 2)

    def crash(_session: Session, _row: Delivery) -> None:
        raise RuntimeError("process died after the target committed")

    monkeypatch.setattr(deliver_module, "_mark_done", crash)
    with pytest.raises(RuntimeError, match="process died"):
        run(session, lake, person)
    monkeypatch.undo()
    session.rollback()
    pending = session.scalars(sa.select(Delivery).where(Delivery.to_version == v1)).one()
    assert pending.status == "running"  # the hub did not record it ...
    assert len(target_rows(url)) == 3  # ... but the target holds it

    writes: list[int] = []
    real_write = deliver_module.write_database
    monkeypatch.setattr(deliver_module, "write_database", lambda *a, **k: writes.append(1) or real_write(*a, **k))
    [recovered] = run(session, lake, person)
    assert (recovered.status, recovered.to_version, recovered.recovered) == ("done", v1, True)
    assert writes == []  # recognised from the target's bookkeeping, not written again
    assert len(target_rows(url)) == 3
    assert [b["to_version"] for b in target_rows(url, BOOKKEEPING_TABLE)] == [0, v1]
    assert run(session, lake, person) == []
    v2 = commit(lake, person, person_rows(person, [pid(4)]), 3)
    [nxt] = run(session, lake, person)
    assert (nxt.from_version, nxt.to_version, nxt.rows_inserted) == (v1, v2, 1)  # nothing skipped
    assert sub.id == nxt.subscription_id


def test_unreachable_database_fails_clearly_and_is_retried(
    person: Contract, lake: Lake, session: Session, tmp_path: Path
) -> None:
    bad = f"sqlite:///{tmp_path / 'no-such-dir' / 'dept.db'}"
    sub = subscribe(session, mode="database", target_url=bad)
    commit(lake, person, person_rows(person, [pid(1)]), 1)
    events = ExchangeLog(session)
    [failed] = run(session, lake, person, exchange_log=events)
    assert failed.status == "failed" and failed.error_code == "target_unreachable"
    assert sub.department_code in failed.error and "'db-1'" in failed.error  # the target by name...
    assert "no-such-dir" not in failed.error and str(tmp_path) not in failed.error  # ...never its path
    record = session.scalars(sa.select(Delivery)).one()
    assert (record.status, record.attempts) == ("failed", 1) and "no-such-dir" not in record.error

    target = get_target(session, sub.department_code, "db-1")  # the administrator repairs the connection
    Path(target.connection_ref.removeprefix("file:")).write_text(f"sqlite:///{tmp_path / 'dept.db'}")
    [retried] = run(session, lake, person, exchange_log=events)
    assert (retried.status, retried.from_version, retried.rows_inserted) == ("done", None, 1)
    record = session.scalars(sa.select(Delivery)).one()
    assert (record.status, record.attempts, record.error) == ("done", 2, None)
    logged = session.scalars(sa.select(ExchangeEvent).order_by(ExchangeEvent.seq)).all()
    assert [(e.type, e.outcome, e.error_code, e.target, e.resource) for e in logged] == [
        ("delivery", "failed", "target_unreachable", sub.department_code, "person"),
        ("delivery", "ok", None, sub.department_code, "person"),
    ]
    assert logged[1].rows == 1 and logged[1].checksum == retried.checksum and logged[1].bytes > 0
    assert events.verify().ok


def test_a_repeated_file_delivery_overwrites_the_same_object(person: Contract, lake: Lake, session: Session) -> None:
    sub = subscribe(session)
    commit(lake, person, person_rows(person, [pid(1)]), 1)
    [first] = run(session, lake, person)
    session.execute(sa.update(Delivery).values(status="failed"))  # as if the record had not been kept
    session.commit()
    [again] = run(session, lake, person)
    assert again.location == first.location and again.checksum == first.checksum
    folder = Path(lake.root, "deliveries", sub.department_code, "person")
    assert [p.name for p in folder.iterdir()] == ["snapshot-v0.parquet"]


def test_api_mode_records_a_pull_cursor_and_deliver_to_older_version(
    person: Contract, lake: Lake, session: Session
) -> None:
    sub = subscribe(session, mode="api")
    v0 = commit(lake, person, person_rows(person, [pid(1)]), 1)
    commit(lake, person, person_rows(person, [pid(2)]), 2)
    [result] = run(session, lake, person, version=v0)
    assert (result.to_version, result.rows_inserted) == (v0, 1)
    assert result.location == f"after_version=&to_version={v0}"
    assert result.link == f"/api/deliveries/{sub.id}/changes?after_version="
    [nxt] = run(session, lake, person)
    assert (nxt.from_version, nxt.rows_inserted) == (v0, 1)


def test_a_masked_column_of_a_database_delivery_carries_a_comment_saying_so(person: Contract) -> None:
    from exchange.delivery.targets import _data_table

    table = restrict_and_mask(
        person_rows(person, [pid(1)]),
        person,
        fields=["id_number", "gender", "region_code"],
        pii_access=False,
        secret=SECRET,
        department="11430900MB0000001X",
    )
    target = _data_table(table, "person", ["id_number"], sa.MetaData())
    assert "pii_access" in target.c.gender.comment and "脱敏（initial）" in target.c.gender.comment
    assert "pseudonym" in target.c.id_number.comment and target.c.region_code.comment is None
    from sqlalchemy.dialects import postgresql

    comments = sa.schema.SetColumnComment(target.c.gender).compile(dialect=postgresql.dialect())
    assert "COMMENT ON COLUMN person.gender" in str(comments)  # what PostgreSQL keeps with the table
