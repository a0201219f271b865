"""A year of exchange-log events written fast: the hub's own event hashes and signed checkpoints, bulk-loaded.

`append_many` spends most of its time in SQLAlchemy per event (~2,000 events/s under load), which makes
a 30 M-event year a day's work. This loader builds the same rows (every field normalised as
`append_many` stores it, `event_hash` for each hash, a checkpoint signed with the hub key every
`checkpoint_every` events, the head row) and writes them with the driver's bulk path: `executemany`
on SQLite, `COPY` on PostgreSQL. The chain it leaves verifies with `govhub log verify` like any other.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from exchange.log._hashing import HASHED_FIELDS, checkpoint_payload, event_hash
from exchange.log.models import GENESIS_HASH, ExchangeEvent

__all__ = ["bulk_generate"]

_COLUMNS = [c.name for c in ExchangeEvent.__table__.columns]
_CHUNK = 20_000


def _sqlite_value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):  # what SQLAlchemy's SQLite DateTime stores: naive UTC text
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if name == "details" and value is not None:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return value


def _pg_value(name: str, value: Any) -> Any:
    if name == "details" and value is not None:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return value


def _rows(
    make_event: Callable[[int], dict[str, Any]], events: int, start: datetime, span: timedelta
) -> Iterator[dict[str, Any]]:
    """Hashed, linked rows seq 1..events, recorded evenly over `span` from `start`."""
    step = span / events
    prev = GENESIS_HASH
    template = dict.fromkeys(HASHED_FIELDS)
    for n in range(events):
        row = dict(template)
        row.update(make_event(n))
        row["outcome"] = row["outcome"] or "ok"
        row["seq"] = n + 1
        row["event_id"] = str(uuid.UUID(int=uuid.uuid4().int))
        row["recorded_at"] = start + step * n
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(row)
        yield row


def bulk_generate(
    engine: Any,
    signer: Any,
    make_event: Callable[[int], dict[str, Any]],
    *,
    events: int,
    start: datetime,
    span: timedelta = timedelta(days=365),
    checkpoint_every: int = 1000,
) -> dict[str, Any]:
    """Write `events` chained events and their checkpoints into an empty log; returns timings."""
    dialect = engine.dialect.name
    if dialect == "postgresql":  # the year's monthly partitions (migration 0014 makes only the coming months)
        from exchange.log.partitions import ensure_partitions

        with engine.begin() as conn:
            ensure_partitions(conn, since=start, through=start + span)
    value = _pg_value if dialect == "postgresql" else _sqlite_value
    started = time.perf_counter()
    hashing = 0.0
    checkpoints: list[tuple[Any, ...]] = []
    last_seq, last_hash = 0, GENESIS_HASH
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if dialect == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")
        rows = _rows(make_event, events, start, span)
        placeholders = ",".join("?" * len(_COLUMNS))
        while True:
            tick = time.perf_counter()
            chunk = []
            for row in rows:
                chunk.append(tuple(value(name, row[name]) for name in _COLUMNS))
                if row["seq"] % checkpoint_every == 0:
                    checkpoints.append(_checkpoint(signer, row["seq"], row["hash"]))
                last_seq, last_hash = row["seq"], row["hash"]
                if len(chunk) == _CHUNK:
                    break
            hashing += time.perf_counter() - tick
            if not chunk:
                break
            if dialect == "postgresql":
                with cursor.copy(f"COPY exchange_event ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                    for values in chunk:
                        copy.write_row(values)
            else:
                cursor.executemany(f"INSERT INTO exchange_event ({', '.join(_COLUMNS)}) VALUES ({placeholders})", chunk)
            raw.commit()
        _finish(cursor, dialect, checkpoints, last_seq, last_hash)
        raw.commit()
    finally:
        raw.close()
    total = time.perf_counter() - started
    return {
        "generate_s": round(total, 1),
        "generate_hash_s": round(hashing, 1),
        "generate_events_per_s": round(events / total),
        "checkpoints": len(checkpoints),
    }


def _checkpoint(signer: Any, seq: int, head_hash: str) -> tuple[Any, ...]:
    signed_at = datetime.now(UTC)
    payload = checkpoint_payload(
        seq=seq, head_hash=head_hash, signed_at=signed_at, key_id=signer.key_id, algorithm=signer.algorithm
    )
    signature = base64.b64encode(signer.sign(payload)).decode("ascii")
    return (seq, head_hash, signed_at, signer.key_id, signer.algorithm, signer.public_key_pem(), signature)


def _finish(cursor: Any, dialect: str, checkpoints: list[tuple[Any, ...]], seq: int, head_hash: str) -> None:
    """The checkpoints and the head row, as the hub's appends leave them."""
    mark = "%s" if dialect == "postgresql" else "?"
    if dialect == "sqlite":
        checkpoints = [(*c[:2], _sqlite_value("signed_at", c[2]), *c[3:]) for c in checkpoints]
    cursor.executemany(
        "INSERT INTO exchange_log_checkpoint (seq, head_hash, signed_at, key_id, algorithm, public_key_pem, signature) "
        f"VALUES ({', '.join([mark] * 7)})",
        checkpoints,
    )
    now = datetime.now(UTC)
    cursor.execute(
        f"INSERT INTO exchange_log_head (id, seq, hash, updated_at) VALUES (1, {mark}, {mark}, {mark})",
        (seq, head_hash, _sqlite_value("updated_at", now) if dialect == "sqlite" else now),
    )
