"""Tamperings of the exchange log, generated systematically: every field, every position, seeded.

What someone with write access to the metadata store (or to the archive files in the lake) could do:
edit one field of one event, delete events (and renumber the rest, and move the head back), swap or
move events, slip in a forged event whose hash and link they computed with the public rules, or
rewrite an event and re-hash everything after it. Each tampering is a function of a database
connection (or of the rows of an archive file) so the caller can apply it, verify, and roll back.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from exchange.log import ChainHead, EventType, ExchangeEvent
from exchange.log._hashing import HASHED_FIELDS, event_hash

__all__ = ["Tampering", "archive_row_tamperings", "db_tamperings", "edit_value", "load_rows"]

EVENTS = ExchangeEvent.__table__
HEAD = ChainHead.__table__
_HEX = "0123456789abcdef"
_TIMES = ("recorded_at", "started_at", "finished_at")
_INTS = ("version", "rows", "bytes")
_OUTCOMES = ("ok", "failed", "denied")


@dataclass(frozen=True)
class Tampering:
    """One tampering: its family (edit, delete, reorder, insert, rehash), what it does, the event it hits."""

    family: str
    what: str
    seq: int | None
    event_id: str | None
    apply: Callable[[Any], None]


def load_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every event, in seq order, as Python values (times aware, details parsed)."""
    return [dict(r._mapping) for r in conn.execute(select(EVENTS).order_by(EVENTS.c.seq))]


def _other_char(rnd: random.Random, text: str, alphabet: str) -> str:
    i = rnd.randrange(len(text))
    choices = [c for c in alphabet if c != text[i]]
    return text[:i] + rnd.choice(choices) + text[i + 1 :]


def edit_value(rnd: random.Random, field: str, value: Any, *, max_seq: int) -> Any:
    """A different value for `field`, of the kind a tamperer would write (at the precision the log keeps)."""
    if field == "seq":
        return max_seq + rnd.randrange(1, 1000)
    if field == "type":
        return rnd.choice([t.value for t in EventType if t.value != value])
    if field == "outcome":
        return rnd.choice([o for o in _OUTCOMES if o != value])
    if field in _TIMES:
        base = value if value is not None else datetime(2026, 5, 1, 8, tzinfo=UTC)
        return base + rnd.choice(
            [
                timedelta(microseconds=1),
                timedelta(milliseconds=1),
                timedelta(hours=1),
                -timedelta(seconds=1),
                timedelta(days=1),
            ]
        )
    if field in _INTS:
        return rnd.randrange(1, 1000) if value is None else value + rnd.choice([-1, 1]) * rnd.randrange(1, 1000)
    if field == "duration_ms":  # hashed as "%.3f": a change below 0.0005 ms changes no recorded fact
        return 1.0 if value is None else round(value + rnd.choice([0.001, 1.0, 1000.0]), 3)
    if field == "details":
        if not value:
            return {"note": "伪造"}
        changed = dict(value)
        key = rnd.choice(sorted(changed))
        changed[key] = "伪造" if changed[key] != "伪造" else "forged"
        return changed
    if field in ("event_id", "prev_hash", "hash", "checksum", "subject_hash", "request_id"):
        return "".join(rnd.choice(_HEX) for _ in range(64)) if value is None else _other_char(rnd, value, _HEX)
    if value is None:
        return "伪造"
    return _other_char(rnd, value, string.ascii_letters + string.digits + "伪造")


def _renumber(conn: Connection, start: int, shift: int) -> None:
    """Move every event from seq `start` on by `shift` (one at a time, in an order the key allows)."""
    seqs = [r.seq for r in conn.execute(select(EVENTS.c.seq).where(EVENTS.c.seq >= start))]
    for seq in sorted(seqs, reverse=shift > 0):
        conn.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(seq=seq + shift))


