"""The fast walk over the live event table: the SQL-rendered hash (`_walker`) confirms the intact runs,
Python re-checks the suspects, and the signed checkpoints are held to the hashes the walk confirmed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from exchange.log.exact_walk import EVENTS, UNDECODABLE, Point, Walk, event_id_at, mismatch, rehash

__all__ = ["fast_walk"]

_PIN_CHUNK = 500


def _exact_ok(session: Session, seq: int, prev_hash: str) -> bool:
    """The Python hash of one event the fast path doubted: True when it is intact and links to `prev_hash`."""
    try:
        row = session.execute(select(EVENTS).where(EVENTS.c.seq == seq)).first()
    except UNDECODABLE:
        return False
    if row is None or row.prev_hash != prev_hash:
        return False
    return bool(rehash(cast("Mapping[str, Any]", row._mapping)) == row.hash)


def _stored_hash(session: Session, seq: int) -> str | None:
    return session.scalar(select(EVENTS.c.hash).where(EVENTS.c.seq == seq))


def _check_pins(session: Session, walk: Walk, lo: int, hi: int, seen: Mapping[int, str]) -> None:
    """Good checkpoints signed at seqs in lo < seq <= hi must name the hash the fast walk confirmed there
    (`seen`: the hashes the walk reported at those seqs; any it did not are read here)."""
    seqs = sorted(s for s in walk.by_seq if lo < s <= hi)
    for start in range(0, len(seqs), _PIN_CHUNK):
        part = seqs[start : start + _PIN_CHUNK]
        unseen = [seq for seq in part if seq not in seen]
        stored = dict(seen)
        if unseen:
            query = select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.seq.in_(unseen))
            stored.update(dict(session.execute(query).all()))
        for seq in part:
            for cp in walk.by_seq[seq]:
                if cp.head_hash != stored.get(seq):
                    walk.finding = mismatch(cp, seq, event_id_at(session, seq), stored.get(seq) or "")
                    return


def _raw_fetch(session: Session, sql: str, params: tuple[int, int]) -> list[Any]:
    """Rows as the driver's tuples, on the session's own connection and transaction (no SQLAlchemy rows)."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def fast_walk(session: Session, walk: Walk, *, parallel: bool) -> None:
    """Advance `walk.prev` over the database's events with the SQL-rendered hash (see `_walker`)."""
    from exchange.log._walker import copy_walker, span_walker, walk_spans

    until = session.scalar(select(func.max(EVENTS.c.seq)))
    if until is None or until <= walk.prev.seq:
        return
    bind = session.get_bind()
    dialect = bind.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    dsn = None
    if parallel and dialect == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    elif parallel and url.database and url.database != ":memory:":
        dsn = url.database
    local = span_walker(lambda sql, params: _raw_fetch(session, sql, params), dialect)
    if dialect == "postgresql":  # the stored values by COPY, rendered in Arrow (`core.chaincopy`)
        local = copy_walker(session.connection().connection.dbapi_connection) or local
    pins = sorted(walk.by_seq)
    for span in walk_spans(after=walk.prev.seq, until=until, local=local, dsn=dsn, dialect=dialect, pins=pins):
        if not span.events:
            continue
        start = walk.prev
        if span.first_seq != start.seq + 1 or span.first_prev != start.hash:
            return  # the slow walk names what is wrong at the span's start
        good_to, good_hash = span.last_seq, span.last_hash
        for seq in span.suspects:
            before = start.hash if seq == span.first_seq else _stored_hash(session, seq - 1)
            if before is None or not _exact_ok(session, seq, before):
                last = session.execute(
                    select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.seq < seq).order_by(EVENTS.c.seq.desc()).limit(1)
                ).first()  # the last event before the suspect: the fast walk confirmed it
                good_to, good_hash = (
                    (last.seq, last.hash) if last is not None and last.seq > start.seq else (start.seq, start.hash)
                )
                break
        if good_to is None or good_hash is None:
            return
        if good_to > start.seq:
            walk.advance(span.first_seq, good_to - start.seq, Point(good_to, good_hash))
        _check_pins(session, walk, start.seq, walk.prev.seq, span.pinned)
        if walk.finding is not None or good_to != span.last_seq:
            return
