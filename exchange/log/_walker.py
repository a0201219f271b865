"""The fast chain walk: each event's canonical JSON rendered in bulk, OpenSSL hashes it, spans in parallel.

PostgreSQL sends the stored values by COPY and Arrow kernels render the JSON (`COPY_SPEC`,
`core.chaincopy`: the server's own rendering, below, cost it 4x the CPU of writing the values and was
the walk's limit); it stays as the fallback for a server that writes times in another DateStyle.

The hashed bytes of an event (`_hashing.event_hash`) are rebuilt by the database engine in one SQL
expression per dialect (compiled C in SQLite and PostgreSQL, no Python object per column), so Python
only hashes one string and compares two per event. Every field the SQL cannot render exactly as the
hub's canonical JSON (a value of the wrong storage type, a time in another text form, details that
are not the canonical text) renders differently, so the event's hash does not match and it becomes a
*suspect*: the caller re-checks suspects with the exact Python hashing and, if that fails too, walks
from there with the full tamper classification. A match is SM3 over the same bytes the hub hashed on
append, so the fast path never accepts what the exact path would refuse.

Large ranges are split into spans walked by worker processes (`core.chainwalk`: one per core, each
with its own read connection); each span reports its first `prev_hash` and last hash so the caller
checks the links between spans. Memory stays flat: rows are read `BATCH` at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from core import chainwalk
from core.chaincopy import CopySpec, copy_batches, usable
from core.chainwalk import Fetch, Span, walk_rows, walk_span

__all__ = [
    "BATCH",
    "COPY_SPEC",
    "Span",
    "Walker",
    "canonical_sql",
    "copy_walker",
    "span_walker",
    "statements",
    "walk_spans",
]

BATCH = 20_000
SPAN = 250_000
_FIELDS = (
    "bytes",
    "case_number",
    "checksum",
    "client",
    "department",
    "details",
    "duration_ms",
    "error_code",
    "event_id",
    "finished_at",
    "outcome",
    "prev_hash",
    "purpose",
    "recorded_at",
    "request_id",
    "resource",
    "rows",
    "run_id",
    "seq",
    "source",
    "started_at",
    "subject_hash",
    "target",
    "type",
    "v",
    "version",
)
"""`HASHED_FIELDS` plus "v", in the canonical (sorted) key order."""
_TIMES = frozenset({"recorded_at", "started_at", "finished_at"})
_INTS = frozenset({"seq", "version", "rows", "bytes"})


def _kind(name: str) -> str:
    if name == "v":
        return "literal:1"
    if name == "seq":
        return "seq"
    if name in _TIMES:
        return "time"
    if name in _INTS:
        return "int"
    return {"duration_ms": "fixed3", "details": "json"}.get(name, "text")


COPY_SPEC = CopySpec("exchange_event", tuple((name, _kind(name)) for name in _FIELDS))
"""The exchange log for `core.chaincopy`: PostgreSQL's walk reads stored values with COPY, renders in Arrow."""
_BAD = "'\x01'"  # renders a value of the wrong storage type unlike any canonical JSON: the hash cannot match


def _sqlite_value(name: str, guarded: bool) -> str:
    if name == "v":
        return "'1'"
    if name in _TIMES:
        return (
            f"CASE WHEN {name} IS NULL THEN 'null' WHEN typeof({name})='text' AND length({name})=26 "
            f"AND substr({name},11,1)=' ' THEN '\"'||substr({name},1,10)||'T'||substr({name},12)||'Z\"' "
            f"ELSE {_BAD} END"
        )
    if name == "duration_ms":
        return (
            f"CASE WHEN {name} IS NULL THEN 'null' WHEN typeof({name})='real' "
            f"THEN '\"'||printf('%.3f',{name})||'\"' ELSE {_BAD} END"
        )
    if name == "details":
        return f"CASE WHEN {name} IS NULL THEN 'null' WHEN typeof({name})='text' THEN {name} ELSE {_BAD} END"
    # json_quote renders by storage class: text quoted and escaped, an integer bare, NULL as null; a number
    # stored in a text column (or text in an integer column) renders unlike the hashed JSON. A blob makes
    # it fail the statement: the batch is then re-read with the guarded form (10 % slower on every row).
    quoted = f"json_quote({name})"
    return f"CASE WHEN typeof({name})='blob' THEN {_BAD} ELSE {quoted} END" if guarded else quoted


def _postgres_value(name: str) -> str:
    if name == "v":
        return "'1'"
    if name in _TIMES:
        fmt = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
        return f"coalesce('\"'||to_char({name} AT TIME ZONE 'UTC','{fmt}')||'\"','null')"
    if name in _INTS:
        return f"coalesce({name}::text,'null')"
    if name == "duration_ms":
        return f"coalesce('\"'||round({name}::numeric,3)::text||'\"','null')"
    if name == "details":
        return f"coalesce({name}::text,'null')"
    return f"coalesce(to_json({name})::text,'null')"


def canonical_sql(dialect: str, *, guarded: bool = False) -> str:
    """SELECT seq, prev_hash, hash, <canonical JSON> for events lo < seq <= hi in seq order, `BATCH` at a time.

    SQLite renders the object with one `printf` (one string built per row instead of ~80 concatenations:
    1.3x the events a second); PostgreSQL with `concat`, which also builds the text once.
    """
    mark = "%s" if dialect == "postgresql" else "?"
    if dialect == "postgresql":
        keys = [("{" if i == 0 else ",") + f'"{name}":' for i, name in enumerate(_FIELDS)]
        parts = ",".join(f"'{key}',{_postgres_value(name)}" for key, name in zip(keys, _FIELDS, strict=True))
        text = f"concat({parts},'}}')"
    else:
        template = "{" + ",".join(f'"{name}":%s' for name in _FIELDS) + "}"
        text = f"CAST(printf('{template}',{','.join(_sqlite_value(name, guarded) for name in _FIELDS)}) AS BLOB)"
    return (
        f"SELECT seq, prev_hash, hash, {text} FROM exchange_event "
        f"WHERE seq > {mark} AND seq <= {mark} ORDER BY seq LIMIT {BATCH}"
    )


def statements(dialect: str) -> tuple[str, str]:
    """The fast statement and its guarded form."""
    return canonical_sql(dialect), canonical_sql(dialect, guarded=True)


Walker = Callable[[int, int, Sequence[int]], Span]
"""Walks the span lo < seq <= hi, reporting the stored hash at the given seqs."""


def span_walker(fetch: Fetch, dialect: str) -> Walker:
    """A walker of spans over the caller's own connection (in-process)."""
    sql = statements(dialect)
    return lambda lo, hi, pins: walk_span(fetch, sql, lo, hi, pins)


def copy_walker(connection: Any) -> Walker | None:
    """A walker of spans reading with COPY over the caller's psycopg connection; None if its DateStyle is not ISO."""
    if not usable(connection):
        return None
    return lambda lo, hi, pins: walk_rows(copy_batches(connection, COPY_SPEC, lo, hi, BATCH), lo, hi, pins)


def walk_spans(
    *, after: int, until: int, local: Walker, dsn: str | None, dialect: str, pins: Sequence[int] = ()
) -> Iterator[Span]:
    """The exchange log's spans after < seq <= until (`core.chainwalk.walk_spans` with this log's SQL;
    on PostgreSQL the workers read with COPY, `COPY_SPEC`)."""
    return chainwalk.walk_spans(
        after=after,
        until=until,
        local=local,
        dsn=dsn,
        dialect=dialect,
        sql=statements(dialect),
        copy=COPY_SPEC if dialect == "postgresql" else None,
        span=SPAN,
        pins=pins,
    )
