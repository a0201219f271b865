"""Tampering with the exchange log is detected, and the first bad event is named."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from log_support import event_id, event_kwargs, sql

from exchange.crypto import Signer, load_or_create_signer
from exchange.log import ExchangeLog, ExchangeLogError, format_report
from exchange.log._hashing import HASHED_FIELDS, event_hash

N = 20


@pytest.fixture
def xlog(engine: sa.Engine, signer: Signer) -> ExchangeLog:
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=100)
    xlog.append_many([event_kwargs(i) for i in range(N)])
    return xlog


def _row(engine: sa.Engine, seq: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM exchange_event WHERE seq = :s"), {"s": seq}).one()
    return dict(row._mapping)


def _forged_row(prev_hash: str, seq: int) -> dict:
    """A row a forger with database access and the (public) hash rules could write."""
    forged = {f: None for f in HASHED_FIELDS}
    forged.update(
        seq=seq,
        event_id=str(uuid.uuid4()),
        type="delivery",
        recorded_at="2026-05-01 08:00:00.000000",
        source="hub",
        target="attacker",
        outcome="ok",
        prev_hash=prev_hash,
    )
    return forged


def _insert(engine: sa.Engine, row: dict) -> None:
    values = {**row, "recorded_at": datetime(2026, 5, 1, 8, tzinfo=UTC)}
    values["hash"] = event_hash(values)
    values["details"] = None
    names = ", ".join(values)
    sql(
        engine,
        f"INSERT INTO exchange_event ({names}) VALUES ({', '.join(':' + k for k in values)})",
        **values,
    )


def test_an_untouched_log_verifies(xlog: ExchangeLog) -> None:
    report = xlog.verify()
    assert report.ok and report.events_checked == N and (report.first_seq, report.last_seq) == (1, N)
    assert report.problem is None and report.checkpoints_checked == 0
    text = format_report(report)
    assert text.startswith(f"Exchange log intact: {N} event(s) verified (seq 1–{N}")


def test_an_edited_field_is_named(xlog: ExchangeLog, engine: sa.Engine) -> None:
    sql(engine, "UPDATE exchange_event SET rows = 999999 WHERE seq = 7")
    report = xlog.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "changed", 7)
    assert report.first_bad_event_id == event_id(engine, 7) and report.events_checked == 6
    assert format_report(report).startswith(
        f"Exchange log TAMPERED (changed): event seq 7 (id {event_id(engine, 7)}) was changed after it was recorded"
    )


def test_an_edited_prev_hash_is_named(xlog: ExchangeLog, engine: sa.Engine) -> None:
    sql(engine, "UPDATE exchange_event SET prev_hash = :h WHERE seq = 4", h="f" * 64)
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq, report.first_bad_event_id) == (
        "changed",
        4,
        event_id(engine, 4),
    )
    assert "prev_hash was edited" in report.detail


def test_a_deleted_event_is_reported_as_removed(xlog: ExchangeLog, engine: sa.Engine) -> None:
    sql(engine, "DELETE FROM exchange_event WHERE seq IN (9, 10)")
    report = xlog.verify()
    assert (report.problem, report.missing_seqs, report.first_bad_seq) == ("removed", (9, 10), 11)
    assert report.first_bad_event_id == event_id(engine, 11)
    assert "missing seq 9 to 10" in format_report(report)


def test_deleting_and_renumbering_is_still_removed(xlog: ExchangeLog, engine: sa.Engine) -> None:
    sql(engine, "DELETE FROM exchange_event WHERE seq = 5")
    for seq in range(6, N + 1):
        sql(engine, "UPDATE exchange_event SET seq = seq - 1 WHERE seq = :s", s=seq)
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq) == ("removed", 5)
    assert report.first_bad_event_id == event_id(engine, 5)  # the event that followed the removed one


def test_deleting_the_newest_events_is_caught_by_the_head(xlog: ExchangeLog, engine: sa.Engine) -> None:
    sql(engine, "DELETE FROM exchange_event WHERE seq >= :s", s=N - 1)
    report = xlog.verify()
    assert (report.problem, report.missing_seqs) == ("removed", (N - 1, N))


def test_swapped_events_are_reported_as_reordered(xlog: ExchangeLog, engine: sa.Engine) -> None:
    a, b = event_id(engine, 12), event_id(engine, 13)
    sql(engine, "UPDATE exchange_event SET seq = -1 WHERE seq = 12")
    sql(engine, "UPDATE exchange_event SET seq = 12 WHERE seq = 13")
    sql(engine, "UPDATE exchange_event SET seq = 13 WHERE seq = -1")
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq, report.first_bad_event_id) == ("reordered", 12, b)
    assert a in report.detail


def test_a_forged_row_at_the_end_is_reported_as_inserted(xlog: ExchangeLog, engine: sa.Engine) -> None:
    forged = _forged_row(prev_hash="a" * 64, seq=N + 1)
    _insert(engine, forged)
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq, report.first_bad_event_id) == (
        "inserted",
        N + 1,
        forged["event_id"],
    )


def test_a_well_linked_forged_row_at_the_end_is_caught_by_the_head(xlog: ExchangeLog, engine: sa.Engine) -> None:
    forged = _forged_row(prev_hash=_row(engine, N)["hash"], seq=N + 1)
    _insert(engine, forged)
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq, report.first_bad_event_id) == (
        "inserted",
        N + 1,
        forged["event_id"],
    )


def test_a_forged_row_slipped_into_the_middle_is_named(xlog: ExchangeLog, engine: sa.Engine) -> None:
    for seq in range(N, 7, -1):  # make room at seq 8, as a forger would
        sql(engine, "UPDATE exchange_event SET seq = seq + 1 WHERE seq = :s", s=seq)
    forged = _forged_row(prev_hash=_row(engine, 7)["hash"], seq=8)
    _insert(engine, forged)
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq, report.first_bad_event_id) == (
        "inserted",
        8,
        forged["event_id"],
    )


def test_rewriting_and_rehashing_the_chain_is_caught_by_a_checkpoint(engine: sa.Engine, signer: Signer) -> None:
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=10)
    xlog.append_many([event_kwargs(i) for i in range(10)])
    xlog.append_many([event_kwargs(i) for i in range(10, N)])
    assert [cp.seq for cp in xlog.checkpoints()] == [10, 20]
    prev = _row(engine, 3)["hash"]
    for seq in range(4, N + 1):  # change seq 4, then recompute every later hash and link
        row = _row(engine, seq)
        row.update(prev_hash=prev, rows=0 if seq == 4 else row["rows"])
        row["details"] = None if row["details"] is None else json.loads(row["details"])
        row["recorded_at"] = datetime.fromisoformat(row["recorded_at"])
        prev = event_hash(row)
        sql(
            engine,
            "UPDATE exchange_event SET rows = :r, prev_hash = :p, hash = :h WHERE seq = :s",
            r=row["rows"],
            p=row["prev_hash"],
            h=prev,
            s=seq,
        )
    sql(engine, "UPDATE exchange_log_head SET hash = :h", h=prev)
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq) == ("checkpoint_mismatch", 10)
    assert "rewritten and re-hashed" in format_report(report)


def test_a_forged_checkpoint_fails_its_signature(xlog: ExchangeLog, engine: sa.Engine) -> None:
    cp = xlog.checkpoint()
    sql(engine, "UPDATE exchange_log_checkpoint SET head_hash = :h WHERE id = :i", h="b" * 64, i=cp.id)
    report = xlog.verify()
    assert (report.ok, report.problem, report.bad_checkpoint_ids) == (
        False,
        "bad_checkpoint_signature",
        (cp.id,),
    )
    assert f"checkpoint(s) {cp.id} fail signature verification" in format_report(report)


def test_a_checkpoint_signed_by_another_key_is_refused(xlog: ExchangeLog, engine: sa.Engine, tmp_path: Path) -> None:
    intruder = load_or_create_signer(tmp_path / "intruder", algorithm="sm2")
    forged = ExchangeLog(engine, signer=intruder).checkpoint()  # valid signature, untrusted key
    report = xlog.verify()
    assert (report.problem, report.bad_checkpoint_ids) == ("bad_checkpoint_signature", (forged.id,))
    # a verifier that pins no key only checks the signatures against the stored keys
    unpinned = ExchangeLog(engine).verify()
    assert unpinned.ok and any("no trusted keys given" in n for n in unpinned.notes)


def test_a_verifier_that_pins_the_hub_key_accepts_its_checkpoints(
    xlog: ExchangeLog, engine: sa.Engine, signer: Signer
) -> None:
    xlog.checkpoint()
    pinned = ExchangeLog(engine, trusted_keys={signer.key_id: signer.public_key_pem()})
    assert pinned.verify().ok


def test_verify_from_a_seq(xlog: ExchangeLog, engine: sa.Engine) -> None:
    sql(engine, "UPDATE exchange_event SET rows = 1 WHERE seq = 3")
    report = xlog.verify(from_seq=10)
    assert report.ok and report.events_checked == N - 9 and report.first_seq == 10
    assert not xlog.verify(from_seq=2).ok
    sql(engine, "DELETE FROM exchange_event WHERE seq = 14")
    with pytest.raises(ExchangeLogError, match="cannot verify from seq 15: event 14 is neither in the database"):
        xlog.verify(from_seq=15)


@pytest.mark.parametrize(
    ("column", "raw"),
    [("target", b"\xff\xfe"), ("details", '{"n": 伪造'), ("recorded_at", "yesterday"), ("rows", "许多")],
)
def test_a_value_of_another_type_is_reported_not_raised(xlog: ExchangeLog, engine: sa.Engine, column, raw) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite keeps a value of another type in a column; PostgreSQL refuses it")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE exchange_event SET {column} = ? WHERE seq = 6", (raw,))
    report = xlog.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "changed", 6)
    assert report.first_bad_event_id == event_id(engine, 6)
