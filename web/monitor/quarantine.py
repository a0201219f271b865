"""The quarantine browser: rejected rows with each reason and offending value, filtered, paged, as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

__all__ = ["CSV_COLUMNS", "csv_chunks", "quarantine_rows", "reason_counts"]

CSV_COLUMNS = (
    "resource",
    "run_id",
    "row_key",
    "source_file",
    "source_line",
    "rule",
    "field",
    "value",
    "severity",
    "dimension",
    "message",
    "record",
)


def _table(resource: str) -> pa.Table:
    """The open quarantined rows (rejected, pending, warned): not those a later recheck already resolved."""
    from govhub.db import session_scope
    from govhub.pipeline.pending import open_rows
    from govhub.pipeline.resources import open_resource

    with session_scope() as session:
        return open_rows(open_resource(resource), session, verdicts=("rejected", "pending", "warned"))


def quarantine_rows(resources: list[str], *, rule: str | None = None, field: str | None = None) -> list[dict[str, Any]]:
    """Every quarantined row of these resources (newest run first) with its reasons, matching rule/field."""
    rows: list[dict[str, Any]] = []
    for resource in resources:
        table = _table(resource)
        if table.num_rows == 0:
            continue
        batch = sorted(table.to_pylist(), key=lambda r: (-(r.get("run_seq") or 0), str(r.get("row_key"))))
        for row in batch:
            reasons = row.get("reasons") or []
            if rule and not any(r.get("rule") == rule for r in reasons):
                continue
            if field and not any(r.get("field") == field for r in reasons):
                continue
            rows.append({"resource": resource, **row, "reasons": reasons})
    return rows


def reason_counts(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    """(resource, rule, field, count) over the rows' reasons, largest first."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for row in rows:
        for reason in row["reasons"]:
            counts[(row["resource"], reason.get("rule") or "", reason.get("field") or "")] += 1
    return [(*key, n) for key, n in counts.most_common()]


def csv_chunks(rows: list[dict[str, Any]]) -> Iterator[bytes]:
    """The rows as CSV, one line per reason, UTF-8 with a BOM so Excel shows Chinese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for reason in row["reasons"] or [{}]:
            record = row.get("record")
            writer.writerow(
                [
                    row["resource"],
                    row.get("run_id"),
                    row.get("row_key"),
                    row.get("source_file"),
                    row.get("source_line"),
                    reason.get("rule"),
                    reason.get("field"),
                    reason.get("value"),
                    reason.get("severity"),
                    reason.get("dimension"),
                    reason.get("message"),
                    record if isinstance(record, str) else json.dumps(record, ensure_ascii=False),
                ]
            )
        if buffer.tell() > 64_000:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