def _forged(rnd: random.Random, like: Mapping[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """An event a forger computes with the public hash rule, linked to `prev_hash`."""
    row = {f: like[f] for f in HASHED_FIELDS}
    row.update(seq=seq, event_id=str(uuid.uuid4()), prev_hash=prev_hash, target=f"dept:伪造{rnd.randrange(99)}")
    row["hash"] = event_hash(row)
    return row


def db_tamperings(rows: list[dict[str, Any]], *, seed: int, per_field: int, per_family: int) -> list[Tampering]:
    """Seeded tamperings of a log whose events are `rows`: `per_field` edits of each hashed field (and of
    the stored hash) at random positions, and `per_family` deletions, reorders, insertions and re-hashes."""
    rnd = random.Random(seed)
    n, max_seq = len(rows), rows[-1]["seq"]
    by_seq = {r["seq"]: r for r in rows}
    out: list[Tampering] = []

    for field in (*HASHED_FIELDS, "hash"):
        positions = [rows[0]["seq"], max_seq] + [rnd.choice(rows)["seq"] for _ in range(max(0, per_field - 2))]
        for seq in positions[:per_field]:
            new = edit_value(rnd, field, by_seq[seq][field], max_seq=max_seq)

            def edit(conn: Connection, seq: int = seq, field: str = field, new: Any = new) -> None:
                conn.execute(update(EVENTS).where(EVENTS.c.seq == seq).values({field: new}))

            out.append(Tampering("edit", f"edit {field} of event {seq}", seq, by_seq[seq]["event_id"], edit))

    # SQLite keeps any value in any column: bytes in a text column, text in a number, broken JSON in details
    confusions = [(f, b"\xff\xfe" + f.encode()) for f in ("source", "target", "case_number", "checksum", "type")]
    confusions += [
        ("rows", "许多"),
        ("version", "v2"),
        ("duration_ms", "fast"),
        ("recorded_at", "yesterday"),
        ("details", '{"note": 伪造'),
        ("details", "[1, 2"),
    ]
    for k in range(per_family):
        field, raw = confusions[k % len(confusions)]
        seq = rnd.choice(rows)["seq"]

        def confuse(conn: Connection, seq: int = seq, field: str = field, raw: Any = raw) -> None:
            conn.exec_driver_sql(f"UPDATE exchange_event SET {field} = ? WHERE seq = ?", (raw, seq))

        out.append(
            Tampering(
                "retype",
                f"{field} of event {seq} set to {raw!r} (no longer its type)",
                seq,
                by_seq[seq]["event_id"],
                confuse,
            )
        )

    for k in range(per_family):
        start = rnd.choice(rows)["seq"] if k > 1 else (rows[0]["seq"], max_seq)[k]
        length = min(rnd.randrange(1, 4), max_seq - start + 1)
        mode = ("plain", "renumbered", "head moved back")[k % 3]
        if mode == "head moved back":
            start = max_seq - length + 1

        def remove(conn: Connection, start: int = start, length: int = length, mode: str = mode) -> None:
            conn.execute(delete(EVENTS).where(EVENTS.c.seq.between(start, start + length - 1)))
            if mode == "renumbered":
                _renumber(conn, start + length, -length)
            elif mode == "head moved back":
                last = by_seq[start - 1]
                conn.execute(update(HEAD).values(seq=last["seq"], hash=last["hash"]))

        out.append(
            Tampering(
                "delete", f"delete {length} event(s) from {start}, {mode}", start, by_seq[start]["event_id"], remove
            )
        )

    for k in range(per_family):
        a = rnd.randrange(n - 1)
        b = a + 1 if k % 2 == 0 else rnd.randrange(n)
        b = b if b != a else (a + 1) % n
        sa, sb = rows[a]["seq"], rows[b]["seq"]
        if k % 4 == 3:  # move one event elsewhere, renumbering the ones between

            def move(conn: Connection, sa: int = sa, sb: int = sb) -> None:
                conn.execute(update(EVENTS).where(EVENTS.c.seq == sa).values(seq=-1))
                step = 1 if sb > sa else -1
                for s in range(sa + step, sb + step, step):
                    conn.execute(update(EVENTS).where(EVENTS.c.seq == s).values(seq=s - step))
                conn.execute(update(EVENTS).where(EVENTS.c.seq == -1).values(seq=sb))

            out.append(Tampering("reorder", f"move event {sa} to {sb}", min(sa, sb), None, move))
        else:

            def swap(conn: Connection, sa: int = sa, sb: int = sb) -> None:
                conn.execute(update(EVENTS).where(EVENTS.c.seq == sa).values(seq=-1))
                conn.execute(update(EVENTS).where(EVENTS.c.seq == sb).values(seq=sa))
                conn.execute(update(EVENTS).where(EVENTS.c.seq == -1).values(seq=sb))

            out.append(Tampering("reorder", f"swap events {sa} and {sb}", min(sa, sb), None, swap))

    for k in range(per_family):
        at = max_seq + 1 if k == 0 else rnd.choice(rows[1:])["seq"]
        forged = _forged(rnd, rnd.choice(rows), at, by_seq[at - 1]["hash"])

        def slip_in(conn: Connection, at: int = at, forged: dict = forged) -> None:
            _renumber(conn, at, 1)
            conn.execute(insert(EVENTS).values(**forged))

        where = "after the newest event" if at > max_seq else f"at {at}, later events renumbered"
        out.append(Tampering("insert", f"forged event {where}", at, forged["event_id"], slip_in))

    for _ in range(per_family):
        seq = rnd.choice(rows)["seq"]

        def rehash(conn: Connection, seq: int = seq) -> None:
            prev = by_seq[seq - 1]["hash"] if seq - 1 in by_seq else rows[0]["prev_hash"]
            for row in rows[seq - rows[0]["seq"] :]:
                new = dict(row, prev_hash=prev)
                if row["seq"] == seq:
                    new["rows"] = (row["rows"] or 0) + 1
                new["hash"] = prev = event_hash(new)
                values = {"prev_hash": new["prev_hash"], "hash": new["hash"], "rows": new["rows"]}
                conn.execute(update(EVENTS).where(EVENTS.c.seq == row["seq"]).values(values))
            conn.execute(update(HEAD).values(hash=prev))

        out.append(
            Tampering(
                "rehash",
                f"edit event {seq}, re-hash the chain after it and the head",
                seq,
                by_seq[seq]["event_id"],
                rehash,
            )
        )
    return out


def archive_row_tamperings(
    rows: list[dict[str, Any]], *, seed: int, per_field: int, per_family: int
) -> list[Tampering]:
    """Tamperings of an archive file's rows (a list of dicts to rewrite as Parquet): field edits at
    random rows, row deletions, swaps and forged rows; `apply(rows)` changes the list in place."""
    rnd = random.Random(seed)
    max_seq = rows[-1]["seq"]
    out: list[Tampering] = []
    for field in (*HASHED_FIELDS, "hash"):
        for _ in range(per_field):
            i = rnd.randrange(len(rows))
            value = rows[i][field]
            if field == "details" and isinstance(value, str):
                value = json.loads(value)
            new = edit_value(rnd, field, value, max_seq=max_seq)
            if field == "details":
                new = json.dumps(new, sort_keys=True, ensure_ascii=False)

            def edit(data: list[dict], i: int = i, field: str = field, new: Any = new) -> None:
                data[i][field] = new

            out.append(
                Tampering(
                    "edit", f"archived event {rows[i]['seq']}: edit {field}", rows[i]["seq"], rows[i]["event_id"], edit
                )
            )
    for _ in range(per_family):
        i = rnd.randrange(len(rows))
        out.append(
            Tampering(
                "delete",
                f"archived event {rows[i]['seq']} deleted",
                rows[i]["seq"],
                rows[i]["event_id"],
                lambda data, i=i: data.pop(i),
            )
        )
        j = rnd.randrange(len(rows) - 1)

        def swap(data: list[dict], j: int = j) -> None:
            data[j], data[j + 1] = data[j + 1], data[j]

        out.append(
            Tampering(
                "reorder",
                f"archived events {rows[j]['seq']} and {rows[j + 1]['seq']} swapped",
                rows[j]["seq"],
                None,
                swap,
            )
        )
        k = rnd.randrange(1, len(rows))
        like = dict(rows[rnd.randrange(len(rows))])
        if isinstance(like["details"], str):
            like["details"] = json.loads(like["details"])
        forged = _forged(rnd, like, rows[k]["seq"], rows[k - 1]["hash"])
        forged["details"] = None if forged["details"] is None else json.dumps(forged["details"], sort_keys=True)

        def slip_in(data: list[dict], k: int = k, forged: dict = forged) -> None:
            for row in data[k:]:
                row["seq"] += 1
            data.insert(k, forged)

        out.append(
            Tampering(
                "insert",
                f"forged event slipped into the archive at {rows[k]['seq']}",
                rows[k]["seq"],
                forged["event_id"],
                slip_in,
            )
        )
    return out
