"""The quarantine as the pipeline sees it: which rows are open, which are due for a re-check, how they end.

A quarantined row is *open* while no succeeded run has resolved it. A recheck or reprocess run takes
open rows, re-validates them and, in ONE quarantine commit before its curated commit, marks the rows it
took (`resolved_by` = its run id, `resolution` = promoted / still_pending / expired / rejected /
superseded) and writes its own slice (rows still pending or rejected). Marks and slices of a run that
did not succeed (it died before its curated commit) are ignored, and its slice is replaced by the next
run that takes the same sequence number: a crash mid-recheck leaves the state of one clean recheck.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from govhub.models import IngestRun
from govhub.pipeline.resources import ResourceContext

__all__ = [
    "PENDING_FIELDS",
    "Candidates",
    "checked_against",
    "count_open_pending",
    "due_rows",
    "open_rows",
    "resolve",
    "select_candidates",
    "stamp_pending",
]

PENDING_FIELDS = pa.schema(
    [
        pa.field("pending_since", pa.timestamp("us", tz="UTC")),  # when the row first became pending
        pa.field("rechecks", pa.int64()),  # re-checks against new referenced versions since then
        pa.field("checked_against", pa.string()),  # JSON {resource: version} of the last check
    ]
)
RESOLUTION_FIELDS = pa.schema([pa.field("resolved_by", pa.string()), pa.field("resolution", pa.string())])


def checked_against(versions: Mapping[str, int | None]) -> str:
    """The referenced versions a row was checked against, as the text stored with it."""
    return json.dumps(dict(sorted(versions.items())), sort_keys=True)


def stamp_pending(pending: pa.Table, *, since: datetime, rechecks: list[int] | None, versions: str) -> pa.Table:
    """Pending rows with their pending columns (first pending time, re-check count, versions checked against)."""
    n = pending.num_rows
    for name in PENDING_FIELDS.names:
        if name in pending.column_names:
            pending = pending.drop_columns(name)
    since_col = pa.array([since] * n, PENDING_FIELDS.field("pending_since").type)
    return (
        pending.append_column(PENDING_FIELDS.field("pending_since"), since_col)
        .append_column(PENDING_FIELDS.field("rechecks"), pa.array(rechecks or [0] * n, pa.int64()))
        .append_column(PENDING_FIELDS.field("checked_against"), pa.array([versions] * n, pa.string()))
    )


def _succeeded(session: Session, run_ids: Collection[str]) -> set[str]:
    ids = [r for r in set(run_ids) if r]
    if not ids:
        return set()
    rows = session.scalars(select(IngestRun.run_id).where(IngestRun.run_id.in_(ids), IngestRun.status == "succeeded"))
    return set(rows)


def open_rows(
    ctx: ResourceContext,
    session: Session,
    *,
    verdicts: Collection[str] = ("pending",),
    rule: str | None = None,
    run: str | None = None,
    also_succeeded: Collection[str] = (),
) -> pa.Table:
    """Open quarantined rows with one of `verdicts`, optionally with a reason of `rule` or from run `run`.

    A row is open when its run succeeded and no succeeded run resolved it; `also_succeeded` names
    runs to count as succeeded (the run finishing in the caller's transaction).
    """
    table = ctx.quarantine.read(verdicts=verdicts)
    if not table.num_rows:
        return table
    table = _with_columns(table, RESOLUTION_FIELDS)
    resolved_by = table.column("resolved_by")
    ids = set(pc.unique(table.column("run_id")).to_pylist()) | set(pc.unique(resolved_by).drop_null().to_pylist())
    ok = _succeeded(session, ids) | set(also_succeeded)
    keep = pc.and_(
        pc.is_in(table.column("run_id"), value_set=pa.array(sorted(ok), pa.string())),
        pc.invert(pc.fill_null(pc.is_in(resolved_by, value_set=pa.array(sorted(ok), pa.string())), False)),
    )
    table = table.filter(keep)
    if run is not None:
        table = table.filter(pc.equal(table.column("run_id"), run))
    if rule is not None and table.num_rows:
        reasons = table.column("reasons").combine_chunks()
        parents = pc.list_parent_indices(reasons).to_numpy(zero_copy_only=False)
        hits = pc.equal(pc.struct_field(pc.list_flatten(reasons), "rule"), rule).to_numpy(zero_copy_only=False)
        table = table.take(pa.array(np.unique(parents[hits])))
    return table


def count_open_pending(ctx: ResourceContext, session: Session, *, also_succeeded: Collection[str] = ()) -> int:
    """How many rows of the resource wait for a referenced resource now."""
    return int(open_rows(ctx, session, also_succeeded=also_succeeded).num_rows)


def due_rows(ctx: ResourceContext, session: Session) -> pa.Table:
    """Open pending rows last checked against other referenced versions than today's."""
    table = open_rows(ctx, session)
    if not table.num_rows:
        return table
    table = _with_columns(table, PENDING_FIELDS)
    now = checked_against(ctx.referenced_versions())
    return table.filter(pc.fill_null(pc.not_equal(table.column("checked_against"), now), True))


@dataclass(frozen=True)
class Candidates:
    """Open rows a run takes: those to re-validate, and those a newer row of the same key supersedes."""

    taken: pa.Table
    superseded: pa.Table


def select_candidates(ctx: ResourceContext, rows: pa.Table) -> Candidates:
    """Keep, per key, the rows of the newest run; drop rows whose key the curated table holds newer.

    A row is superseded when another open row of the same key comes from a later run, or when the
    curated table already holds the key at the same or a later cursor value (a later run brought the
    record in): re-publishing the older row would overwrite newer data. Without a cursor, any curated
    row of the key counts as newer.
    """
    if not rows.num_rows:
        return Candidates(rows, rows)
    order = rows.group_by("row_key").aggregate([("run_seq", "max")])
    newest = dict(zip(order.column("row_key").to_pylist(), order.column("run_seq_max").to_pylist(), strict=True))
    seqs = rows.column("run_seq").to_pylist()
    keys = rows.column("row_key").to_pylist()
    old = np.array([seq < newest[key] for key, seq in zip(keys, seqs, strict=True)], dtype=bool)
    old |= _held_newer(ctx, rows)
    return Candidates(rows.filter(pa.array(~old)), rows.filter(pa.array(old)))


def _held_newer(ctx: ResourceContext, rows: pa.Table) -> np.ndarray:
    """True for rows whose key the curated table holds at the same or a later cursor value."""
    contract = ctx.contract
    if len(contract.primary_key) != 1 or not ctx.curated.exists():
        return np.zeros(rows.num_rows, dtype=bool)
    from quality.cast import cast_field

    key = contract.primary_key[0]
    cursor = contract.source.cursor
    columns = [key] + ([cursor] if cursor and cursor != key else [])
    records = [json.loads(r) for r in rows.column("record").to_pylist()]
    wanted = pa.array([r.get(key) for r in records], pa.string())
    typed = cast_field(wanted, contract.field(key)).values  # a key that does not cast is held by no row
    held = ctx.curated.rows_for(pa.table({key: typed}), columns=columns)  # these keys' rows only, streamed
    found = pc.is_in(wanted, value_set=held.column(key).cast(pa.string()))
    if not cursor or cursor == key:
        return np.asarray(found.to_numpy(zero_copy_only=False))

    at = dict(zip(held.column(key).cast(pa.string()).to_pylist(), held.column(cursor).to_pylist(), strict=True))
    ours = cast_field(pa.array([r.get(cursor) for r in records], pa.string()), contract.field(cursor)).values
    out = np.zeros(rows.num_rows, dtype=bool)
    for i, (k, mine) in enumerate(zip(wanted.to_pylist(), ours.to_pylist(), strict=True)):
        theirs = at.get(k)
        out[i] = k in at and (mine is None or (theirs is not None and theirs >= mine))
    return out


def resolve(
    ctx: ResourceContext,
    *,
    run_id: str,
    run_seq: int,
    taken: pa.Table,
    resolutions: list[str],
    new_rows: pa.Table | None,
    fence: Callable[[], None] | None = None,
) -> None:
    """Mark the `taken` rows resolved by this run and write its own slice, in ONE quarantine commit.

    The commit lands on the quarantine version the rows were read at, `fence` (the run's lock check)
    called in between, or is refused (`lake.CommitRefused`).
    """
    seqs = set(pc.unique(taken.column("run_seq")).to_pylist()) if taken.num_rows else set()
    decided_at = ctx.quarantine.version()
    current = ctx.quarantine.read(version=decided_at)
    current = current.filter(pc.is_in(current.column("run_seq"), value_set=pa.array(sorted(seqs), pa.int64())))
    current = _with_columns(_with_columns(current, RESOLUTION_FIELDS), PENDING_FIELDS)
    identity = {
        (seq, key, record): resolution
        for seq, key, record, resolution in zip(
            taken.column("run_seq").to_pylist(),
            taken.column("row_key").to_pylist(),
            taken.column("record").to_pylist(),
            resolutions,
            strict=True,
        )
    }
    by = current.column("resolved_by").to_pylist()
    how = current.column("resolution").to_pylist()
    idents = zip(
        current.column("run_seq").to_pylist(),
        current.column("row_key").to_pylist(),
        current.column("record").to_pylist(),
        strict=True,
    )
    for i, ident in enumerate(idents):
        if ident in identity:
            by[i], how[i] = run_id, identity[ident]
    for name, values in (("resolved_by", by), ("resolution", how)):
        current = current.set_column(current.schema.get_field_index(name), name, pa.array(values, pa.string()))
    parts = [current]
    if new_rows is not None and new_rows.num_rows:
        n = new_rows.num_rows
        stamped = new_rows.append_column("run_seq", pa.array([run_seq] * n, pa.int64())).append_column(
            "run_id", pa.array([run_id] * n, pa.string())
        )
        parts.append(stamped)
    schema = pa.unify_schemas([p.schema for p in parts], promote_options="permissive")
    rows = pa.concat_tables([_conform(p, schema) for p in parts])
    ctx.quarantine.rewrite(rows, run_seqs=seqs | {run_seq}, decided_at=decided_at, fence=fence)


def _with_columns(table: pa.Table, fields: pa.Schema) -> pa.Table:
    """The table with every field of `fields` (nulls where it lacks one)."""
    for f in fields:
        if f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A table in `schema`: missing columns as nulls, in schema order and type."""
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)
