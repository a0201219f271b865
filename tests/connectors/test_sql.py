"""SQL connector: incremental reads with exact boundaries, state round trip, outages, drift."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from connector_support import BASE, insert, make_table, person_row

from connectors import Extraction, SqlConnector, connector_for
from schemas import SourceError, StateError


def _ids(ex: Extraction) -> list[str]:
    table = ex.read_all()
    return [] if table is None else table.column("id_number").to_pylist()


def _boundary_round(url: str, person, *, adbc: str = "auto") -> None:
    engine = sa.create_engine(url)
    table = make_table(engine, person)
    t = BASE
    insert(engine, table, [person_row(i, t + dt.timedelta(microseconds=i % 3)) for i in range(10)])
    conn = connector_for(person, {"url": url, "adbc": adbc}, batch_size=4)
    ex = conn.extract(None)
    first = _ids(ex)
    assert len(first) == 10 and ex.rows == 10 and ex.batches == 3
    state = json.loads(json.dumps(ex.proposed_state))  # the state survives JSON
    assert state["key"] == [person_row(8, t)["id_number"]]
    assert dt.datetime.fromisoformat(state["cursor"]).replace(tzinfo=None) == t + dt.timedelta(microseconds=2)
    # new rows share the boundary timestamp, one sorts before the last key (already past), others after
    boundary = t + dt.timedelta(microseconds=2)
    insert(
        engine,
        table,
        [person_row(i, boundary) for i in (20, 21)] + [person_row(30, boundary + dt.timedelta(microseconds=1))],
    )
    second = conn.extract(state)
    assert _ids(second) == [person_row(i, t)["id_number"] for i in (20, 21, 30)]
    third = conn.extract(second.proposed_state)
    assert _ids(third) == [] and third.proposed_state == second.proposed_state
    engine.dispose()


@pytest.mark.parametrize("adbc", [pytest.param("auto", id="adbc"), pytest.param("never", id="dbapi")])
def test_sqlite_boundary_rows_neither_missed_nor_repeated(sqlite_url, person, adbc):
    _boundary_round(sqlite_url, person, adbc=adbc)


@pytest.mark.services
def test_mariadb_boundary_and_microseconds(mariadb_url, person):
    _boundary_round(mariadb_url, person)


@pytest.mark.services
def test_postgres_boundary_and_microseconds(postgres_url, person):
    _boundary_round(postgres_url, person)


def test_batches_carry_contract_fields_and_deleted(sqlite_url, person):
    engine = sa.create_engine(sqlite_url)
    table = make_table(engine, person)
    insert(engine, table, [person_row(1, BASE), person_row(2, BASE, deleted=True)])
    batch = next(iter(connector_for(person, {"url": sqlite_url}).extract(None)))
    assert batch.schema.names == [*person.field_names, "_deleted"]
    assert batch.column("_deleted").to_pylist() == [False, True]
    assert batch.column("updated_at").to_pylist()[0] == "2024-03-01 08:00:00.123456"


def test_adbc_type_inference_failure_falls_back_without_loss(sqlite_url, person):
    """A column null in the whole first batch then text later breaks ADBC inference: continue on DBAPI."""
    engine = sa.create_engine(sqlite_url)
    table = make_table(engine, person)
    rows = [person_row(i, BASE + dt.timedelta(seconds=i)) for i in range(12)]
    for r in rows[:6]:
        r["birth_place"] = None
    insert(engine, table, rows)
    ex = connector_for(person, {"url": sqlite_url}, batch_size=5).extract(None)
    result = ex.read_all()
    assert result.num_rows == 12 and len(set(result.column("id_number").to_pylist())) == 12
    assert result.column("birth_place").to_pylist()[7] == "湖南省益阳市"


def test_proposed_state_only_after_full_read(sqlite_url, person):
    engine = sa.create_engine(sqlite_url)
    insert(engine, make_table(engine, person), [person_row(i, BASE) for i in range(5)])
    ex = connector_for(person, {"url": sqlite_url}, batch_size=2).extract(None)
    it = iter(ex)
    next(it)
    with pytest.raises(StateError, match="not read to the end"):
        _ = ex.proposed_state
    it.close()
    with pytest.raises(StateError, match="only once"):
        list(ex)


def test_missing_database_file_is_a_source_error(tmp_path, person):
    conn = SqlConnector(person, {"url": f"sqlite:///{tmp_path / 'gone.db'}"})
    with pytest.raises(SourceError, match=r"population/person.*does not exist"):
        list(conn.extract(None))
    assert not (tmp_path / "gone.db").exists()


@pytest.mark.parametrize("adbc", ["auto", "never"])
def test_sqlite_outage_mid_read_proposes_nothing(sqlite_url, person, adbc):
    engine = sa.create_engine(sqlite_url)
    table = make_table(engine, person)
    insert(engine, table, [person_row(i, BASE + dt.timedelta(seconds=i)) for i in range(4000)])
    engine.dispose()
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    ex = connector_for(person, {"url": sqlite_url, "adbc": adbc}, batch_size=100).extract(None)
    it = iter(ex)
    next(it)
    with path.open("r+b") as f:  # the disk "fails": pages the reader has not reached yet are garbage
        size = path.stat().st_size
        f.seek(4096 * 2)
        f.write(b"\xff" * (size - 4096 * 2))
    with pytest.raises(SourceError, match=r"population/person.*(malformed|not a database|corrupt)"):
        list(it)
    assert not ex.complete
    with pytest.raises(StateError):
        _ = ex.proposed_state


@pytest.mark.services
def test_postgres_connection_killed_mid_read(postgres_url, person):
    engine = sa.create_engine(postgres_url)
    insert(
        engine,
        make_table(engine, person),
        [person_row(i, BASE + dt.timedelta(seconds=i)) for i in range(3000)],
    )
    ex = connector_for(person, {"url": postgres_url}, batch_size=100).extract(None)
    it = iter(ex)
    next(it)
    with engine.connect() as admin:
        admin.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    with pytest.raises(SourceError, match=r"population/person.*reading table 'person' failed"):
        list(it)
    assert not ex.complete
    engine.dispose()


@pytest.mark.services
def test_postgres_streams_with_a_server_side_cursor(postgres_url, person):
    engine = sa.create_engine(postgres_url)
    insert(engine, make_table(engine, person), [person_row(i, BASE) for i in range(50)])
    seen = threading.Event()

    @sa.event.listens_for(sa.Engine, "before_cursor_execute")
    def _check(conn, cursor, statement, params, context, executemany):
        if "FROM person" in statement and getattr(cursor, "name", None):
            seen.set()

    try:
        assert connector_for(person, {"url": postgres_url}, batch_size=7).extract(None).read_all().num_rows == 50
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", _check)
    assert seen.is_set(), "expected a named (server-side) cursor"
    engine.dispose()


def test_schema_drift_new_missing_retyped(sqlite_url, person):
    engine = sa.create_engine(sqlite_url)
    make_table(
        engine, person, drop=("phone",), extra={"wechat_id": sa.String(50)}, retype={"household_number": sa.Integer()}
    )
    diff = connector_for(person, {"url": sqlite_url}).check_schema()
    assert diff.drifted
    assert diff.new == ("wechat_id",)
    assert diff.missing == ("phone",)
    assert diff.retyped == (("household_number", "string", "INTEGER"),)
    assert connector_for(person, {"url": sqlite_url}).columns()["wechat_id"] == "VARCHAR(50)"


def test_no_drift_on_the_contract_table(sqlite_url, person):
    make_table(sa.create_engine(sqlite_url), person)
    assert not connector_for(person, {"url": sqlite_url}).check_schema().drifted


def test_missing_contract_column_is_delivered_as_nulls(sqlite_url, person):
    engine = sa.create_engine(sqlite_url)
    table = make_table(engine, person, drop=("phone",))
    row = person_row(1, BASE)
    del row["phone"]
    insert(engine, table, [row])
    batch = next(iter(connector_for(person, {"url": sqlite_url}).extract(None)))
    assert batch.column("phone").null_count == 1 and batch.schema.field("phone").type == pa.string()


def test_sqlite_incremental_read_seeks_the_cursor_index(sqlite_url, person):
    """An incremental read must range-seek the `(cursor, pk)` index, not walk all of it: with the
    keyset predicate spelled as a bare OR, SQLite scanned every index entry of the table."""
    engine = sa.create_engine(sqlite_url)
    table = make_table(engine, person)
    insert(engine, table, [person_row(i, BASE + dt.timedelta(seconds=i)) for i in range(50)])
    conn = SqlConnector(person, {"url": sqlite_url})
    first = conn.extract(None)
    assert len(_ids(first)) == 50
    state = first.proposed_state
    plan = conn._plan(conn._reflect(engine))
    after = conn._start_position(state, plan)
    sql, params = conn._compile(engine, conn._statement(plan, conn._read_mode(engine, plan, after), after))
    with engine.connect() as c:
        steps = [row[-1] for row in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert any(s.startswith("SEARCH") and "updated_at>" in s.replace(" ", "") for s in steps), steps
    assert not any(s.startswith("SCAN") for s in steps), steps
    insert(engine, table, [person_row(i, BASE + dt.timedelta(seconds=49)) for i in (60, 61)])  # same cursor, later key
    assert _ids(conn.extract(state)) == [person_row(i, BASE)["id_number"] for i in (60, 61)]
    engine.dispose()
