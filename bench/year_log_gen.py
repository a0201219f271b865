"""A year of exchange-log events written fast: the hub's own event hashes and signed checkpoints, bulk-loaded.

`append_many` spends most of its time in SQLAlchemy per event (~2,000 events/s under load), which makes
a 30 M-event year a day's work. This loader builds the same rows (every field normalised as
`append_many` stores it, the `event_hash` bytes for each hash, a checkpoint signed with the hub key every
`checkpoint_every` events, the head row) and writes them with the driver's bulk path: `executemany`
on SQLite (secondary indexes built once at the end), `COPY` on PostgreSQL.

Speed comes from a pool of event templates (`make_event` called `POOL` times, not per event): each is
rendered once as the event's canonical JSON with slots for what differs per event (seq, event id,
time, previous hash, request id, case number, run id), so an event costs one string format and one
SM3. Every `_SPOT_CHECK`-th event is re-hashed with `event_hash` itself and must match. The chain it
leaves verifies with `govhub log verify` like any other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from exchange.log._hashing import HASHED_FIELDS, _plain, checkpoint_payload, event_hash, sm3_hex
from exchange.log.models import GENESIS_HASH, ExchangeEvent

__all__ = ["POOL", "bulk_generate"]

_COLUMNS = [c.name for c in ExchangeEvent.__table__.columns]
_CHUNK = 20_000
POOL = 16_384
_SPOT_CHECK = 997
_SLOTS = ("seq", "event_id", "recorded_at", "prev_hash", "request_id", "case_number", "run_id")
_JSON = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}


def _sqlite_value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):  # what SQLAlchemy's SQLite DateTime stores: naive UTC text
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if name == "details" and value is not None:
        return json.dumps(value, **_JSON)  # type: ignore[arg-type]
    return value


def _pg_value(name: str, value: Any) -> Any:
    if name == "details" and value is not None:
        return json.dumps(value, **_JSON)  # type: ignore[arg-type]
    return value


class _Template:
    """One event shape: its stored column values and its canonical hashed JSON with per-event slots."""

    def __init__(self, event: dict[str, Any], value: Callable[[str, Any], Any]) -> None:
        row = dict.fromkeys(HASHED_FIELDS) | event
        row["outcome"] = row["outcome"] or "ok"
        # the fields that differ per event; case numbers and run ids keep their number, renumbered per event
        self.case = row["case_number"] is not None
        self.run = row["run_id"] is not None
        self.request = row["request_id"] is not None
        if self.case:
            row["case_number"] = row["case_number"].rsplit("-", 1)[0] + "-"
        if self.run:
            row["run_id"] = row["run_id"].rsplit("-", 1)[0] + "-"
        assert row["started_at"] is None and row["finished_at"] is None, "templates carry no per-event times"
        assert row["details"] is None or _plain(row["details"]), "details must render with the C json encoder"
        payload: dict[str, Any] = {}
        for field in HASHED_FIELDS:
            if field in _SLOTS and (field not in ("request_id", "case_number", "run_id") or row[field] is not None):
                payload[field] = f"@@{field}@@"
            elif field == "duration_ms" and row[field] is not None:
                payload[field] = f"{row[field]:.3f}"
            else:
                payload[field] = row[field]
        payload["v"] = 1
        text = json.dumps(payload, **_JSON).replace("%", "%%")  # type: ignore[arg-type]
        text = text.replace('"@@seq@@"', "%(seq)d")
        text = text.replace("@@case_number@@", f"{row['case_number'] or ''}%(n)08d")
        text = text.replace("@@run_id@@", f"{row['run_id'] or ''}%(n)d")
        for field in ("event_id", "recorded_at", "prev_hash", "request_id"):
            text = text.replace(f"@@{field}@@", f"%({field})s")
        self.text = text
        self.row = row
        self.values = [value(name, row.get(name)) for name in _COLUMNS]


def _rows(
    make_event: Callable[[int], dict[str, Any]],
    events: int,
    start: datetime,
    span: timedelta,
    value: Callable[[str, Any], Any],
    sqlite: bool,
) -> Iterator[tuple[list[Any], str]]:
    """(stored values, hash) of linked rows seq 1..events, recorded evenly over `span` from `start`."""
    templates = [_Template(make_event(n), value) for n in range(min(POOL, events))]
    at = {name: i for i, name in enumerate(_COLUMNS)}
    i_seq, i_id, i_time, i_prev, i_hash = (at[c] for c in ("seq", "event_id", "recorded_at", "prev_hash", "hash"))
    i_req, i_case, i_run = at["request_id"], at["case_number"], at["run_id"]
    step = span / events
    naive_start = start.astimezone(UTC).replace(tzinfo=None)
    prev = GENESIS_HASH
    slots: dict[str, Any] = {}
    sm3 = hashlib.new("sm3") if "sm3" in hashlib.algorithms_available else None  # copied: no lookup per event
    for base in range(0, events, _CHUNK):
        count = min(_CHUNK, events - base)
        randomness = os.urandom(32 * count).hex()
        for k in range(count):
            n = base + k
            template = templates[n % len(templates)]
            r = randomness[64 * k : 64 * k + 64]
            event_id = f"{r[:8]}-{r[8:12]}-4{r[13:16]}-{'89ab'[int(r[16], 16) & 3]}{r[17:20]}-{r[20:32]}"
            moment = (naive_start + step * n).isoformat(timespec="microseconds")
            slots.update(seq=n + 1, n=n, event_id=event_id, recorded_at=moment + "Z", prev_hash=prev, request_id=r[32:])
            if sm3 is None:
                digest = sm3_hex((template.text % slots).encode())
            else:
                hasher = sm3.copy()
                hasher.update((template.text % slots).encode())
                digest = hasher.hexdigest()
            stored = template.values.copy()
            stored[i_seq], stored[i_id], stored[i_prev], stored[i_hash] = n + 1, event_id, prev, digest
            stored[i_time] = moment.replace("T", " ") if sqlite else start + step * n
            if template.request:
                stored[i_req] = r[32:]
            if template.case:
                stored[i_case] = f"{template.row['case_number']}{n:08d}"
            if template.run:
                stored[i_run] = f"{template.row['run_id']}{n}"
            if n % _SPOT_CHECK == 0:
                _spot_check(stored, digest, start + step * n)
            prev = digest
            yield stored, digest


_Chunk = tuple[list[list[Any]], list[tuple[Any, ...]], tuple[int, str], tuple[float, float]]


def _chunks(
    signer: Any,
    make_event: Callable[[int], dict[str, Any]],
    events: int,
    start: datetime,
    span: timedelta,
    value: Callable[[str, Any], Any],
    dialect: str,
    checkpoint_every: int,
) -> Iterator[_Chunk]:
    """`_CHUNK` rows at a time with the checkpoints signed in them, the chain's end so far and (build s, sign s)."""
    rows = _rows(make_event, events, start, span, value, dialect == "sqlite")
    last: tuple[int, str] = (0, GENESIS_HASH)
    while True:
        tick, signing = time.perf_counter(), 0.0
        chunk: list[list[Any]] = []
        signed: list[tuple[Any, ...]] = []
        for stored, digest in rows:
            chunk.append(stored)
            last = (stored[0], digest)  # seq is the first column
            if stored[0] % checkpoint_every == 0:
                sign_tick = time.perf_counter()
                signed.append(_checkpoint(signer, stored[0], digest))
                signing += time.perf_counter() - sign_tick
            if len(chunk) == _CHUNK:
                break
        if not chunk:
            return
        yield chunk, signed, last, (time.perf_counter() - tick, signing)


