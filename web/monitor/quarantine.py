"""The quarantine browser: rejected rows with each reason and offending value, filtered, paged, as CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pyarrow as pa

__all__ = ["CSV_COLUMNS", "content_disposition", "csv_cell", "csv_chunks", "quarantine_rows", "reason_counts"]

# OWASP CSV injection: a cell a spreadsheet would read as a formula (or whose leading TAB/CR it would strip)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

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


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet: text starting a formula gets a leading `'` (OWASP).

    Plain numbers, negative ones included (`-12.5`), are kept as they are: they are data, not formulas.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def content_disposition(filename: str) -> str:
    """An RFC 6266 attachment header: an ASCII fallback name plus `filename*=UTF-8''...` for the real one."""
    fallback = _UNSAFE_FILENAME.sub("_", filename).strip("._") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def csv_chunks(rows: list[dict[str, Any]]) -> Iterator[bytes]:
    """The rows as CSV, one line per reason, UTF-8 with a BOM so Excel shows Chinese correctly.

    Every cell passes `csv_cell`: source systems' values may start like a formula (`=HYPERLINK(...)`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for reason in row["reasons"] or [{}]:
            record = row.get("record")
            writer.writerow(
                csv_cell(cell)
                for cell in [
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
