"""The core lake behaviour on an S3-protocol server (moto), through the same code as local folders."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyarrow as pa

from lake import ObjectStore

META = {"run_id": "r-1"}


def test_s3_options_default_to_conditional_put(s3_lake):
    assert s3_lake.storage_options["aws_conditional_put"] == "etag"


def test_s3_merge_cdf_and_crash_recognition(s3_lake, person, rows):
    t = s3_lake.curated(person)
    assert t.uri.startswith("s3://") and not t.exists()
    assert t.commit(rows(person, ["a", "b", "c"]), app_id="ingest", run_seq=1, metadata=META).version == 0
    info = t.commit(
        rows(person, ["b", "c", "d"], tag="v2", deleted=[False, True, False]), app_id="ingest", run_seq=2, metadata=META
    )
    assert (info.version, info.rows_inserted, info.rows_updated, info.rows_deleted) == (1, 1, 1, 1)
    assert t.commit(rows(person, ["b"], tag="v2"), app_id="ingest", run_seq=3, metadata=META) is None
    assert sorted(t.keys().to_pylist()) == ["a", "b", "d"]
    kinds = sorted(r["_change_type"] for r in t.changes(after_version=0).to_pylist())
    assert kinds == ["delete", "insert", "update_postimage"]
    last = type(s3_lake)(s3_lake.root, storage_options=s3_lake.storage_options).curated(person).last_commit("ingest")
    assert (last.version, last.run_seq, last.metadata) == (1, 2, META)


def test_s3_quarantine_and_staging(s3_lake, person):
    q = s3_lake.quarantine(person)
    rejected = pa.table({"id_number": ["x1", "x2"], "reasons": ["gb11643", "required:name"]})
    q.write(rejected, run_seq=1, run_id="r-1")
    q.write(rejected, run_seq=1, run_id="r-1b")
    assert q.read(run_seq=1).num_rows == 2
    s = s3_lake.staging(person, "r-1")
    assert s.write("accepted", rejected.to_batches(), rejected.schema) == 2
    assert s.exists("accepted") and s.reader("accepted").read_all().equals(rejected)
    s.clear()
    assert not s.exists("accepted")


def test_s3_object_store_presigned_link(s3_lake, tmp_path):
    path = tmp_path / "delivery.csv"
    path.write_text("a,b\n1,2\n")
    store = ObjectStore.from_lake(s3_lake)
    uri = store.put_file("deliveries/d1.csv", path, content_type="text/csv")
    assert uri.endswith("/hub/deliveries/d1.csv")
    url = store.presigned_get_url("deliveries/d1.csv", timedelta(minutes=5))
    assert "X-Amz-Signature" in url
    assert httpx.get(url).text == "a,b\n1,2\n"


def test_s3_concurrent_commits_do_not_overwrite_each_other(s3_lake, person, rows):
    """Two writers holding the same stale version: the second one's commit lands at the next version
    instead of replacing the first one's log entry (a sequential race; the concurrent race is what
    the conditional put protects, and it cannot be staged deterministically here)."""
    from deltalake import DeltaTable, write_deltalake

    t = s3_lake.curated(person)
    t.commit(rows(person, ["a"]), app_id="x", run_seq=1, metadata=META)
    opts = s3_lake.storage_options
    first, second = DeltaTable(t.uri, storage_options=opts), DeltaTable(t.uri, storage_options=opts)
    write_deltalake(first, rows(person, ["b"]), mode="append", storage_options=opts)
    write_deltalake(second, rows(person, ["c"]), mode="append", storage_options=opts)
    assert t.version() == 2
    assert sorted(t.keys().to_pylist()) == ["a", "b", "c"]


def test_s3_change_table_compaction_and_verify(s3_lake, person, rows):
    from lake import commit_manifest, compaction_manifest, verify_files

    t = s3_lake.curated(person)
    manifests = {}
    for seq, (keys, dead) in enumerate([(["a", "b", "c"], None), (["b", "d"], [True, False]), (["e"], None)], 1):
        info = t.commit(rows(person, keys, tag=f"v{seq}", deleted=dead), app_id="x", run_seq=seq, metadata=META)
        manifests[info.version] = commit_manifest(t, info.version)
    before = t.read().sort_by("id_number")
    done = t.compact()
    assert done is not None and done.dataset_version == 2 and t.read().sort_by("id_number").equals(before)
    manifests[2]["compactions"] = [compaction_manifest(t, done.base_version)]
    assert verify_files(t, manifests).ok
    assert sorted(t.read(version=1).column("id_number").to_pylist()) == ["a", "c", "d"]
