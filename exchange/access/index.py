"""Filling the access record's index: verification answers as they are logged, versions' changed subjects
as they are delivered.

Verification: the log writer calls `query_rows` on the events it has just appended, in the same
transaction, so an answer and its index row commit together. Deliveries: before a resource's versions
go out, `index_changes` reads the change feed of the versions not yet indexed — only the subject
columns — once for every subscriber, and records which subjects each version touched. A delivery of a
range then delivered every subject some version in its range touched (`exchange.access.record`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table, delete, insert
from sqlalchemy.orm import Session

from catalog import utcnow
from exchange.access.models import SubjectChange, SubjectChangeMark, SubjectQuery
from exchange.crypto import canonical_json
from exchange.subjects import PREFIX, SubjectKeys, hash_values
from lake import CuratedTable
from schemas import Contract

__all__ = [
    "SUBJECT_REFERENCES",
    "answer_summary",
    "index_changes",
    "parse_answer",
    "query_rows",
    "record_queries",
    "subject_fields",
]

log = logging.getLogger(__name__)

SUBJECT_REFERENCES = frozenset({"person.id_number", "legal_entity.uscc"})
"""A field referencing one of these names a person or an entity the record is about."""
_NATIONAL_CODES = frozenset({"gb11643", "gb32100"})
_ANSWERED_ERRORS = frozenset({"subject_not_found"})  # looked up, nothing found: an answer all the same
_KIND = {"insert": 0, "update_preimage": 1, "update_postimage": 1, "delete": 2}
_CHUNK = 5000
_QUERIES = cast(Table, SubjectQuery.__table__)
_CHANGES = cast(Table, SubjectChange.__table__)


def subject_fields(contract: Contract) -> tuple[str, ...]:
    """The contract's fields that identify a data subject: a one-field primary key checked as a GB 11643 ID
    or GB 32100 code, and every field that references a person's ID or an entity's code (derived, never listed)."""
    names = []
    for f in contract.fields:
        rules = {c.rule for c in f.checks}
        targets = {t for c in f.checks if c.rule == "references" for t in c.params.get("targets", ())}
        own_key = contract.primary_key == (f.name,) and bool(rules & _NATIONAL_CODES)
        if own_key or targets & SUBJECT_REFERENCES:
            names.append(f.name)
    return tuple(names)


def answer_summary(answer: Mapping[str, Any] | None, *, index: int | None = None) -> dict[str, Any]:
    """What an answer told about one subject, without the values: `{"match": bool}` for a predicate,
    `{"found": false}`, or `{"fields": [...]}` naming the data items a value item disclosed."""
    if answer is None:
        return {}
    result: Any = answer
    if "results" in answer and index is not None:
        results = answer.get("results") or []
        result = results[index] if 0 <= index < len(results) else {}
    if not isinstance(result, Mapping):
        return {}
    if "match" in result:
        return {"match": bool(result["match"])}
    if result.get("found") is False:
        return {"found": False}
    return {"fields": sorted(k for k in result if k not in ("answer_id", "case_number", "found"))}


def query_rows(events: Iterable[Any], answers: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Index rows of the verification events among `events` (appended `ExchangeEvent`s) that answered about a
    subject; `answers` maps an answer id to its sealed document (its `answer` is summarised)."""
    rows = []
    for e in events:
        if e.type != "verification" or not e.subject_hash or not e.client:
            continue
        if e.outcome != "ok" and e.error_code not in _ANSWERED_ERRORS:
            continue
        details = e.details or {}
        if e.outcome != "ok":
            summary: dict[str, Any] = {"found": False}
        else:
            document = answers.get(e.request_id or "")
            summary = answer_summary(document.get("answer") if document else None, index=details.get("index"))
            if not summary and "match" in details:
                summary = {"match": bool(details["match"])}
        rows.append(
            {
                "seq": e.seq,
                "subject_hash": e.subject_hash,
                "recorded_at": e.recorded_at,
                "client": e.client,
                "item": str(details.get("item") or "")[:64],
                "resource": e.resource,
                "version": e.version,
                "case_number": e.case_number,
                "purpose": e.purpose,
                "answer": canonical_json(summary).decode("utf-8"),
            }
        )
    return rows


def record_queries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert index rows of verification answers (one executemany), in the caller's transaction."""
    if rows:
        session.execute(insert(_QUERIES), rows)


def index_changes(session: Session, curated: CuratedTable, contract: Contract, *, keys: SubjectKeys, upto: int) -> int:
    """Record which subjects each version of `contract.resource` after the mark up to `upto` touched.

    Reads only the subject columns of the change feed, groups by (version, subject), hashes each subject
    once under the current key, and moves the mark — in the caller's transaction (commit it). Rows of the
    range left by an interrupted run are replaced, so a re-run gives the state of one clean run. Returns
    the rows written.

    The rows go in in (version, subject hash) order, the order of both of the table's indexes: each
    index grows at its end instead of at a random page per row (a first version of 4 M persons in random
    order made SQLite re-read and re-write index pages for most rows, several times the CPU).
    """
    resource = contract.resource
    mark = session.get(SubjectChangeMark, resource)
    after = -1 if mark is None else int(mark.version)
    if after >= upto:
        return 0
    fields = subject_fields(contract)
    table = _changed(curated, fields, after=after, upto=upto)
    session.execute(
        delete(SubjectChange).where(
            SubjectChange.resource == resource, SubjectChange.version > after, SubjectChange.version <= upto
        )
    )
    written = _insert_changes(session, resource, fields, table, keys)
    if mark is None:
        mark = SubjectChangeMark(resource=resource, version=upto, updated_at=utcnow())
        session.add(mark)
    mark.version, mark.updated_at = upto, utcnow()
    session.flush()
    log.info("access record: %s versions %s..%s touched %s subject(s)", resource, after + 1, upto, written)
    return written


