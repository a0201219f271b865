"""The serving store: minimal columns, keyed lookups, versions, atomic swap under concurrent readers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from exchange.verify import ServingStore, StoreUnavailable, refresh_serving_store
from lake import Lake
from schemas import load_contract
from tests.exchange.verify_support import E_REVOKED, E_SHOP, PERSONS, commit_tables


def _persons(tag: str, n: int = 300) -> list[dict]:
    from datetime import date

    from quality.codes import make_id_number

    return [
        dict(PERSONS[0], id_number=make_id_number("430902", date(1980, 1, 1 + i // 100), i % 100 + 100), name=tag)
        for i in range(n)
    ]


def test_store_keeps_only_the_fields_items_read_with_secondary_indexes(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    commit_tables(lake)
    version = refresh_serving_store(lake, load_contract("credit_record"), home=tmp_path)
    [file] = (tmp_path / "serving" / "credit_record").glob("v*.sqlite")
    conn = sqlite3.connect(file)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(data)")]
    assert "content" not in columns and "authority_name" not in columns and "subject_code" in columns
    indexes = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    assert any("subject_code" in sql for (sql,) in indexes)
    assert dict(conn.execute("SELECT key, value FROM meta"))["version"] == str(version)
    snap = ServingStore(tmp_path).snapshot("credit_record")
    rows = snap.lookup(("subject_code",), (E_SHOP,), ("record_type", "valid_to"))
    assert sorted(r["record_type"] for r in rows) == ["black", "cf", "xk"]
    assert snap.lookup(("subject_code",), (E_REVOKED,), ("valid_to",)) == [{"valid_to": None}]


def test_refresh_is_a_no_op_for_the_version_already_served(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    commit_tables(lake, {"person": PERSONS})
    contract = load_contract("person")
    first = refresh_serving_store(lake, contract, home=tmp_path)
    pointer = (tmp_path / "serving" / "person" / "CURRENT").read_text()
    assert refresh_serving_store(lake, contract, home=tmp_path) == first
    assert (tmp_path / "serving" / "person" / "CURRENT").read_text() == pointer


def test_missing_store_and_empty_table_are_named(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no serving store for 'person'"):
        ServingStore(tmp_path).snapshot("person")
    with pytest.raises(StoreUnavailable, match="has no version yet"):
        refresh_serving_store(Lake(str(tmp_path / "lake")), load_contract("person"), home=tmp_path)


def test_tombstoned_entities_are_not_served(tmp_path: Path) -> None:
    import pyarrow as pa

    from tests.exchange.verify_support import ENTITIES, _fill

    lake = Lake(str(tmp_path / "lake"))
    contract = load_contract("legal_entity")
    commit_tables(lake, {"legal_entity": ENTITIES})
    gone = _fill(contract, [ENTITIES[0]]).append_column("_deleted", pa.array([True]))
    lake.curated(contract).commit(gone, app_id="t", run_seq=2, metadata={})
    refresh_serving_store(lake, contract, home=tmp_path)
    snap = ServingStore(tmp_path).snapshot("legal_entity")
    assert snap.lookup(("uscc",), (E_SHOP,), ("status",)) == []
    assert snap.lookup(("uscc",), (E_REVOKED,), ("status",)) == [{"status": "3"}]


def test_a_reader_during_refresh_sees_old_or_new_never_half(tmp_path: Path) -> None:
    """Each version's rows all carry the version's tag: a snapshot mixing tags would be a half swap."""
    lake = Lake(str(tmp_path / "lake"))
    contract = load_contract("person")
    commit_tables(lake, {"person": _persons("v0")})
    tags = {refresh_serving_store(lake, contract, home=tmp_path): "v0"}
    ids = [p["id_number"] for p in _persons("x")]
    store = ServingStore(tmp_path)
    stop, seen, problems = threading.Event(), set(), []

    def reader() -> None:
        while not stop.is_set():
            snap = store.snapshot("person")
            names = {r["name"] for i in ids[::15] for r in snap.lookup(("id_number",), (i,), ("name",))}
            seen.add(snap.version)
            if len(names) != 1 or (snap.version in tags and names != {tags[snap.version]}):
                problems.append((snap.version, names))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for n in range(1, 5):
        commit_tables(lake, {"person": _persons(f"v{n}")}, run_seq=n + 1)
        tags[refresh_serving_store(lake, contract, home=tmp_path)] = f"v{n}"
    stop.set()
    for t in threads:
        t.join()
    assert not problems
    assert len(seen) >= 2  # readers really ran across swaps
    assert store.snapshot("person").version == max(tags)
