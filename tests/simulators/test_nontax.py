from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json

import pytest

from schemas import load_contract
from simulators import corrupt
from simulators.nontax import generate_payments, manifest_path, write_settlement

PAYERS = [("张伟", "430903198706270594"), ("李娜", "430923199001011248")]
DAY = dt.date(2026, 3, 5)


@pytest.fixture
def settlement(tmp_path):
    table, planned = generate_payments(60, PAYERS, seed=1, day=DAY, bad_share=0.3)
    path, bad = write_settlement(tmp_path, DAY, table, planned)
    return path, bad


def test_file_is_gbk_with_label_header_and_true_manifest(settlement):
    path, bad = settlement
    contract = load_contract("payment")
    assert path.name == "settlement_20260305.csv"
    data = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(data.decode("gbk"))))
    assert rows[0] == [f.label for f in contract.fields]
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest == {
        "file": path.name,
        "rows": len(rows) - 1,
        "sha256": hashlib.sha256(data).hexdigest(),
        "encoding": "gbk",
        "settlement_date": "2026-03-05",
    }
    kinds = {b.kind for b in bad}
    assert kinds == {"check_char", "impossible_date", "missing_required", "unknown_code", "duplicate_key", "broken_row"}
    broken = sum(1 for r in rows[1:] if len(r) != len(contract.fields))
    assert broken == sum(b.kind == "broken_row" for b in bad)
    codes = [r[0] for r in rows[1:]]
    assert len(codes) - len(set(codes)) == sum(b.kind == "duplicate_key" for b in bad)
    assert all(len(c) == 20 and c.isdigit() for c in codes)
    assert not list(path.parent.glob(".*.tmp"))


def test_corruptions(settlement, tmp_path):
    path, _ = settlement
    original = path.read_bytes()
    offsets = corrupt.flip_bytes(path, count=2)
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("gbk")
    assert json.loads(manifest_path(path).read_text())["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(offsets) == 2
    path.write_bytes(original)
    corrupt.truncate(path, keep=0.5)
    assert len(path.read_bytes()) == len(original) // 2
    corrupt.wrong_manifest(path, what="rows")
    other = tmp_path / "again"
    other.mkdir()
    copy = corrupt.resend(path, other)
    assert copy.read_bytes() == path.read_bytes() and manifest_path(copy).exists()
    corrupt.wrong_manifest(path, what="missing")
    assert not manifest_path(path).exists()
