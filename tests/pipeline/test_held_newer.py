"""Which open rows a re-check supersedes: newer open rows of the same key, and keys the lake holds newer.

The lake side is asked for the open rows' keys only (`CuratedTable.rows_for`, streamed), not the
whole key and cursor columns; these tests fix the decisions that lookup must keep.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pyarrow as pa

from govhub.pipeline.pending import select_candidates
from lake import Lake
from schemas import arrow_schema, load_contract

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _person_rows(keys: list[str], minutes: list[int]) -> pa.Table:
    contract = load_contract("person")
    schema = arrow_schema(contract)
    table = pa.table(
        {
            "id_number": pa.array(keys, pa.string()),
            "updated_at": pa.array([T0 + dt.timedelta(minutes=m) for m in minutes], schema.field("updated_at").type),
        }
    )
    for f in schema:  # the other columns: any value of the type (only key and cursor matter here)
        if f.name not in table.column_names:
            filler = {pa.string(): "x", pa.date32(): dt.date(1990, 1, 1)}.get(f.type)
            table = table.append_column(f.name, pa.array([filler] * len(keys), f.type))
    return table.select(schema.names)


def _open(rows: list[tuple[str, int, int | None]]) -> pa.Table:
    """Open quarantined rows: (key, run_seq, minutes of updated_at or None)."""
    records = [
        json.dumps({"id_number": k, "updated_at": None if m is None else (T0 + dt.timedelta(minutes=m)).isoformat()})
        for k, _, m in rows
    ]
    return pa.table(
        {
            "row_key": pa.array([k for k, _, _ in rows], pa.string()),
            "run_seq": pa.array([s for _, s, _ in rows], pa.int64()),
            "record": pa.array(records, pa.string()),
        }
    )


def test_rows_the_lake_holds_newer_or_a_later_run_repeats_are_superseded(tmp_path):
    contract = load_contract("person")
    curated = Lake(str(tmp_path / "lake")).curated(contract)
    ctx = SimpleNamespace(contract=contract, curated=curated)
    rows = _open(
        [
            ("A", 1, 5),  # the lake holds A at minute 10: newer, superseded
            ("B", 1, 20),  # the lake holds B at minute 10: this row is newer, taken
            ("C", 1, 5),  # not in the lake: taken
            ("D", 1, None),  # no cursor value, the lake holds D: superseded
            ("E", 1, 30),  # E is open again from run 2: this older row is superseded
            ("E", 2, 31),
            ("F", 1, 10),  # same cursor value as the lake's: superseded
        ]
    )
    before = select_candidates(ctx, rows)  # no curated table yet: only the repeated key counts
    assert before.superseded.column("row_key").to_pylist() == ["E"]
    curated.commit(_person_rows(["A", "B", "D", "F", "G"], [10, 10, 10, 10, 10]), app_id="t", run_seq=1, metadata={})
    curated.commit(_person_rows(["B"], [15]), app_id="t", run_seq=2, metadata={})  # a pending change: B at 15
    chosen = select_candidates(ctx, rows)
    assert sorted(chosen.superseded.column("row_key").to_pylist()) == ["A", "D", "E", "F"]
    taken = chosen.taken.select(["row_key", "run_seq"]).sort_by("row_key").to_pylist()
    assert taken == [{"row_key": "B", "run_seq": 1}, {"row_key": "C", "run_seq": 1}, {"row_key": "E", "run_seq": 2}]