def _produced(make: Callable[[], Iterator[_Chunk]]) -> Iterator[_Chunk]:
    """Run `make()` in a forked process (the second core hashes while this one writes); its chunks in order."""
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue(maxsize=4)

    def produce() -> None:
        try:
            for chunk in make():
                queue.put(chunk)
            queue.put(None)
        except BaseException as error:  # the writer re-raises it
            queue.put(RuntimeError(f"event producer failed: {error!r}"))

    worker = context.Process(target=produce, daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.terminate()


def _spot_check(stored: list[Any], digest: str, recorded_at: datetime) -> None:
    """The hub's own `event_hash` over the row as stored must give the templated hash."""
    row = dict(zip(_COLUMNS, stored, strict=True))
    row["recorded_at"] = recorded_at
    if isinstance(row["details"], str):
        row["details"] = json.loads(row["details"])
    expected = event_hash(row)
    assert expected == digest, f"templated hash differs from event_hash at seq {row['seq']}"


def _drop_indexes(cursor: Any) -> list[str]:
    """SQLite: the event table's secondary indexes, dropped for the load; returns their CREATE statements."""
    found = cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'exchange_event' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in found]


def bulk_generate(
    engine: Any,
    signer: Any,
    make_event: Callable[[int], dict[str, Any]],
    *,
    events: int,
    start: datetime,
    span: timedelta = timedelta(days=365),
    checkpoint_every: int = 1000,
    parallel: bool = False,
) -> dict[str, Any]:
    """Write `events` chained events and their checkpoints into an empty log; returns timings."""
    dialect = engine.dialect.name
    if dialect == "postgresql":  # the year's monthly partitions (migration 0014 makes only the coming months)
        from exchange.log.partitions import ensure_partitions

        with engine.begin() as conn:
            ensure_partitions(conn, since=start, through=start + span)
    value = _pg_value if dialect == "postgresql" else _sqlite_value
    started = time.perf_counter()
    make = lambda: _chunks(signer, make_event, events, start, span, value, dialect, checkpoint_every)  # noqa: E731
    chunks = _produced(make) if parallel else make()
    checkpoints: list[tuple[Any, ...]] = []
    last_seq, last_hash, building, signing, waiting, indexing = 0, GENESIS_HASH, 0.0, 0.0, 0.0, 0.0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        indexes: list[str] = []
        if dialect == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")
            indexes = _drop_indexes(cursor)
        insert = f"INSERT INTO exchange_event ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"
        while True:
            tick = time.perf_counter()
            chunk = next(chunks, None)
            waiting += time.perf_counter() - tick
            if chunk is None:
                break
            rows, signed, (last_seq, last_hash), (build_s, sign_s) = chunk
            checkpoints += signed
            building, signing = building + build_s, signing + sign_s
            if dialect == "postgresql":
                with cursor.copy(f"COPY exchange_event ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                    for values in rows:
                        copy.write_row(values)
            else:
                cursor.executemany(insert, rows)
            raw.commit()
        tick = time.perf_counter()
        for sql in indexes:
            cursor.execute(sql)
        indexing = time.perf_counter() - tick
        _finish(cursor, dialect, checkpoints, last_seq, last_hash)
        raw.commit()
    finally:
        raw.close()
    total = time.perf_counter() - started
    return {
        "generate_s": round(total, 1),
        "generate_hash_s": round(building - signing, 1),
        "generate_sign_s": round(signing, 1),
        "generate_writer_waited_s": round(waiting, 1),
        "generate_index_s": round(indexing, 1),
        "generate_events_per_s": round(events / total),
        "checkpoints": len(checkpoints),
        "signature_algorithm": signer.algorithm,
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
