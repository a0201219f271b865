"""Filedrop connector: every file's full header is checked against the contract, and records follow
RFC 4180 (a quoted field may hold a line break; the manifest counts records, not lines)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from connector_support import payment_row, write_settlement

from connectors import connector_for
from connectors.csv_records import split_records
from govhub.pipeline.drift import apply_drift_policy


@pytest.fixture(scope="function")
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def _drop(inbox: Path, day: str, header: list[str], lines: list[str], *, rows: int | None = None) -> Path:
    """A settlement file (GBK, CRLF) with any header; the manifest states `rows` records (default: lines)."""
    data = ("\r\n".join([",".join(header), *lines]) + "\r\n").encode("gbk")
    path = inbox / f"settlement_{day}.csv"
    path.write_bytes(data)
    manifest = {
        "file": path.name,
        "rows": len(lines) if rows is None else rows,
        "encoding": "GBK",
        "sha256": hashlib.sha256(data).hexdigest(),
        "settlement_date": f"{day[:4]}-{day[4:6]}-{day[6:]}",
    }
    (inbox / (path.name + ".manifest.json")).write_text(json.dumps(manifest), encoding="utf-8")
    return path


def _read(contract, inbox: Path):
    ex = connector_for(contract, {"inbox": str(inbox)}, batch_size=10).extract(None)
    return ex, ex.read_all()


def _labels(contract) -> list[str]:
    return [f.label for f in contract.fields]


def _refusal(ex, name: str) -> str:
    (problem,) = [p for p in ex.problems if p.name == name and p.severity == "error"]
    assert problem.line == 1  # the header row
    return problem.reason


def test_a_later_file_with_an_extra_column_is_refused_under_freeze(payment, inbox):
    good = write_settlement(inbox, payment, "20240301", [payment_row(1, "20240301")])
    extra = _drop(inbox, "20240302", [*_labels(payment), "备注"], [",".join([*payment_row(2, "20240302"), "加急"])])
    ex, table = _read(payment, inbox)
    assert set(table.column("_source_file").to_pylist()) == {good.name}
    reason = _refusal(ex, extra.name)
    assert reason.startswith("refused: 表头与数据契约不一致（新增列：备注）")
    assert "schema_drift: freeze" in reason and "new column(s) ['备注']" in reason
    assert list(ex.proposed_state["taken"]) == [good.name] and extra.exists()  # kept, taken after a fix


def test_a_later_file_without_a_column_is_refused_under_freeze(payment, inbox):
    write_settlement(inbox, payment, "20240301", [payment_row(1, "20240301")])
    labels = _labels(payment)
    gone = labels.index("电子票据号码")
    row = payment_row(2, "20240302")
    short = _drop(inbox, "20240302", labels[:gone] + labels[gone + 1 :], [",".join(row[:gone] + row[gone + 1 :])])
    ex, table = _read(payment, inbox)
    assert table.num_rows == 1
    reason = _refusal(ex, short.name)
    assert "缺少列：电子票据号码" in reason and "missing column(s) ['电子票据号码 (receipt_number)']" in reason
    assert short.name not in ex.proposed_state["taken"]


def test_a_drifted_file_is_refused_under_quarantine_too(payment, inbox):
    """Kept whole in the inbox, it is taken as it is once the contract is updated (no re-run of rows)."""
    quarantining = dataclasses.replace(payment, schema_drift="quarantine")
    extra = _drop(inbox, "20240302", [*_labels(payment), "备注"], [",".join([*payment_row(2, "20240302"), "x"])])
    ex, table = _read(quarantining, inbox)
    assert table is None and "schema_drift: quarantine" in _refusal(ex, extra.name)


def test_a_repeated_column_is_refused(payment, inbox):
    labels = _labels(payment)
    row = payment_row(1, "20240301")
    twice = _drop(inbox, "20240301", [*labels, "金额（元）"], [",".join([*row, "1.00"])])
    ex, table = _read(payment, inbox)
    assert table is None and "表头有重复列：金额（元）" in _refusal(ex, twice.name)


def test_a_drifted_header_is_taken_and_noted_under_evolve(payment, inbox):
    evolving = dataclasses.replace(payment, schema_drift="evolve")
    labels = _labels(payment)
    gone = labels.index("电子票据号码")
    row = payment_row(1, "20240301")
    path = _drop(
        inbox,
        "20240301",
        [*labels[:gone], *labels[gone + 1 :], "备注"],
        [",".join([*row[:gone], *row[gone + 1 :], "加急"])],
    )
    ex, table = _read(evolving, inbox)
    assert table.num_rows == 1 and table.column("receipt_number").to_pylist() == [None]
    assert table.column("payment_code").to_pylist() == [row[0]]
    (note,) = [p for p in ex.problems if p.name == path.name]
    assert note.severity == "info" and "新增列：备注；缺少列：电子票据号码" in note.reason


def test_the_pipeline_leaves_file_drift_to_the_connector(payment, inbox):
    """Before: the first file's header decided for the whole inbox (and under freeze failed the run)."""
    _drop(inbox, "20240301", [*_labels(payment), "备注"], [",".join([*payment_row(1, "20240301"), "x"])])
    write_settlement(inbox, payment, "20240302", [payment_row(2, "20240302")])
    conn = connector_for(payment, {"inbox": str(inbox)})
    assert conn.check_schema().new == ("备注",)  # what a look at the inbox shows
    assert apply_drift_policy(payment, conn) is None
    ex, table = _read(payment, inbox)
    assert table.column("_source_file").to_pylist() == ["settlement_20240302.csv"]
    assert "新增列：备注" in _refusal(ex, "settlement_20240301.csv")


