"""Monthly partitions of the exchange log on PostgreSQL: archiving a month drops its partition (no DELETE, no bloat).

`exchange_event` is partitioned by range of `recorded_at` (UTC calendar months, `exchange_event_YYYY_MM`)
with a default partition catching anything outside them. PostgreSQL requires the partition key in
every unique constraint, so the primary key is (seq, recorded_at) and event ids are unique per
(event_id, recorded_at); seq stays unique through the chain-head lock, and the chain walk names any
duplicate or gap. `ensure_partitions` keeps the coming months' partitions ready (the daily log check
and every archive call it); rows that fell into the default partition are moved into their month when
it is created. SQLite has no partitions: archiving deletes and gives the space back by vacuum.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Connection

__all__ = [
    "DEFAULT_PARTITION",
    "droppable_partitions",
    "ensure_partitions",
    "is_partitioned",
    "month_partition",
    "partition_exchange_event",
]

log = logging.getLogger(__name__)

DEFAULT_PARTITION = "exchange_event_default"
_AHEAD = 3  # months of partitions kept ready after the current one
_FILTERED = ("type", "resource", "department", "client", "outcome", "case_number", "subject_hash", "target", "source")


def _month(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next(month: datetime) -> datetime:
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)


def month_partition(month: datetime) -> str:
    """The partition holding the events recorded in `month` (UTC): `exchange_event_YYYY_MM`."""
    return f"exchange_event_{_month(month):%Y_%m}"


def is_partitioned(conn: Connection) -> bool:
    """True on PostgreSQL when `exchange_event` is a partitioned table (migration 0011)."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.exec_driver_sql(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'exchange_event' AND c.relnamespace = to_regnamespace(current_schema())::oid"
    ).first()
    return found is not None


def _partitions(conn: Connection) -> dict[str, str]:
    """Attached partitions of exchange_event: name -> bound expression."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'exchange_event'::regclass"
    )
    return {name: bound for name, bound in rows}


def _create_month(conn: Connection, month: datetime) -> None:
    """Create one month's partition, moving the rows the default partition holds for it."""
    name, lo, hi = month_partition(month), month.isoformat(), _next(month).isoformat()
    held = conn.exec_driver_sql(
        f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE recorded_at >= %(lo)s AND recorded_at < %(hi)s LIMIT 1",
        {"lo": lo, "hi": hi},
    ).first()
    bound = f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
    if held is None:
        conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF exchange_event {bound}")
        return
    conn.exec_driver_sql(f"ALTER TABLE exchange_event DETACH PARTITION {DEFAULT_PARTITION}")
    conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF exchange_event {bound}")
    where = f"recorded_at >= '{lo}' AND recorded_at < '{hi}'"
    conn.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {DEFAULT_PARTITION} WHERE {where}")
    conn.exec_driver_sql(f"DELETE FROM {DEFAULT_PARTITION} WHERE {where}")
    conn.exec_driver_sql(f"ALTER TABLE exchange_event ATTACH PARTITION {DEFAULT_PARTITION} DEFAULT")
    log.info("moved the default partition's events of %s into %s", f"{month:%Y-%m}", name)


def ensure_partitions(conn: Connection, *, since: datetime | None = None, through: datetime | None = None) -> list[str]:
    """Create the missing monthly partitions from `since` (default: the oldest event in the default
    partition, else this month) through `through` (default: `_AHEAD` months from now); returns their names."""
    if not is_partitioned(conn):
        return []
    existing = _partitions(conn)
    if since is None:
        oldest = conn.exec_driver_sql(f"SELECT min(recorded_at) FROM {DEFAULT_PARTITION}").scalar()
        since = oldest or datetime.now(UTC)
    end = _month(through) if through is not None else _month(datetime.now(UTC))
    if through is None:
        for _ in range(_AHEAD):
            end = _next(end)
    made = []
    month = _month(since)
    while month <= end:
        if month_partition(month) not in existing:
            _create_month(conn, month)
            made.append(month_partition(month))
        month = _next(month)
    return made


def droppable_partitions(conn: Connection, *, last_seq: int, before: datetime) -> list[str]:
    """Monthly partitions ending at or before `before` whose every event has seq <= `last_seq` (archived)."""
    names = []
    for name, bound in sorted(_partitions(conn).items()):
        if name == DEFAULT_PARTITION or "TO ('" not in bound:
            continue
        upper = datetime.fromisoformat(bound.split("TO ('", 1)[1].split("'", 1)[0])
        if upper.astimezone(UTC) > before.astimezone(UTC):
            continue
        newer = conn.exec_driver_sql(f"SELECT 1 FROM {name} WHERE seq > %(s)s LIMIT 1", {"s": last_seq}).first()
        if newer is None:
            names.append(name)
    return names


def partition_exchange_event(conn: Connection) -> None:
    """Turn an unpartitioned PostgreSQL `exchange_event` into the partitioned one, events and indexes kept."""
    if conn.dialect.name != "postgresql" or is_partitioned(conn):
        return
    conn.exec_driver_sql(
        "CREATE TABLE exchange_event_partitioned (LIKE exchange_event INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (recorded_at)"
    )
    conn.exec_driver_sql(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF exchange_event_partitioned DEFAULT")
    oldest = conn.exec_driver_sql("SELECT min(recorded_at) FROM exchange_event").scalar()
    month, end = _month(oldest or datetime.now(UTC)), _month(datetime.now(UTC))
    for _ in range(_AHEAD):
        end = _next(end)
    while month <= end:
        bound = f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next(month).isoformat()}')"
        conn.exec_driver_sql(f"CREATE TABLE {month_partition(month)} PARTITION OF exchange_event_partitioned {bound}")
        month = _next(month)
    conn.exec_driver_sql("INSERT INTO exchange_event_partitioned SELECT * FROM exchange_event")
    conn.exec_driver_sql("DROP TABLE exchange_event")
    conn.exec_driver_sql("ALTER TABLE exchange_event_partitioned RENAME TO exchange_event")
    conn.exec_driver_sql("ALTER TABLE exchange_event ADD CONSTRAINT pk_exchange_event PRIMARY KEY (seq, recorded_at)")
    conn.exec_driver_sql(
        "ALTER TABLE exchange_event ADD CONSTRAINT uq_exchange_event_event_id UNIQUE (event_id, recorded_at)"
    )
    conn.exec_driver_sql("CREATE INDEX ix_exchange_event_recorded_at ON exchange_event (recorded_at)")
    for column in _FILTERED:
        conn.exec_driver_sql(f"CREATE INDEX ix_exchange_event_{column}_seq ON exchange_event ({column}, seq)")
