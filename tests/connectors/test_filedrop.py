"""Filedrop connector: manifests, exactly-once taking, refused files, broken rows, drift."""

from __future__ import annotations

import json

import pytest
from connector_support import payment_row, write_settlement

from connectors import connector_for
from schemas import SourceError


@pytest.fixture(scope="function")
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def _run(payment, inbox, state=None):
    ex = connector_for(payment, {"inbox": str(inbox)}, batch_size=2).extract(state)
    return ex, ex.read_all()


def _problems(ex):
    return {(p.name, p.severity): p for p in ex.problems}


def test_files_taken_once_in_name_order(payment, inbox):
    write_settlement(inbox, payment, "20240302", [payment_row(i, "20240302") for i in range(3)])
    write_settlement(inbox, payment, "20240301", [payment_row(i, "20240301") for i in range(10, 12)])
    ex, table = _run(payment, inbox)
    assert table.num_rows == 5 and ex.batches == 3  # batches never span files
    assert table.column("_source_file").to_pylist()[:2] == ["settlement_20240301.csv"] * 2
    assert table.column("_source_line").to_pylist()[:3] == [2, 3, 2]
    assert table.column("collector_name").to_pylist()[0] == "益阳市公安局交通警察支队"
    assert table.column("payer_name").to_pylist()[0] == "李10"
    assert table.column("late_fee").to_pylist()[0] is None  # empty cell = null
    assert set(table.schema.names) >= {
        *payment.field_names,
        "_source_file",
        "_source_line",
        "_parse_error",
        "_raw",
    }
    state = json.loads(json.dumps(ex.proposed_state))
    assert sorted(state["taken"]) == ["settlement_20240301.csv", "settlement_20240302.csv"]
    again, table2 = _run(payment, inbox, state)  # identical files still in the inbox: skipped
    assert table2 is None and again.proposed_state == state
    assert all(p.severity == "info" and "already taken" in p.reason for p in again.problems)


def test_same_name_other_checksum_is_refused_not_reingested(payment, inbox):
    write_settlement(inbox, payment, "20240301", [payment_row(1, "20240301")])
    ex, _ = _run(payment, inbox)
    write_settlement(inbox, payment, "20240301", [payment_row(1, "20240301"), payment_row(2, "20240301")])
    again, table = _run(payment, inbox, ex.proposed_state)
    assert table is None
    problem = again.problems[0]
    assert problem.severity == "error" and "already taken with sha256" in problem.reason
    assert again.proposed_state == ex.proposed_state


def test_truncated_file_refused_others_go_on(payment, inbox):
    good = write_settlement(inbox, payment, "20240302", [payment_row(i, "20240302") for i in range(2)])
    bad = write_settlement(inbox, payment, "20240301", [payment_row(i, "20240301") for i in range(4)])
    bad.write_bytes(bad.read_bytes()[:-60])  # the transfer broke off
    ex, table = _run(payment, inbox)
    assert table.num_rows == 2 and set(table.column("_source_file").to_pylist()) == {good.name}
    problem = _problems(ex)[(bad.name, "error")]
    assert "sha256 mismatch" in problem.reason and "truncated" in problem.reason
    assert list(ex.proposed_state["taken"]) == [good.name]
    assert bad.exists()  # left in the inbox


def test_wrong_row_count_in_manifest_refused(payment, inbox):
    path = write_settlement(inbox, payment, "20240301", [payment_row(1, "20240301")], manifest_override={"rows": 5})
    ex, table = _run(payment, inbox)
    assert table is None
    assert "row count mismatch: manifest 5, file 1" in _problems(ex)[(path.name, "error")].reason
    assert ex.proposed_state == {"taken": {}}


def test_undecodable_file_refused_with_line_number(payment, inbox):
    rows = [payment_row(i, "20240301") for i in range(3)]
    path = write_settlement(inbox, payment, "20240301", rows)
    data = path.read_bytes().replace("李1".encode("gbk"), b"\x81\x20\x31")  # an invalid GBK sequence on line 3
    path.write_bytes(data)
    manifest = path.with_name(path.name + ".manifest.json")
    spec = json.loads(manifest.read_text())
    import hashlib

    spec["sha256"] = hashlib.sha256(data).hexdigest()
    manifest.write_text(json.dumps(spec))
    ex, table = _run(payment, inbox)
    assert table is None
    problem = ex.problems[0]
    assert problem.line == 3 and "cannot decode as gbk" in problem.reason


def test_file_without_manifest_is_not_ready(payment, inbox):
    path = write_settlement(inbox, payment, "20240301", [payment_row(1, "20240301")], manifest=False)
    ex, table = _run(payment, inbox)
    assert table is None and _problems(ex)[(path.name, "info")].reason == "not ready: no manifest yet"


def test_out_of_order_file_taken_and_noted(payment, inbox):
    write_settlement(inbox, payment, "20240305", [payment_row(1, "20240305")])
    first, _ = _run(payment, inbox)
    late = write_settlement(inbox, payment, "20240301", [payment_row(2, "20240301")])
    ex, table = _run(payment, inbox, first.proposed_state)
    assert table.num_rows == 1 and late.name in ex.proposed_state["taken"]
    assert "out of order" in _problems(ex)[(late.name, "info")].reason


def test_broken_rows_kept_with_parse_error(payment, inbox):
    good = ",".join(payment_row(1, "20240301"))
    lines = [good, "00000000000000000002,430900001,too,few", good.replace("李1", '"李1'), good]
    write_settlement(inbox, payment, "20240301", [], lines=lines)
    ex, table = _run(payment, inbox)
    assert table.num_rows == 4 and not ex.problems
    errors = table.column("_parse_error").to_pylist()
    assert errors[0] is None and errors[3] is None
    assert errors[1] == "expected 16 columns, got 4"
    assert errors[2] is not None
    assert table.column("_raw").to_pylist()[1] == "00000000000000000002,430900001,too,few"
    assert table.column("payment_code").to_pylist()[1] is None
    assert table.column("_source_line").to_pylist() == [2, 3, 4, 5]


def test_missing_inbox_is_a_source_error(payment, tmp_path):
    with pytest.raises(SourceError, match=r"inbox folder .* does not exist"):
        list(connector_for(payment, {"inbox": str(tmp_path / "nope")}).extract(None))


def test_schema_drift_from_header(payment, inbox):
    conn = connector_for(payment, {"inbox": str(inbox)})
    assert not conn.check_schema().inspected
    write_settlement(inbox, payment, "20240301", [payment_row(1, "20240301")])
    assert not conn.check_schema().drifted
    path = inbox / "settlement_20240301.csv"
    text = path.read_bytes().decode("gbk").replace("滞纳金（元）", "优惠金额", 1)
    path.write_bytes(text.encode("gbk"))
    diff = conn.check_schema()
    assert diff.new == ("优惠金额",) and diff.missing == ("late_fee",) and diff.retyped == ()
