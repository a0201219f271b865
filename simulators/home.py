"""A simulator home: the four source systems built side by side in one folder (see README.md)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import StateError
from simulators.bad import BadRecord
from simulators.generate import Table, adult_pool, generate_persons
from simulators.generate_orgs import generate_credit, generate_entities
from simulators.nontax import generate_payments, ledger_add, write_settlement
from simulators.registry import connect, create_table, sql_url

__all__ = ["SIM_EPOCH", "SimulatorHome", "build_all", "build_population", "day_start"]

log = logging.getLogger(__name__)
# Day 0 of the simulated calendar (naive UTC). Build data lies before it; tick K happens on day K.
SIM_EPOCH = dt.datetime(2026, 3, 2)
_CONFIG = "simulator.json"
_BAD = "bad_records.json"


def day_start(epoch: dt.datetime, day: int) -> dt.datetime:
    """Midnight (UTC) of simulated day `day`."""
    return epoch + dt.timedelta(days=day)


@dataclass
class SimulatorHome:
    """Where each simulated system lives, with the build's parameters, counts and bad records."""

    root: Path
    population_url: str
    legal_entity_url: str
    credit_db: Path
    inbox: Path
    ledger: Path
    seed: int
    bad_share: float
    epoch: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    days: list[int] = field(default_factory=list)
    token: str = "govhub-dev-token"

    @property
    def credit_url(self) -> str:
        return sql_url(self.credit_db)

    @property
    def bad_records(self) -> list[BadRecord]:
        """Every bad record injected so far (build and ticks)."""
        path = self.root / _BAD
        raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        return [BadRecord(**r) for r in raw]

    def add_bad(self, bad: list[BadRecord]) -> None:
        path = self.root / _BAD
        raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        raw.extend(b.to_json() for b in bad)
        path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")

    def save(self) -> None:
        config = {
            "population_url": self.population_url,
            "legal_entity_url": self.legal_entity_url,
            "seed": self.seed,
            "bad_share": self.bad_share,
            "epoch": self.epoch.isoformat(),
            "counts": self.counts,
            "days": self.days,
            "token": self.token,
        }
        (self.root / _CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def open(cls, root: Path) -> SimulatorHome:
        """Load a home written by `build_all`."""
        root = Path(root)
        try:
            config: dict[str, Any] = json.loads((root / _CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise StateError(f"{root} is not a simulator home ({_CONFIG} unreadable: {e}); run build first") from e
        return cls(
            root=root,
            population_url=config["population_url"],
            legal_entity_url=config["legal_entity_url"],
            credit_db=root / "credit.sqlite",
            inbox=root / "inbox",
            ledger=root / "nontax_ledger.sqlite",
            seed=config["seed"],
            bad_share=config["bad_share"],
            epoch=dt.datetime.fromisoformat(config["epoch"]),
            counts=config["counts"],
            days=config["days"],
            token=config["token"],
        )


def build_population(url: str, *, size: int, seed: int = 7, bad_share: float = 0.02) -> Table:
    """Generate `size` persons and load them into the population registry at `url` (table replaced)."""
    persons = generate_persons(size, seed=seed, bad_share=bad_share, epoch=SIM_EPOCH)
    engine = connect(url)
    try:
        create_table(engine, "person", replace=True, rows=persons)
    finally:
        engine.dispose()
    return persons


def build_all(
    home: Path,
    *,
    size: int,
    seed: int = 7,
    bad_share: float = 0.02,
    population_url: str | None = None,
    legal_entity_url: str | None = None,
    settlement_days: int = 3,
) -> SimulatorHome:
    """Build all four systems in `home`: persons `size`, legal entities size/10, credit records size/20,
    payments size/200 per settlement day for `settlement_days` days ending on day 0.

    Registries default to SQLite files in `home`; pass SQLAlchemy URLs to use MariaDB or PostgreSQL.
    Existing tables and files in `home` are replaced. Deterministic in (size, seed, bad_share).
    """
    root = Path(home)
    root.mkdir(parents=True, exist_ok=True)
    h = SimulatorHome(
        root=root,
        population_url=population_url or sql_url(root / "population.sqlite"),
        legal_entity_url=legal_entity_url or sql_url(root / "legal_entity.sqlite"),
        credit_db=root / "credit.sqlite",
        inbox=root / "inbox",
        ledger=root / "nontax_ledger.sqlite",
        seed=seed,
        bad_share=bad_share,
        epoch=SIM_EPOCH,
    )
    for stale in (root / _BAD, h.ledger, *h.inbox.glob("settlement_*")):
        stale.unlink(missing_ok=True)
    persons = build_population(h.population_url, size=size, seed=seed, bad_share=bad_share)
    entities = generate_entities(max(10, size // 10), persons, seed=seed, bad_share=bad_share, epoch=h.epoch)
    credit = generate_credit(max(10, size // 20), persons, entities, seed=seed, bad_share=bad_share, epoch=h.epoch)
    for engine_url, resource, rows in (
        (h.legal_entity_url, "legal_entity", entities),
        (h.credit_url, "credit_record", credit),
    ):
        engine = connect(engine_url)
        try:
            create_table(engine, resource, replace=True, rows=rows, decimal_as_text=resource == "credit_record")
        finally:
            engine.dispose()
    pool = adult_pool(persons, h.epoch).tolist()
    payers = [(persons.columns["name"][i], persons.columns["id_number"][i]) for i in pool[:50_000]]
    per_day = max(10, size // 200)
    bad = [*persons.bad, *entities.bad, *credit.bad]
    for day in range(1 - settlement_days, 1):
        date = day_start(h.epoch, day).date()
        payments, planned = generate_payments(per_day, payers, seed=seed, day=date, bad_share=bad_share)
        _, file_bad = write_settlement(h.inbox, date, payments, planned)
        ledger_add(h.ledger, payments)
        bad.extend(file_bad)
    h.counts = {
        "person": len(persons),
        "legal_entity": len(entities),
        "credit_record": len(credit),
        "payments_per_day": per_day,
        "settlement_files": settlement_days,
    }
    h.add_bad(bad)
    h.save()
    log.info("built simulator home %s: %s", root, h.counts)
    return h
