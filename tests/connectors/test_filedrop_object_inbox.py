"""Filedrop on an object-store inbox (s3://bucket/prefix in production): the same files read through a
pyarrow filesystem give the same rows, state and refusals as the folder."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest
from connector_support import payment_row, write_settlement

from connectors import connector_for
from schemas import SettingsError


def _extract(payment, config, state=None):
    ex = connector_for(payment, config, batch_size=2).extract(state)
    return ex, ex.read_all()


def test_object_inbox_reads_like_the_folder(payment, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_settlement(inbox, payment, "20240302", [payment_row(i, "20240302") for i in range(3)])
    write_settlement(inbox, payment, "20240301", [payment_row(i, "20240301") for i in range(10, 12)])
    (inbox / "settlement_20240303.csv").write_bytes(b"no manifest yet")

    folder_ex, folder_rows = _extract(payment, {"inbox": str(inbox)})
    object_config = {"inbox": f"file://{inbox}", "filesystem": pafs.LocalFileSystem()}
    object_ex, object_rows = _extract(payment, object_config)

    assert object_rows.equals(folder_rows)
    assert object_ex.proposed_state == folder_ex.proposed_state
    assert [(p.name, p.reason) for p in object_ex.problems] == [(p.name, p.reason) for p in folder_ex.problems]
    again, rows = _extract(payment, object_config, object_ex.proposed_state)
    taken = [p for p in again.problems if p.name != "settlement_20240303.csv"]
    assert rows is None and taken and all("already taken" in p.reason for p in taken)


def test_an_empty_or_missing_prefix_is_an_empty_inbox(payment, tmp_path):
    ex, rows = _extract(payment, {"inbox": f"file://{tmp_path}/nothing-here", "filesystem": pafs.LocalFileSystem()})
    assert rows is None and ex.problems == []


def test_object_inbox_without_a_filesystem_is_named(payment):
    with pytest.raises(SettingsError, match="filesystem"):
        connector_for(payment, {"inbox": "s3://city/inbox/nontax"})
