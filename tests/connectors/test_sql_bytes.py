"""SQL connector: text that is not UTF-8 (GBK in a BLOB or a text column) reaches the quality stage as
its bytes, on every path, and is quarantined with the bytes escaped — never published as '����'."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pyarrow as pa
import pytest
import sqlalchemy as sa
from connector_support import BASE, insert, make_table, person_row
from sqlalchemy.dialects import mysql, postgresql

from connectors import connector_for
from quality import validate
from quality.codes import make_id_number

GBK_NAME = "张三".encode("gbk")  # b"\xd5\xc5\xc8\xfd": not UTF-8
ESCAPED = "\\xd5\\xc5\\xc8\\xfd"


def _rows(n: int) -> list[dict]:
    """Rows that pass every person check (a real ID number matching birth date and gender)."""
    rows = [person_row(i, BASE + dt.timedelta(seconds=i)) for i in range(n)]
    for i, r in enumerate(rows):
        r["id_number"] = make_id_number("430902", r["birth_date"], 2 * i + 1)
    return rows


def _raw_names(table: pa.Table) -> list[bytes | None]:
    return table.column("name").cast(pa.binary()).to_pylist()


def _sqlite_set(url: str, key: str, column: str, sql_value: str, value: bytes) -> None:
    """Store bytes in a text column as a legacy system does: a BLOB value, or TEXT that is not UTF-8."""
    with sqlite3.connect(sa.make_url(url).database) as conn:
        conn.execute(f"UPDATE person SET {column} = {sql_value} WHERE id_number = ?", (value, key))


def _assert_quarantined(table: pa.Table, person, bad: dict[str, str]) -> None:
    """Rows holding bytes (key -> field) are rejected for `type` on that field, the bytes escaped and
    the field's label named; every other row is accepted."""
    verdict = validate(table, person, today=dt.date(2026, 1, 1))
    rejected = {r["row_key"]: r for r in verdict.rejected.to_pylist()}
    assert set(rejected) == set(bad)
    labels = {f.name: f.label for f in person.fields}
    for key, row in rejected.items():
        reason = next(r for r in row["reasons"] if r["field"] == bad[key])
        assert reason["rule"] == "type" and reason["value"] == ESCAPED
        assert labels[bad[key]] in reason["message"] and ESCAPED in reason["message"]
        assert "\ufffd" not in row["record"]
    assert verdict.counts["accepted"] == table.num_rows - len(bad)
    assert "\ufffd" not in "".join(verdict.accepted.column("name").to_pylist())


@pytest.mark.parametrize("adbc", [pytest.param("auto", id="adbc"), pytest.param("never", id="dbapi")])
def test_sqlite_blob_in_a_text_column_is_passed_on_as_its_bytes(sqlite_url, person, adbc):
    engine = sa.create_engine(sqlite_url)
    rows = _rows(6)
    insert(engine, make_table(engine, person), rows)
    _sqlite_set(sqlite_url, rows[3]["id_number"], "name", "?", GBK_NAME)  # a BLOB in the TEXT column
    table = connector_for(person, {"url": sqlite_url, "adbc": adbc}, batch_size=2).extract(None).read_all()
    assert table.num_rows == 6
    assert _raw_names(table)[3] == GBK_NAME  # the bytes as stored, not b"\xef\xbf\xbd..." (U+FFFD)
    _assert_quarantined(table, person, {rows[3]["id_number"]: "name"})


@pytest.mark.parametrize("adbc", [pytest.param("auto", id="adbc"), pytest.param("never", id="dbapi")])
@pytest.mark.parametrize(
    ("blob_row", "text_row"),
    [
        pytest.param(0, 3, id="blob-in-first-batch"),
        pytest.param(4, 1, id="text-first"),
        pytest.param(2, 2, id="one-row"),
    ],
)
def test_sqlite_invalid_text_and_a_blob_in_one_read_quarantine_rows_not_the_read(
    sqlite_url, person, adbc, blob_row, text_row
):
    """Before: ADBC gave up on the BLOB, and Python's sqlite3 then failed the whole read on the bad text."""
    engine = sa.create_engine(sqlite_url)
    rows = _rows(6)
    insert(engine, make_table(engine, person), rows)
    _sqlite_set(sqlite_url, rows[blob_row]["id_number"], "name", "?", GBK_NAME)  # a BLOB
    _sqlite_set(sqlite_url, rows[text_row]["id_number"], "household_address", "CAST(? AS TEXT)", GBK_NAME)
    ex = connector_for(person, {"url": sqlite_url, "adbc": adbc}, batch_size=2).extract(None)
    table = ex.read_all()
    assert ex.complete and table.num_rows == 6
    assert sorted(table.column("id_number").to_pylist()) == sorted(r["id_number"] for r in rows)
    assert _raw_names(table)[blob_row] == GBK_NAME
    assert table.column("household_address").cast(pa.binary())[text_row].as_py() == GBK_NAME
    bad = {rows[text_row]["id_number"]: "household_address", rows[blob_row]["id_number"]: "name"}
    _assert_quarantined(table, person, bad)