def _insert_changes(
    session: Session, resource: str, fields: tuple[str, ...], table: pa.Table, keys: SubjectKeys
) -> int:
    """Insert `_changed` rows as `subject_change` rows in (version, subject hash) order; returns how many.

    Held meanwhile: each row's 32-byte digest (the hash's text is rebuilt from it chunk by chunk).
    """
    if not table.num_rows:
        return 0
    head = f"{PREFIX}:{keys.key_id}:"  # what `hash_values` puts before the HMAC's hex digest
    n = table.num_rows
    digests = bytearray(32 * n)  # one buffer: sorting and taking from one array, not thousands of chunks
    for start in range(0, n, _CHUNK):
        hashes = hash_values(table.column("value").slice(start, _CHUNK).to_pylist(), keys=keys)
        digests[32 * start : 32 * (start + len(hashes))] = b"".join(bytes.fromhex(h[len(head) :]) for h in hashes)
    column = pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), n, [None, pa.py_buffer(digests)])
    table = table.drop_columns(["value"]).append_column("digest", column).combine_chunks()
    order = pc.sort_indices(table, sort_keys=[("version", "ascending"), ("digest", "ascending")])
    conn = session.connection()
    driver = conn.dialect.name == "sqlite"  # the driver's executemany, not SQLAlchemy's per-row parameters
    compiled = _CHANGES.insert().compile(dialect=conn.dialect)
    names = list(compiled.positiontup or ()) if compiled.positional else list(_CHANGES.c.keys())
    for start in range(0, len(order), _CHUNK):
        part = table.take(order.slice(start, _CHUNK))
        lows, highs = part.column("kind_min").to_pylist(), part.column("kind_max").to_pylist()
        columns = {
            "resource": [resource] * part.num_rows,
            "version": part.column("version").to_pylist(),
            "subject_hash": [head + d.hex() for d in part.column("digest").to_pylist()],
            "change": [_change(lo, hi) for lo, hi in zip(lows, highs, strict=True)],
            "field": [fields[i] for i in part.column("field_min").to_pylist()],
        }
        if driver and compiled.positional:
            conn.exec_driver_sql(str(compiled), list(zip(*(columns[k] for k in names), strict=True)))
        else:  # Core: one multi-row statement per page (insertmanyvalues), no ORM bulk overhead per row
            rows = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
            session.execute(insert(_CHANGES), rows)
    return int(n)


def _changed(curated: CuratedTable, fields: tuple[str, ...], *, after: int, upto: int) -> pa.Table:
    """(version, value, kind_min, kind_max, field_min) per subject value and version: kinds 0 insert, 1 update,
    2 delete; field_min the position in `fields` of the first field holding it."""
    parts = []
    if fields:
        for batch in curated.changed_values(fields, after_version=after, to_version=upto):
            kind = pc.cast(
                pc.index_in(batch.column("_change_type").cast(pa.string()), pa.array(list(_KIND))), pa.int8()
            )
            kind = pc.take(pa.array(list(_KIND.values()), pa.int8()), kind)
            version = batch.column("_commit_version").cast(pa.int64())
            for position, name in enumerate(fields):  # trimmed, upper-cased as `subject_hash` does: x, X alike
                values = pc.utf8_upper(pc.utf8_trim_whitespace(batch.column(name).cast(pa.string())))
                keep = pc.and_(pc.is_valid(values), pc.not_equal(pc.utf8_length(values), 0))
                where = pa.repeat(pa.scalar(position, pa.int8()), batch.num_rows)
                columns = {"version": version, "value": values, "kind": kind, "field": where}
                parts.append(pa.table(columns).filter(keep))
    if not parts:
        return pa.table(
            {
                "version": pa.array([], pa.int64()),
                "value": pa.array([], pa.string()),
                "kind_min": pa.array([], pa.int8()),
                "kind_max": pa.array([], pa.int8()),
                "field_min": pa.array([], pa.int8()),
            }
        )
    grouped = (
        pa.concat_tables(parts)
        .group_by(["version", "value"], use_threads=False)
        .aggregate([("kind", "min"), ("kind", "max"), ("field", "min")])
    )
    return grouped.sort_by([("version", "ascending"), ("value", "ascending")])


def _change(low: int, high: int) -> str:
    """The net change of one subject in one version: insert or delete when every row says so, else update."""
    if low == high == 0:
        return "insert"
    if low == high == 2:
        return "delete"
    return "update"


def parse_answer(text: str | None) -> dict[str, Any]:
    """An index row's stored answer summary as a dict."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
