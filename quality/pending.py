"""Pending rows: quarantined rows whose only errors are `references` wait for the referenced resource.

A reference can be late (the referenced resource has not published the key yet) rather than wrong,
so such a row is kept as *pending*, re-validated when a referenced resource publishes a new version,
and rejected for good only after the contract's grace. `rebuild_batch` turns quarantined rows back
into a connector-shaped batch so they can go through `validate` again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import Contract

__all__ = ["expired_reason", "rebuild_batch", "split_pending"]

_SYSTEM_COLUMNS = {"_deleted": pa.bool_(), "_parse_error": pa.string(), "_raw": pa.string()}


def split_pending(rejected: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split quarantined rows into (rejected, pending): pending rows fail only `references` checks.

    A row with any other error (type, required, a check character...) stays rejected: the late
    reference is then not what keeps it out.
    """
    if not rejected.num_rows:
        return rejected, rejected
    reasons = rejected.column("reasons").combine_chunks()
    flat = pc.list_flatten(reasons)
    parents = pc.list_parent_indices(reasons).to_numpy(zero_copy_only=False)
    is_error = pc.equal(pc.struct_field(flat, "severity"), "error").to_numpy(zero_copy_only=False)
    is_ref = pc.equal(pc.struct_field(flat, "rule"), "references").to_numpy(zero_copy_only=False)
    n = rejected.num_rows
    other_errors = np.bincount(parents[is_error & ~is_ref], minlength=n)
    ref_errors = np.bincount(parents[is_error & is_ref], minlength=n)
    pending = (other_errors == 0) & (ref_errors > 0)
    if not pending.any():
        return rejected, rejected.schema.empty_table()
    return (
        rejected.take(pa.array(np.flatnonzero(~pending))),
        rejected.take(pa.array(np.flatnonzero(pending))),
    )


def expired_reason(grace: int, resources: Sequence[str]) -> dict[str, str]:
    """The reason added to a pending row whose grace ran out (it becomes a final rejection)."""
    names = "、".join(resources)
    return {
        "rule": "pending_expired",
        "field": "*",
        "value": str(grace),
        "severity": "error",
        "dimension": "consistency",
        "message": f"关联资源（{names}）发布{grace}个新版本后仍未包含所引用的记录，转为拒收",
    }


def rebuild_batch(quarantined: pa.Table, contract: Contract) -> pa.Table:
    """Quarantined rows back as a connector batch: every contract field as received, as text.

    Values come from the row's `record` JSON (what the source sent); the casting rules of
    `validate` read text for every type, so strings are the faithful form. `_source_file` and
    `_source_line` are restored from their columns; `_deleted`, `_parse_error` and `_raw` from the
    record when the source sent them.
    """
    records = [json.loads(text) for text in quarantined.column("record").to_pylist()]
    columns: dict[str, pa.Array] = {}
    for name in contract.field_names:
        columns[name] = pa.array([_text(r.get(name)) for r in records], pa.string())
    for name, kind in _SYSTEM_COLUMNS.items():
        if any(name in r for r in records):
            values = [r.get(name) for r in records]
            columns[name] = pa.array(
                [bool(v) if v is not None else False for v in values] if kind == pa.bool_() else values, kind
            )
    for name, column in (("_source_file", "source_file"), ("_source_line", "source_line")):
        if column in quarantined.column_names:
            columns[name] = quarantined.column(column).combine_chunks()
    return pa.table(columns)


def _text(value: object) -> str | None:
    """A JSON value as the text a source would have sent (booleans as true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, list | dict) else str(value)
