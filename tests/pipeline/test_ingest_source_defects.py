"""Whole ingest runs over damaged sources: GBK bytes in a registry's text columns are quarantined row by
row (never published as replacement characters, never blocking the run); a settlement file whose header
drifted is refused alone while the others are taken."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from govhub.db import session_scope
from govhub.models import ResourceState
from govhub.pipeline import run_ingest
from govhub.pipeline.resources import open_resource

METADATA_STORES = ("sqlite",)  # the defects are in the data path; the metadata store does not matter
GBK = "张三".encode("gbk")


def _damage_population(url: str) -> tuple[str, str]:
    """A BLOB of GBK in the first row's name, GBK text in a later row's address; returns both keys."""
    with sqlite3.connect(sa.make_url(url).database) as conn:
        first, later = (r[0] for r in conn.execute("SELECT id_number FROM person ORDER BY rowid LIMIT 2 OFFSET 0"))
        conn.execute("UPDATE person SET name = ? WHERE id_number = ?", (GBK, first))
        conn.execute("UPDATE person SET household_address = CAST(? AS TEXT) WHERE id_number = ?", (GBK, later))
    return first, later


def test_gbk_bytes_in_a_registry_are_quarantined_and_the_run_goes_on(hub) -> None:
    blob_key, text_key = _damage_population(hub.sources.population_url)
    summary = run_ingest("person")
    assert summary["status"] == "succeeded" and summary["reconciled"] is True
    quarantine = {r["row_key"]: r for r in open_resource("person").quarantine.read().to_pylist()}
    for key, field in ((blob_key, "name"), (text_key, "household_address")):
        reason = next(r for r in quarantine[key]["reasons"] if r["field"] == field)
        assert (reason["rule"], reason["value"]) == ("type", "\\xd5\\xc5\\xc8\\xfd")
    curated = open_resource("person").curated.read()
    assert blob_key not in curated.column("id_number").to_pylist()
    for column in ("name", "household_address"):
        assert not any("\ufffd" in (v or "") for v in curated.column(column).to_pylist())


def _with_extra_column(source: Path, day: str) -> Path:
    """A copy of a settlement file for another day whose header and rows carry one more column (备注)."""
    lines = [ln for ln in source.read_bytes().decode("gbk").split("\r\n") if ln]
    body = [lines[0] + ",备注", *(ln + ",加急" for ln in lines[1:])]
    data = ("\r\n".join(body) + "\r\n").encode("gbk")
    path = source.with_name(f"settlement_{day}.csv")
    path.write_bytes(data)
    manifest = {
        "file": path.name,
        "rows": len(body) - 1,
        "sha256": hashlib.sha256(data).hexdigest(),
        "encoding": "GBK",
        "settlement_date": f"{day[:4]}-{day[4:6]}-{day[6:]}",
    }
    path.with_name(path.name + ".manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_a_later_settlement_file_with_an_extra_column_is_refused_alone(hub) -> None:
    run_ingest("person")
    files = sorted(hub.sources.inbox.glob("settlement_*.csv"))
    drifted = _with_extra_column(files[0], "20991231")  # sorts last: the first file's header is clean
    summary = run_ingest("payment")
    assert summary["status"] == "succeeded"
    (refusal,) = [p for p in summary["problems"] if p["name"] == drifted.name]
    assert refusal["severity"] == "error" and "新增列：备注" in refusal["reason"] and refusal["line"] == 1
    with session_scope() as session:
        taken = set(session.get(ResourceState, "payment").watermark["taken"])
    assert taken == {f.name for f in files} and drifted.exists()  # kept in the inbox, with its reason
    assert summary["extracted"] == sum(len(f.read_bytes().split(b"\r\n")) - 2 for f in files)
