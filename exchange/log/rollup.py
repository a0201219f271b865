"""Exchange volumes by hour and day (Beijing time) per type, source, department, client and outcome.

Charts read `exchange_rollup` (a year is a few thousand rows) instead of the events. The rollup is
kept up to date by SQL: `refresh_rollups` aggregates the events after the `rollup` mark with one
GROUP BY per grain and adds them in (upsert), then moves the mark, all in one transaction that first
locks the mark row, so concurrent refreshes queue and never count an event twice. Appends stay
untouched (no extra work on the log's hot path); the web app refreshes every minute and every chart
request refreshes what is new first. Archived events stay counted: the rollup outlives them.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from catalog import utcnow
from core.time import BEIJING_TZ_NAME
from exchange.log.models import GENESIS_HASH, ExchangeEvent, LogMark, Rollup

__all__ = ["refresh_rollups"]

_MARK = "rollup"
_EVENTS = ExchangeEvent.__table__
_ROLLUP = Rollup.__table__
_STEP = 500_000  # events aggregated per statement: bounded work per transaction


def _bucket(dialect: str, grain: str):  # type: ignore[no-untyped-def]
    """The Beijing-time label of an event's hour or day, computed by the database."""
    column = _EVENTS.c.recorded_at
    if dialect == "postgresql":
        fmt = "YYYY-MM-DD HH24:00" if grain == "h" else "YYYY-MM-DD"
        return func.to_char(func.timezone(BEIJING_TZ_NAME, column), fmt)
    fmt = "%Y-%m-%d %H:00" if grain == "h" else "%Y-%m-%d"
    return func.strftime(fmt, column, "+8 hours")


def _lock_mark(session: Session) -> int:
    dialect = session.get_bind().dialect.name
    values = {"name": _MARK, "seq": 0, "hash": GENESIS_HASH, "updated_at": utcnow()}
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LogMark.__table__).values(values).on_conflict_do_nothing())
    mark = LogMark.__table__
    return int(session.execute(select(mark.c.seq).where(mark.c.name == _MARK).with_for_update()).scalar_one())


def refresh_rollups(bind: Engine | Session) -> int:
    """Add the events appended since the last refresh to the rollup; returns how many were added."""
    session = bind if isinstance(bind, Session) else Session(bind)
    try:
        dialect = session.get_bind().dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"exchange rollups support SQLite and PostgreSQL, not {dialect}")
        after = _lock_mark(session)
        head = session.scalar(select(func.max(_EVENTS.c.seq))) or 0
        added = 0
        while after < head:
            upto = min(after + _STEP, head)
            added += _aggregate(session, dialect, after, upto)
            after = upto
        mark = LogMark.__table__
        session.execute(update(mark).where(mark.c.name == _MARK).values(seq=after, updated_at=utcnow()))
        if not isinstance(bind, Session):
            session.commit()
        return added
    finally:
        if not isinstance(bind, Session):
            session.close()


def _aggregate(session: Session, dialect: str, lo: int, hi: int) -> int:
    """Add events lo < seq <= hi to both grains with one INSERT ... SELECT ... GROUP BY ... ON CONFLICT each.

    The database aggregates and upserts in one statement (no group row travels to Python): a year's
    first refresh took 490 s on PostgreSQL when ~100,000 group rows per step came back as bound VALUES.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    e = _EVENTS.c
    for grain in ("h", "d"):
        bucket = _bucket(dialect, grain).label("bucket")
        groups = (bucket, e.type, e.source, func.coalesce(e.department, ""), func.coalesce(e.client, ""), e.outcome)
        query = (
            select(
                literal(grain).label("grain"),
                *groups[:1],
                e.type,
                e.source,
                groups[3].label("department"),
                groups[4].label("client"),
                e.outcome,
                func.count().label("events"),
                func.coalesce(func.sum(e.rows), 0).label("rows"),
            )
            .where(e.seq > lo, e.seq <= hi)
            .group_by(*groups)
        )
        columns = ["grain", "bucket", "type", "source", "department", "client", "outcome", "events", "rows"]
        stmt = insert(_ROLLUP).from_select(columns, query)
        stmt = stmt.on_conflict_do_update(
            index_elements=["grain", "bucket", "type", "source", "department", "client", "outcome"],
            set_={"events": _ROLLUP.c.events + stmt.excluded.events, "rows": _ROLLUP.c.rows + stmt.excluded.rows},
        )
        session.execute(stmt)
    return int(session.scalar(select(func.count()).select_from(_EVENTS).where(e.seq > lo, e.seq <= hi)) or 0)
