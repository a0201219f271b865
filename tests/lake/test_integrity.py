"""Tamper evidence of curated tables: manifests at commit, changed/missing/unexpected files named with their version."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from lake import CuratedTable, Lake, commit_manifest, format_integrity, verify_files

META = {"run_id": "r"}


def _three_versions(lake: Lake, person, rows) -> tuple[CuratedTable, dict[int, dict]]:
    t = lake.curated(person)
    manifests = {}
    for i in range(3):
        info = t.commit(
            rows(person, [f"k{j}" for j in range(i * 20, i * 20 + 50)], tag=f"v{i}"),
            app_id="x",
            run_seq=i + 1,
            metadata=META,
        )
        manifests[info.version] = commit_manifest(t, info.version)
    return t, manifests


def test_a_manifest_holds_the_log_entry_and_every_file_the_commit_added(lake, person, rows):
    t, manifests = _three_versions(lake, person, rows)
    one = manifests[1]
    assert manifests[0]["log"]["path"] == "_delta_log/00000000000000000000.json"  # the first load: the base
    assert one["log"]["path"] == "_changes/_delta_log/00000000000000000000.json"  # a run: the change table
    paths = [f["path"] for f in one["files"]]
    assert paths and all(p.startswith("_changes/part-") for p in paths)
    root = Path(t.uri)
    for entry in [one["log"], *one["files"]]:
        assert (root / entry["path"]).stat().st_size == entry["size"] and len(entry["sha256"]) == 64
    report = verify_files(t, manifests)
    assert (
        report.ok
        and report.versions_checked == 3
        and report.files_checked == 3 + sum(len(m["files"]) for m in manifests.values())
    )
    assert "intact" in format_integrity(report)


def test_changed_missing_and_unexpected_files_are_named_with_their_version(lake, person, rows):
    t, manifests = _three_versions(lake, person, rows)
    root = Path(t.uri)
    data = root / manifests[1]["files"][0]["path"]
    flipped = bytearray(data.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01  # same size: only the SHA-256 tells
    data.write_bytes(bytes(flipped))
    (root / manifests[2]["log"]["path"]).unlink()
    (root / "part-planted.parquet").write_bytes(b"PAR1")
    report = verify_files(t, manifests)
    found = {(p.kind, p.path, p.version) for p in report.problems}
    assert found == {
        ("changed", manifests[1]["files"][0]["path"], 1),
        ("missing", manifests[2]["log"]["path"], 2),
        ("unexpected", "part-planted.parquet", None),
    }
    text = format_integrity(report)
    assert "TAMPERED — 3 problem(s)" in text and "written by version 1 has changed content (SHA-256)" in text


def test_a_commit_made_outside_the_pipeline_is_unexpected(lake, person, rows):
    t, manifests = _three_versions(lake, person, rows)
    t.commit(rows(person, ["zz"], tag="forged"), app_id="intruder", run_seq=1, metadata=META)
    kinds = sorted((p.kind, p.version, p.path.split("/")[0]) for p in verify_files(t, manifests).problems)
    # the change table's log entry and its data file
    assert {p.path.split("/")[1] for p in verify_files(t, manifests).problems} >= {"_delta_log"}
    assert kinds == [("unexpected", None, "_changes")] * 2


def test_an_altered_checkpoint_is_caught_by_replaying_the_commits(lake, person, rows):
    t, manifests = _three_versions(lake, person, rows)
    changes = Path(t.uri) / "_changes"
    DeltaTable(str(changes)).create_checkpoint()
    assert verify_files(t, manifests).ok  # checkpoints are derived files, not in any manifest
    checkpoint = next((changes / "_delta_log").glob("*.checkpoint.parquet"))
    table = pq.read_table(checkpoint)
    actions = table.to_pylist()
    older = manifests[1]["files"][0]["path"].removeprefix("_changes/")
    for action in actions:  # point every live file at version 1's changes: same schema, older rows
        if action.get("add"):
            action["add"]["path"] = older
    pq.write_table(pa.Table.from_pylist(actions, schema=table.schema), checkpoint)
    (problem,) = verify_files(t, manifests).problems
    assert (problem.kind, problem.path) == ("changed", "_changes/_delta_log") and "checkpoint" in problem.detail


def test_versions_recorded_before_manifests_are_checked_for_presence_and_size(lake, person, rows):
    t, manifests = _three_versions(lake, person, rows)
    report = verify_files(t, {**manifests, 1: None})
    assert report.ok and "version(s) 1 were recorded without file checksums" in report.notes[0]
    (Path(t.uri) / manifests[1]["files"][0]["path"]).unlink()
    (problem,) = verify_files(t, {**manifests, 1: None}).problems
    assert (problem.kind, problem.version) == ("missing", 1)


def test_an_s3_lake_is_verified_through_the_same_code(s3_lake, person, rows):
    from lake._fs import filesystem_for

    t, manifests = _three_versions(s3_lake, person, rows)
    assert t.uri.startswith("s3://") and verify_files(t, manifests).ok
    fs, base = filesystem_for(t.uri, t.storage_options)
    first, second = manifests[2]["files"][0]["path"], manifests[0]["files"][0]["path"]
    with fs.open_input_stream(f"{base}/{second}") as source, fs.open_output_stream(f"{base}/{first}") as out:
        out.write(source.read())  # another valid Parquet of the table under a newer file's name
    fs.delete_file(f"{base}/{manifests[1]['log']['path']}")
    found = {(p.kind, p.path, p.version) for p in verify_files(t, manifests).problems}
    assert found == {("changed", first, 2), ("missing", manifests[1]["log"]["path"], 1)}
