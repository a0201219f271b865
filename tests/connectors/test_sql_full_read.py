"""SQL connector full reads: an unordered scan proposes the same state as the keyset-ordered read,
and the next incremental run neither misses nor repeats rows at the boundary."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random

import pyarrow as pa
import pytest
import sqlalchemy as sa
from connector_support import BASE, insert, make_table, person_row

from connectors import SqlConnector, connector_for
from schemas import SettingsError

_US = dt.timedelta(microseconds=1)


def _rows(n: int, *, seed: int = 3, composite: bool = False) -> list[dict]:
    """n persons over 4 distinct cursor values (many ties at the max), inserted in shuffled order."""
    rows = []
    for i in range(n):
        row = person_row(i, BASE + _US * (i % 4))
        if composite:  # (region_code, household_number): ties on the first key column too
            row["region_code"] = ["430902", "430903", "430921"][i % 3]
            row["household_number"] = f"{(i * 7919) % 1000:09d}"
        rows.append(row)
    random.Random(seed).shuffle(rows)
    return rows


def _table(engine: sa.Engine, contract, *, without_rowid: bool = False) -> sa.Table:
    table = make_table(engine, contract)
    if without_rowid:  # same DDL, clustered on the primary key
        with engine.begin() as conn:
            ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'person'").scalar_one()
            conn.exec_driver_sql("DROP TABLE person")
            conn.exec_driver_sql(ddl + " WITHOUT ROWID")
    return table


def _composite(person):
    return dataclasses.replace(person, primary_key=("region_code", "household_number"))


def _sorted(table: pa.Table, contract) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in contract.primary_key])


@pytest.mark.parametrize("adbc", ["auto", "never"])
@pytest.mark.parametrize("layout", ["rowid", "without_rowid"])
@pytest.mark.parametrize("keys", ["single", "composite"])
def test_scan_gives_the_rows_and_state_of_the_keyset_read(sqlite_url, person, adbc, layout, keys):
    contract = _composite(person) if keys == "composite" else person
    engine = sa.create_engine(sqlite_url)
    table = _table(engine, contract, without_rowid=layout == "without_rowid")
    rows = _rows(203, composite=keys == "composite")
    rows[0]["updated_at"] = None  # a null cursor never becomes the state
    insert(engine, table, rows)
    config = {"url": sqlite_url, "adbc": adbc}
    scan = connector_for(contract, config, batch_size=16).extract(None)
    keyset = connector_for(contract, {**config, "full_read": "keyset"}, batch_size=16).extract(None)
    got, want = scan.read_all(), keyset.read_all()
    assert got.num_rows == want.num_rows == 203
    assert _sorted(got, contract).equals(_sorted(want, contract))
    assert scan.proposed_state == keyset.proposed_state
    ids = got.column("id_number").to_pylist()
    if layout == "rowid":  # storage (insertion) order: the read did not walk the cursor index
        assert ids == [r["id_number"] for r in rows]
    assert ids != want.column("id_number").to_pylist()
    top = max(
        (r for r in rows if r["updated_at"]), key=lambda r: (r["updated_at"], *(r[k] for k in contract.primary_key))
    )
    assert scan.proposed_state["key"] == [top[k] for k in contract.primary_key]
    assert scan.proposed_state["cursor"] == top["updated_at"].strftime("%Y-%m-%d %H:%M:%S.%f")  # stored text
    engine.dispose()


@pytest.mark.parametrize("adbc", ["auto", "never"])
@pytest.mark.parametrize("keys", ["single", "composite"])
def test_boundary_ties_after_a_full_scan_neither_missed_nor_repeated(sqlite_url, person, adbc, keys):
    contract = _composite(person) if keys == "composite" else person
    engine = sa.create_engine(sqlite_url)
    table = _table(engine, contract)
    rows = _rows(100, composite=keys == "composite")
    insert(engine, table, rows)
    conn = connector_for(contract, {"url": sqlite_url, "adbc": adbc}, batch_size=7)
    first = conn.extract(None)
    seen = first.read_all().column("id_number").to_pylist()
    state = json.loads(json.dumps(first.proposed_state))
    boundary = BASE + _US * 3
    assert state["cursor"] == boundary.strftime("%Y-%m-%d %H:%M:%S.%f")
    # new rows at the boundary cursor: keys sorting before the state's key were "already passed"
    # by the keyset contract and are not expected; keys after it and a later cursor are
    key = tuple(state["key"])
    new = []
    for i in range(200, 212):
        row = person_row(i, boundary if i < 210 else boundary + _US)
        if keys == "composite":
            row["region_code"], row["household_number"] = "430921", f"{990 + i - 200:09d}"
        else:
            row["id_number"] = f"43090219900{'0' if i % 2 else '9'}{i:06d}"
        new.append(row)
    insert(engine, table, new)
    expected = sorted(
        r["id_number"] for r in new if r["updated_at"] > boundary or tuple(r[k] for k in contract.primary_key) > key
    )
    assert expected and (keys == "composite" or len(expected) < len(new))
    second = conn.extract(state)
    got = second.read_all().column("id_number").to_pylist()
    assert sorted(got) == expected and len(set(got) & set(seen)) == 0
    third = conn.extract(second.proposed_state)
    assert third.read_all() is None and third.proposed_state == second.proposed_state
    engine.dispose()


def test_adbc_failure_mid_scan_resumes_by_rowid_without_loss(sqlite_url, person, caplog):
    """A column null through the whole first ADBC batch, text later: the scan continues on DBAPI
    after the last delivered rowid, and proposes the same state as an ordered read."""
    engine = sa.create_engine(sqlite_url)
    table = make_table(engine, person)
    rows = _rows(40)
    for r in rows[:10]:
        r["birth_place"] = None
    for r in rows[10:]:
        r["birth_place"] = "湖南省益阳市"
    insert(engine, table, rows)
    ex = connector_for(person, {"url": sqlite_url}, batch_size=8).extract(None)
    with caplog.at_level("WARNING", logger="connectors.sql"):
        got = ex.read_all()
    assert "continuing on the DBAPI path" in caplog.text
    ids = got.column("id_number").to_pylist()
    assert ids == [r["id_number"] for r in rows]  # every row once, in storage order
    assert got.column("birth_place").to_pylist() == [r["birth_place"] for r in rows]
    keyset = connector_for(person, {"url": sqlite_url, "full_read": "keyset", "adbc": "never"}).extract(None)
    list(keyset)
    assert ex.proposed_state == keyset.proposed_state


def test_views_are_read_in_keyset_order(sqlite_url, person):
    engine = sa.create_engine(sqlite_url)
    table = make_table(engine, person)
    rows = _rows(30)
    insert(engine, table, rows)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE VIEW person_v AS SELECT * FROM person")
    contract = dataclasses.replace(person, source=dataclasses.replace(person.source, options={"table": "person_v"}))
    ex = connector_for(contract, {"url": sqlite_url}).extract(None)
    ids = ex.read_all().column("id_number").to_pylist()
    assert ids == [r["id_number"] for r in sorted(rows, key=lambda r: (r["updated_at"], r["id_number"]))]


def test_full_read_option_is_checked(sqlite_url, person):
    with pytest.raises(SettingsError, match="full_read"):
        SqlConnector(person, {"url": sqlite_url, "full_read": "random"})
