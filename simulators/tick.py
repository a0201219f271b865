"""One working day in every source: births, moves, deaths, renames, closures, new and withdrawn
credit records, deletions, and the day's settlement file. Deterministic in (home, seed, day)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from schemas import StateError, load_contract
from simulators.bad import BadRecord
from simulators.generate import Table, _addresses, batched_timestamps, generate_persons
from simulators.generate_orgs import generate_credit, generate_entities
from simulators.home import SimulatorHome, day_start
from simulators.nontax import generate_payments, ledger_add, ledger_refunds, write_settlement
from simulators.registry import connect, insert_rows, reflect_table, update_rows

__all__ = ["TickSummary", "tick_all"]

log = logging.getLogger(__name__)
# How a day's changes split: inserts, attribute updates, status changes, deletions.
_SPLIT = (0.25, 0.4, 0.2, 0.15)
# GB 11643 leaves 1,000 sequence numbers per county and birth date, so one day's newborns cannot
# exceed a few thousand (Yiyang registers ~100 a day); above this, a day's extra inserts become updates
MAX_BIRTHS_PER_DAY = 2_000


@dataclass
class TickSummary:
    """What one tick changed, per resource and kind of change, and the settlement file it wrote."""

    day: int
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    settlement_file: Path | None = None
    bad: list[BadRecord] = field(default_factory=list)


def _counts(n: int, share: float) -> list[int]:
    total = round(n * share)
    return [round(total * s) for s in _SPLIT]


def _births_fit_one_day(counts: list[int]) -> list[int]:
    """Person changes with at most MAX_BIRTHS_PER_DAY newborns; the rest of the share is updates."""
    extra = max(0, counts[0] - MAX_BIRTHS_PER_DAY)
    return [counts[0] - extra, counts[1] + extra, *counts[2:]]


def _pool_table(engine: sa.Engine, resource: str, cols: list[str], where: str, bad_keys: set[str]) -> Table:
    """Rows of a registry as a generator `Table`, marking known-bad rows as not referable."""
    key = load_contract(resource).primary_key[0]
    t = reflect_table(engine, resource)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*(t.c[c] for c in cols)).where(sa.text(where)).order_by(t.c[key])).fetchall()
    columns = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    good = np.array([r[0] not in bad_keys and all(x is not None for x in r) for r in rows], dtype=bool)
    return Table(resource, columns, good=good)


def _tick_registry(
    engine: sa.Engine, resource: str, rng: np.random.Generator, counts: list[int], window: tuple, new_rows: Table
) -> dict[str, int]:
    contract = load_contract(resource)
    key, flag = contract.primary_key[0], contract.source.deleted_flag or "is_deleted"
    t = reflect_table(engine, resource)
    with engine.connect() as conn:
        live = conn.execute(sa.select(t.c[key], t.c.region_code).where(t.c[flag] == 0).order_by(t.c[key])).fetchall()
    _, n_upd, n_status, n_del = counts
    picked = rng.choice(len(live), size=min(len(live), n_upd + n_status + n_del), replace=False).tolist()
    upd, status, dele = picked[:n_upd], picked[n_upd : n_upd + n_status], picked[n_upd + n_status :]
    stamps = batched_timestamps(rng, len(picked), *window, mean_batch=10)
    regions = [live[i][1] if live[i][1] in _REGIONS else "430903" for i in upd]
    addr_col = "household_address" if resource == "person" else "address"
    addresses = _addresses(rng, regions)
    update_rows(
        engine,
        t,
        key,
        [{key: live[i][0], addr_col: a, "updated_at": s} for i, a, s in zip(upd, addresses, stamps, strict=False)],
    )
    codes = ("3", "2") if resource == "person" else ("4", "3")  # deaths / moves; 注销 / 吊销
    update_rows(
        engine,
        t,
        key,
        [{key: live[i][0], "status": codes[j % 2], "updated_at": stamps[n_upd + j]} for j, i in enumerate(status)],
    )
    update_rows(
        engine,
        t,
        key,
        [{key: live[i][0], flag: 1, "updated_at": stamps[n_upd + n_status + j]} for j, i in enumerate(dele)],
    )
    inserted = insert_rows(engine, t, new_rows) if len(new_rows) else 0
    return {"inserted": inserted, "updated": len(upd), "status": len(status), "deleted": len(dele)}


_REGIONS = {"430902", "430903", "430921", "430922", "430923", "430981"}


def tick_all(
    home: Path | SimulatorHome, *, day: int, seed: int | None = None, change_share: float = 0.01
) -> TickSummary:
    """Run simulated day `day` (>= 1) in every source of `home`; each day can run once.

    `change_share` of each registry's live rows change (a quarter inserted, the rest updated,
    status-changed or deleted with a bumped `updated_at`); credit records get new and withdrawn
    entries; the payment system writes the day's settlement file (with refunds of earlier days).
    """
    h = home if isinstance(home, SimulatorHome) else SimulatorHome.open(home)
    if day < 1:
        raise StateError(f"tick day must be >= 1 (day 0 is the build), got {day}")
    if day in h.days:
        raise StateError(f"day {day} already ran in {h.root}; days run so far: {sorted(h.days)}")
    seed = h.seed if seed is None else seed
    rng = np.random.default_rng([seed, 100, day])
    start = day_start(h.epoch, day)
    window = (start + dt.timedelta(hours=1), start + dt.timedelta(hours=10))  # 09:00-18:00 Beijing time
    summary = TickSummary(day=day)
    bad_keys = {b.key for b in h.bad_records if b.key}
    pop, ent, cred = connect(h.population_url), connect(h.legal_entity_url), connect(h.credit_url)
    try:
        n_pop = h.counts["person"]
        counts = _births_fit_one_day(_counts(n_pop, change_share))
        births = generate_persons(
            counts[0], seed=seed, bad_share=h.bad_share, epoch=h.epoch, born_on=start.date(), stamp_window=window
        )
        summary.changes["person"] = _tick_registry(pop, "person", rng, counts, window, births)
        adults = _pool_table(
            pop, "person", ["id_number", "name", "status", "birth_date"], "status = '1' AND is_deleted = 0", bad_keys
        )
        counts = _counts(h.counts["legal_entity"], change_share)
        new_ents = generate_entities(
            counts[0], adults, seed=seed, bad_share=h.bad_share, epoch=start, stamp_window=window, salt=day
        )
        summary.changes["legal_entity"] = _tick_registry(ent, "legal_entity", rng, counts, window, new_ents)
        summary.bad += births.bad + new_ents.bad
        summary.changes["credit_record"], credit_bad = _tick_credit(
            h, cred, ent, adults, rng, seed, day, window, change_share, bad_keys
        )
        summary.bad += credit_bad
        payers = [(adults.columns["name"][i], adults.columns["id_number"][i]) for i in np.flatnonzero(adults.good)]
        date = start.date()
        refunds = ledger_refunds(h.ledger, day=date, share=change_share, seed=seed)
        payments, planned = generate_payments(
            h.counts["payments_per_day"], payers[:50_000], seed=seed, day=date, bad_share=h.bad_share
        )
        summary.settlement_file, file_bad = write_settlement(h.inbox, date, payments, planned, refunds=refunds)
        ledger_add(h.ledger, payments)
        summary.changes["payment"] = {"inserted": len(payments), "refunded": len(refunds)}
        summary.bad += file_bad
    finally:
        for engine in (pop, ent, cred):
            engine.dispose()
    h.counts["person"] += summary.changes["person"]["inserted"]
    h.counts["legal_entity"] += summary.changes["legal_entity"]["inserted"]
    h.counts["credit_record"] += summary.changes["credit_record"]["inserted"]
    h.days.append(day)
    h.add_bad(summary.bad)
    h.save()
    log.info("tick day %s: %s", day, summary.changes)
    return summary


def _tick_credit(
    h: SimulatorHome,
    cred: sa.Engine,
    ent: sa.Engine,
    adults: Table,
    rng: np.random.Generator,
    seed: int,
    day: int,
    window: tuple,
    change_share: float,
    bad_keys: set[str],
) -> tuple[dict[str, int], list[BadRecord]]:
    """New credit records about live entities and persons; withdrawals (撤销公示) as deleted=true."""
    t = reflect_table(cred, "credit_record")
    entities = _pool_table(ent, "legal_entity", ["uscc", "name", "status"], "is_deleted = 0", bad_keys)
    with cred.connect() as conn:
        live = conn.execute(sa.select(t.c.record_id).where(t.c.deleted == 0).order_by(t.c.record_id)).scalars().all()
        last = conn.execute(sa.select(sa.func.max(sa.func.substr(t.c.record_id, -8)))).scalar() or "0"
    n_new = max(1, round(h.counts["credit_record"] * change_share))
    new = generate_credit(
        n_new,
        adults,
        entities,
        seed=seed,
        bad_share=h.bad_share,
        epoch=day_start(h.epoch, day + 1),
        stamp_window=window,
        first_number=int(last) + 1,
    )
    for i, d in enumerate(new.columns["decision_date"]):  # decided today or in the days before, never later
        stamp = new.columns["updated_at"][i]
        if d[:4].isdigit() and len(d) == 10 and d > stamp.date().isoformat():
            new.columns["decision_date"][i] = new.columns["valid_from"][i] = stamp.date().isoformat()
    insert_rows(cred, t, new)
    n_wd = min(len(live), max(1, round(len(live) * change_share / 4)))
    withdrawn = sorted(rng.choice(len(live), size=n_wd, replace=False).tolist())
    stamps = batched_timestamps(rng, n_wd, *window, mean_batch=5)
    update_rows(
        cred,
        t,
        "record_id",
        [{"record_id": live[i], "deleted": 1, "updated_at": s} for i, s in zip(withdrawn, stamps, strict=True)],
    )
    return {"inserted": len(new), "deleted": n_wd}, new.bad
