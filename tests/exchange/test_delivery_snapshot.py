"""Snapshot deliveries stream: the same rows as the whole-table view, spilled in pseudonym order when large."""
# ruff: noqa: F401, F811  (the fixtures of test_delivery are imported by name and used as parameters)

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_delivery import (
    ALL_PERSON,
    SECRET,
    commit,
    lake,
    person,
    person_rows,
    pid,
    run,
    session,
    subscribe,
    target_rows,
)

import exchange.delivery.deliver as deliver_module
import exchange.delivery.snapshot as snapshot_module
from exchange.delivery import net_changes
from exchange.delivery.deliver import delivery_view
from exchange.delivery.feed import table_checksum
from exchange.delivery.snapshot import snapshot_view
from lake import Lake
from schemas import Contract, load_contract

KEYS = [pid(i) for i in range(300)]


def _whole_table_view(lake: Lake, contract: Contract, sub, version: int) -> pa.Table:
    """What a snapshot delivery sent when it held the table: net feed → restrict/mask → key order."""
    feed = net_changes(lake.curated(contract).changes(after_version=None, to_version=version), contract, snapshot=True)
    return delivery_view(feed, contract, sub, secret=SECRET)


@pytest.mark.parametrize("pii_access", [True, False], ids=["real-keys", "pseudonyms"])
@pytest.mark.parametrize("spill", [False, True], ids=["in-memory", "spilled"])
def test_streamed_snapshot_has_the_rows_of_the_whole_table_view(session, lake, person, monkeypatch, pii_access, spill):
    if spill:  # buckets on disk from 50 rows on: ~300 rows over up to 256 hex prefixes
        monkeypatch.setattr(snapshot_module, "SPILL_ABOVE_ROWS", 50)
    version = commit(lake, person, person_rows(person, KEYS), 1)
    commit(lake, person, person_rows(person, KEYS[:20], tag="v2", deleted=[True] * 10 + [False] * 10), 2)
    version = lake.curated(person).version()
    sub = subscribe(session, pii_access=pii_access, fields=["name", "household_address"])
    view = snapshot_view(lake.curated(person), sub, version=version, secret=SECRET)
    streamed = pa.Table.from_batches(list(view), schema=view.schema)
    expected = _whole_table_view(lake, person, sub, version)
    assert view.rows == streamed.num_rows == expected.num_rows == 290
    assert streamed.schema.equals(expected.schema)
    if pii_access:  # scan order: the same rows
        assert streamed.sort_by("id_number").equals(expected.sort_by("id_number"))
    else:  # pseudonyms: exactly the old content, in pseudonym order, so the same checksum
        assert streamed.equals(expected)
        assert table_checksum(streamed.combine_chunks()) == table_checksum(expected.combine_chunks())
        assert streamed.column("id_number").to_pylist() == sorted(streamed.column("id_number").to_pylist())


def test_tombstoned_rows_are_left_out_of_a_streamed_snapshot(session, lake):
    entity = load_contract("legal_entity")
    from test_delivery import make_rows

    keys = [f"91430900MA4L{i:05d}X" for i in range(30)]
    commit(lake, entity, make_rows(entity, keys), 1)
    version = commit(lake, entity, make_rows(entity, keys[:4], deleted=[True] * 4), 2)
    sub = subscribe(session, fields=[f.name for f in entity.fields])
    sub.resource = "legal_entity"
    view = snapshot_view(lake.curated(entity), sub, version=version, secret=SECRET)
    rows = pa.Table.from_batches(list(view), schema=view.schema)
    assert sorted(rows.column("uscc").to_pylist()) == sorted(keys[4:])
    assert "_deleted" not in rows.column_names and set(rows.column("_change_type").to_pylist()) == {"insert"}


def test_snapshot_delivered_streamed_to_file_and_database(session, lake, person, tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot_module, "SPILL_ABOVE_ROWS", 50)
    version = commit(lake, person, person_rows(person, KEYS), 1)
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    by_file = subscribe(session, department="11430900MB0000002X", pii_access=False, fields=ALL_PERSON)
    by_db = subscribe(session, department="11430900MB0000003X", mode="database", target_url=url)
    results = {r.subscription_id: r for r in run(session, lake, person)}
    assert {r.status for r in results.values()} == {"done"}
    assert results[by_file.id].rows_inserted == results[by_db.id].rows_inserted == 300
    delivered = pq.read_table(Path(lake.root, results[by_file.id].location))
    assert delivered.equals(_whole_table_view(lake, person, by_file, version))
    assert sorted(r["id_number"] for r in target_rows(url)) == KEYS
    assert results[by_db.id].checksum and results[by_db.id].bytes > 0