def test_sqlite_blob_holding_utf8_is_text(sqlite_url, person):
    engine = sa.create_engine(sqlite_url)
    rows = _rows(2)
    insert(engine, make_table(engine, person), rows)
    _sqlite_set(sqlite_url, rows[0]["id_number"], "name", "?", "王五".encode())
    table = connector_for(person, {"url": sqlite_url}).extract(None).read_all()
    assert table.column("name").to_pylist()[0] == "王五"
    assert validate(table, person, today=dt.date(2026, 1, 1)).counts["rejected"] == 0


def _server_bytes_round(url: str, person, binary: sa.types.TypeEngine) -> None:
    """A registry keeping names as bytes (VARBINARY / bytea): no drift; GBK quarantined, UTF-8 taken."""
    engine = sa.create_engine(url)
    try:
        table = make_table(engine, person, retype={"name": binary})
        rows = _rows(4)
        for r in rows:
            r["name"] = r["name"].encode()
        rows[2]["name"] = GBK_NAME
        insert(engine, table, rows)
        conn = connector_for(person, {"url": url}, batch_size=3)
        assert not conn.check_schema().drifted  # bytes holding text are no drift for a string field
        result = conn.extract(None).read_all()
        assert result.column("name")[0].as_py() == "张0"
        assert _raw_names(result)[2] == GBK_NAME
        _assert_quarantined(result, person, {rows[2]["id_number"]: "name"})
    finally:
        engine.dispose()


@pytest.mark.services
def test_mariadb_gbk_bytes_are_quarantined_not_replaced(mariadb_url, person):
    _server_bytes_round(mariadb_url, person, mysql.VARBINARY(200))


@pytest.mark.services
def test_postgres_gbk_bytes_are_quarantined_not_replaced(postgres_url, person):
    _server_bytes_round(postgres_url, person, postgresql.BYTEA())


@pytest.mark.parametrize("adbc", [pytest.param("auto", id="adbc"), pytest.param("never", id="dbapi")])
@pytest.mark.parametrize("stored", [pytest.param("?", id="blob"), pytest.param("CAST(? AS TEXT)", id="text")])
def test_gbk_bytes_in_the_key_neither_crash_the_read_nor_enter_the_state(sqlite_url, person, adbc, stored):
    """A key no JSON state can name: the state stops at the last key it can; the row is read again."""
    engine = sa.create_engine(sqlite_url)
    rows = _rows(4)
    for r in rows:
        r["updated_at"] = BASE  # one cursor value: the key decides the order
    insert(engine, make_table(engine, person), rows)
    _sqlite_set(sqlite_url, rows[3]["id_number"], "id_number", stored, GBK_NAME)
    conn = connector_for(person, {"url": sqlite_url, "adbc": adbc}, batch_size=2)
    first = conn.extract(None)
    table = first.read_all()
    assert table.num_rows == 4
    assert first.proposed_state["key"] == [rows[2]["id_number"]]  # not the GBK key, which sorts last
    verdict = validate(table, person, today=dt.date(2026, 1, 1))
    (rejected,) = verdict.rejected.to_pylist()
    assert rejected["row_key"] == ESCAPED and rejected["reasons"][0]["field"] == "id_number"
    again = conn.extract(first.proposed_state)
    assert [v.as_py() for v in again.read_all().column("id_number").cast(pa.binary())] == [GBK_NAME]
    assert again.proposed_state == first.proposed_state
