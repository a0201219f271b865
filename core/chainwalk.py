"""A hash chain walked in spans, in worker processes: rows (seq, prev_hash, hash, bytes) hashed with SM3.

The caller gives the SQL that renders each row's hashed bytes (`exchange.log._walker` does for the
exchange log). This module imports nothing but the standard library and the database driver, so a
spawned worker starts in ~0.05 s instead of importing the hub's rooms (3.4 CPU seconds each).
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.chaincopy import CopySpec, copy_batches, usable

__all__ = ["Fetch", "Span", "walk_rows", "walk_span", "walk_spans"]

SPAN = 250_000


@dataclass
class Span:
    """What a walk of events lo < seq <= hi found: its ends and the events whose fast hash did not match."""

    lo: int
    hi: int
    events: int = 0
    first_seq: int | None = None
    first_prev: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    suspects: list[int] = field(default_factory=list)
    pinned: dict[int, str] = field(default_factory=dict)
    """The stored hash at each seq asked for (`pins`): what a checkpoint signed there must name."""


Fetch = Callable[[str, tuple[int, int]], Sequence[Sequence[Any]]]


def _batch(fetch: Fetch, sql: tuple[str, str], params: tuple[int, int]) -> Sequence[Sequence[Any]]:
    """One batch with the fast statement; the guarded one when the database refuses to render a value."""
    try:
        return fetch(sql[0], params)
    except Exception as e:  # sqlite3.OperationalError "JSON cannot hold BLOB values": a value was tampered
        if sql[0] == sql[1] or "blob" not in str(e).lower():
            raise
        return fetch(sql[1], params)


def walk_span(fetch: Fetch, sql: tuple[str, str], lo: int, hi: int, pins: Sequence[int] = ()) -> Span:
    """Hash every row lo < seq <= hi; links inside the span and seq gaps are checked here.

    `sql`: the fast statement and its guarded form (re-run for a batch the fast one cannot render).
    """

    def batches() -> Iterator[Sequence[Sequence[Any]]]:
        after = lo
        while rows := _batch(fetch, sql, (after, hi)):
            yield rows
            after = rows[-1][0]

    return walk_rows(batches(), lo, hi, pins)


def walk_rows(batches: Iterable[Sequence[Sequence[Any]]], lo: int, hi: int, pins: Sequence[int] = ()) -> Span:
    """Hash batches of rows (seq, prev_hash, hash, bytes) of the span lo < seq <= hi, in seq order.

    `pins`: seqs whose stored hash the span reports (`Span.pinned`), so the caller checks the checkpoints
    signed there without reading those rows again (5,000 lookups a 5 M walk on a partitioned table).
    """
    span = Span(lo, hi)
    wanted = sorted(p for p in pins if lo < p <= hi)
    k = 0
    base = hashlib.new("sm3")
    prev_seq: int | None = None
    prev_hash: str | None = None
    suspects = span.suspects
    for rows in batches:
        if not rows:
            continue
        if span.first_seq is None:
            span.first_seq, span.first_prev = rows[0][0], rows[0][1]
            prev_seq, prev_hash = rows[0][0] - 1, rows[0][1]
        for seq, link, stored, text in rows:
            digest = base.copy()
            digest.update(text if isinstance(text, bytes) else text.encode("utf-8"))
            if digest.hexdigest() != stored or link != prev_hash or seq != prev_seq + 1:  # type: ignore[operator]
                suspects.append(seq)
            prev_seq, prev_hash = seq, stored
        span.events += len(rows)
        if k < len(wanted) and wanted[k] <= rows[-1][0]:
            k = _pin(span.pinned, rows, wanted, k)
    span.last_seq, span.last_hash = prev_seq if span.events else None, prev_hash if span.events else None
    return span


def _pin(pinned: dict[int, str], rows: Sequence[Sequence[Any]], wanted: list[int], k: int) -> int:
    """Record the stored hash of each wanted seq up to the batch's last; the next wanted index."""
    first, last = rows[0][0], rows[-1][0]
    while k < len(wanted) and wanted[k] <= last:
        seq, i = wanted[k], wanted[k] - first
        row = rows[i] if 0 <= i < len(rows) and rows[i][0] == seq else next((r for r in rows if r[0] == seq), None)
        if row is not None:
            pinned[seq] = row[2]
        k += 1
    return k


def _connect(dsn: str, dialect: str) -> Any:
    if dialect == "postgresql":
        import psycopg

        return psycopg.connect(dsn)
    import sqlite3

    return sqlite3.connect(f"file:{dsn}?mode=ro", uri=True)


def _span_in_child(
    dsn: str, dialect: str, sql: tuple[str, str], copy: CopySpec | None, lo: int, hi: int, pins: Sequence[int] = ()
) -> Span:
    connection = _connect(dsn, dialect)
    try:
        if copy is not None and dialect == "postgresql" and usable(connection):
            return walk_rows(copy_batches(connection, copy, lo, hi), lo, hi, pins)

        def fetch(statement: str, params: tuple[int, int]) -> Sequence[Sequence[Any]]:
            cursor = connection.cursor()
            cursor.execute(statement, params)
            rows: Sequence[Sequence[Any]] = cursor.fetchall()
            cursor.close()
            return rows

        return walk_span(fetch, sql, lo, hi, pins)
    finally:
        connection.close()


def walk_spans(
    *,
    after: int,
    until: int,
    local: Callable[[int, int, Sequence[int]], Span],
    dsn: str | None,
    dialect: str,
    sql: tuple[str, str],
    copy: CopySpec | None = None,
    workers: int | None = None,
    span: int = SPAN,
    pins: Sequence[int] = (),
) -> Iterator[Span]:
    """Spans covering after < seq <= until, in order; in worker processes when `dsn` is given and it pays.

    `sql`: the fast statement and its guarded form, run by the workers on their own read connections;
    `copy`: on PostgreSQL the workers read the stored values with COPY and render them in Arrow instead
    (`core.chaincopy`), unless the server writes times in another DateStyle. `pins`: seqs whose stored
    hash each span reports (`Span.pinned`).
    """
    bounds = [(lo, min(lo + span, until)) for lo in range(after, until, span)]
    ordered = sorted(pins)

    def inside(lo: int, hi: int) -> list[int]:
        return ordered[bisect.bisect_right(ordered, lo) : bisect.bisect_right(ordered, hi)]

    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if dsn is None or workers < 2 or len(bounds) < 2:
        for lo, hi in bounds:
            yield local(lo, hi, inside(lo, hi))
        return
    import multiprocessing

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = [
            pool.submit(_span_in_child, dsn, dialect, sql, copy, lo, hi, inside(lo, hi)) for lo, hi in bounds[:workers]
        ]
        queued = iter(bounds[workers:])
        while pending:
            done = pending.pop(0).result()
            following = next(queued, None)
            if following is not None:
                pending.append(pool.submit(_span_in_child, dsn, dialect, sql, copy, *following, inside(*following)))
            yield done