def test_a_spilled_snapshot_takes_the_scan_one_view_at_a_time(monkeypatch, tmp_path):
    monkeypatch.setattr(snapshot_module, "SPILL_ABOVE_ROWS", 10)
    added: list[int] = []
    real_add = snapshot_module._Buckets.add
    monkeypatch.setattr(snapshot_module._Buckets, "add", lambda self, t: added.append(t.num_rows) or real_add(self, t))

    def views():
        for i in range(8):
            if i > 3:  # every view read before the one in hand is already in its bucket, not held
                assert len(added) >= i - 1
            yield pa.table({"id_number": [f"{(i * 37 + j) % 256:02x}{j:03d}" for j in range(5)]})

    schema = pa.schema([pa.field("id_number", pa.string())])
    out = pa.Table.from_batches(
        list(snapshot_module._ordered_by_pseudonym(views(), ["id_number"], schema, spill_dir=str(tmp_path))),
        schema=schema,
    )
    keys = out.column("id_number").to_pylist()
    assert len(keys) == 40 and keys == sorted(keys)
    assert list(tmp_path.iterdir()) == []  # the buckets are removed


def test_a_crash_after_the_target_committed_a_snapshot_keeps_its_counts_and_checksum(
    session, lake, person, tmp_path, monkeypatch
):
    import sqlalchemy as sa

    import exchange.delivery.deliver as deliver_module

    commit(lake, person, person_rows(person, KEYS), 1)
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    sub = subscribe(session, mode="database", target_url=url)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("the hub dies after the department database committed")

    with monkeypatch.context() as m:
        m.setattr(deliver_module, "_mark_done", crash)
        with pytest.raises(KeyboardInterrupt):
            run(session, lake, person)
    session.rollback()
    (recovered,) = run(session, lake, person)
    assert recovered.recovered and recovered.status == "done"
    assert recovered.rows_inserted == 300 and recovered.bytes > 0
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        book = conn.execute(sa.text("SELECT rows, checksum FROM _govhub_delivery")).one()
    engine.dispose()
    assert (book.rows, book.checksum) == (300, recovered.checksum)
    assert len(target_rows(url)) == 300 and sub.id == recovered.subscription_id


def test_a_database_snapshot_reads_the_table_once_and_records_before_the_target_commits(
    session, lake, person, tmp_path, monkeypatch
):
    """One streamed pass: the hub's counts and checksum are committed inside the target's open transaction."""
    import sqlalchemy as sa

    from lake.curated import CuratedTable

    commit(lake, person, person_rows(person, KEYS), 1)
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    sub = subscribe(session, mode="database", target_url=url)
    scans: list[int] = []
    real_scan = CuratedTable.scan
    monkeypatch.setattr(CuratedTable, "scan", lambda self, **kw: scans.append(1) or real_scan(self, **kw))
    seen: list[tuple[str | None, int]] = []  # (the hub's checksum, the target's versions) at each hub commit
    real_commit = session.commit

    def hub_commit() -> None:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            has = sa.inspect(conn).has_table("_govhub_delivery")
            held = conn.execute(sa.text("SELECT count(*) FROM _govhub_delivery")).scalar() if has else 0
        engine.dispose()
        records = [o for o in session.identity_map.values() if isinstance(o, deliver_module.Delivery)]
        seen.append((records[0].checksum if records else None, held))
        real_commit()

    monkeypatch.setattr(session, "commit", hub_commit)
    (result,) = run(session, lake, person)
    assert result.status == "done" and result.rows_inserted == 300 and len(scans) == 1
    record = session.scalars(
        sa.select(deliver_module.Delivery).where(deliver_module.Delivery.subscription_id == sub.id)
    ).one()
    assert (record.rows_inserted, record.checksum, record.bytes) == (300, result.checksum, result.bytes)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        book = conn.execute(sa.text("SELECT rows, checksum FROM _govhub_delivery")).one()
    engine.dispose()
    assert (book.rows, book.checksum) == (300, result.checksum)
    assert (result.checksum, 0) in seen  # on record while the target had not committed yet


def test_a_hub_failure_before_the_target_commits_rolls_the_target_back_and_is_not_called_a_target_error(tmp_path):
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc

    from exchange.delivery.targets import write_database

    table = pa.table({"id_number": KEYS[:5], "_change_type": ["insert"] * 5})
    url = f"sqlite:///{tmp_path / 'dept.db'}"

    def hub_down(checksum: str, size: int, rows: int) -> None:
        assert rows == 5 and len(checksum) == 64 and size > 0
        raise sa_exc.OperationalError("COMMIT", {}, Exception("the hub's metadata store went away"))

    with pytest.raises(sa_exc.OperationalError, match="metadata store went away"):
        write_database(
            table,
            url=url,
            resource="person",
            keys=["id_number"],
            subscription_id=1,
            department="D",
            from_version=None,
            to_version=3,
            before_commit=hub_down,
        )
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM person")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM _govhub_delivery")).scalar() == 0
    engine.dispose()
