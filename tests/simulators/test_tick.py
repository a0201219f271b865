from __future__ import annotations

import pytest
import sqlalchemy as sa

from schemas import StateError
from simulators import tick_all
from simulators.testing import simulator_home


def _snapshot(url, table, key):
    eng = sa.create_engine(url)
    with eng.connect() as c:
        rows = {r[0]: tuple(r) for r in c.exec_driver_sql(f"SELECT {key}, * FROM {table}")}
    eng.dispose()
    return rows


def test_tick_changes_every_source_deterministically(tmp_path):
    a = simulator_home(tmp_path / "a", size=2000)
    b = simulator_home(tmp_path / "b", size=2000)
    before = _snapshot(a.population_url, "person", "id_number")
    sa_ = tick_all(a.root, day=1, change_share=0.02)
    sb = tick_all(b.root, day=1, change_share=0.02)
    assert sa_.changes == sb.changes
    after = _snapshot(a.population_url, "person", "id_number")
    assert after == _snapshot(b.population_url, "person", "id_number")
    c = sa_.changes["person"]
    assert len(after) - len(before) == c["inserted"] > 0
    changed = [k for k in before if before[k] != after[k]]
    assert len(changed) == c["updated"] + c["status"] + c["deleted"]
    assert all(str(after[k][-2])[:10] == "2026-03-03" for k in changed)
    assert sum(after[k][-1] for k in changed) == c["deleted"]
    assert sa_.changes["credit_record"]["inserted"] > 0 and sa_.changes["credit_record"]["deleted"] > 0
    assert sa_.settlement_file.name == "settlement_20260303.csv"
    assert sa_.changes["payment"]["refunded"] >= 0
    with pytest.raises(StateError, match="day 1 already ran"):
        tick_all(a.root, day=1)