def test_quoted_fields_holding_line_breaks_are_one_record(payment, inbox):
    rows = [payment_row(i, "20240301") for i in range(3)]
    name_col = _labels(payment).index("执收单位名称")
    rows[0][name_col] = '"益阳市公安局\r\n交通警察支队"'  # CRLF inside a quoted field
    rows[1][name_col] = '"益阳市""智慧""停车\n管理中心"'  # LF and escaped quotes
    path = write_settlement(inbox, payment, "20240301", rows)  # the manifest counts 3 records
    ex, table = _read(payment, inbox)
    assert not [p for p in ex.problems if p.severity == "error"], ex.problems
    assert table.num_rows == 3 and table.column("_parse_error").null_count == 3
    names = table.column("collector_name").to_pylist()
    assert names[:2] == ["益阳市公安局\r\n交通警察支队", '益阳市"智慧"停车\n管理中心']
    assert table.column("_source_line").to_pylist() == [2, 4, 6]  # where each record starts
    assert path.name in ex.proposed_state["taken"]


def test_a_broken_quote_spoils_only_its_own_line(payment, inbox):
    good = [",".join(payment_row(i, "20240301")) for i in range(4)]
    never_closed = good[3].replace("李3", '"李3')  # opens a quoted field that no later line closes
    lines = [good[0], '"' + good[1], good[2], never_closed, good[3].replace("00003", "00004")]
    _drop(inbox, "20240301", _labels(payment), lines)
    ex, table = _read(payment, inbox)
    assert table.num_rows == 5 and not ex.problems
    errors = table.column("_parse_error").to_pylist()
    assert [e is None for e in errors] == [True, False, True, False, True]
    assert table.column("_raw").to_pylist()[1] == '"' + good[1]
    assert table.column("_source_line").to_pylist() == [2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a,b\r\n1,2\r\n", [(1, "a,b"), (2, "1,2")], id="plain"),
        pytest.param('a,b\r\n"x\r\ny",2\r\n3,4', [(1, "a,b"), (2, '"x\r\ny",2'), (4, "3,4")], id="crlf-in-quotes"),
        pytest.param('a\n\n"x\n\ny"\n', [(1, "a"), (3, '"x\n\ny"')], id="blank-lines-in-quotes-kept"),
        pytest.param('"open\nb\nc', [(1, '"open'), (2, "b"), (3, "c")], id="never-closed"),
        pytest.param('"open\n"next",1\n', [(1, '"open'), (2, '"next",1')], id="closed-by-garbage"),
        pytest.param('x,"a""\nb"\n', [(1, 'x,"a""\nb"')], id="escaped-quote-before-break"),
        pytest.param("a\rb\r\n", [(1, "a\rb")], id="bare-cr-is-no-break"),
        pytest.param('a,b"c,d\n1,2\n', [(1, 'a,b"c,d'), (2, "1,2")], id="quote-inside-a-field-is-text"),
        pytest.param('"a","b"\n"c\nd"\n', [(1, '"a","b"'), (2, '"c\nd"')], id="quoted-everywhere"),
    ],
)
def test_split_records(text: str, expected: list[tuple[int, str]]) -> None:
    assert split_records(text) == expected
