"""Yiyang-sized simulated sources for the city benchmark: the four systems at a chosen scale of the city.

At scale 1.0: 4,000,000 persons, 300,000 legal entities, 1,000,000 credit records and 10,000,000
payments, the payments in 100 daily settlement files (one day's file is 1 % of them, as a tick
writes). `build_all` ties every size to the population (entities N/10, credit N/20, payments N/200 a
day); this builds the same four systems with the same generators and writers at the city's own
proportions, so `tick_all` and the hub see an ordinary simulator home.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["CITY", "PAYMENT_DAYS", "CitySizes", "build_city", "city_sizes", "manifest_rows"]

# The city at scale 1.0 (Yiyang): persons, legal entities, credit records, payments in all.
CITY = {"person": 4_000_000, "legal_entity": 300_000, "credit_record": 1_000_000, "payment": 10_000_000}
# Days of settlement files at build: one day is 1 % of the payments, like one tick's file.
PAYMENT_DAYS = 100
_MIN = 10  # the generators need a few rows of each resource to draw references from


@dataclass(frozen=True)
class CitySizes:
    """Rows per resource at one scale; payments arrive as `payment_days` files of `payments_per_day`."""

    person: int
    legal_entity: int
    credit_record: int
    payments_per_day: int
    payment_days: int

    @property
    def payment(self) -> int:
        """Payments in all (before file-level duplicates and refunds)."""
        return self.payments_per_day * self.payment_days

    def as_dict(self) -> dict[str, int]:
        """The sizes per resource (the JSON's `sizes`), with the payment files' shape."""
        return {
            "person": self.person,
            "legal_entity": self.legal_entity,
            "credit_record": self.credit_record,
            "payment": self.payment,
            "payments_per_day": self.payments_per_day,
            "payment_days": self.payment_days,
        }


def city_sizes(scale: float) -> CitySizes:
    """The city's sizes times `scale` (1.0 = Yiyang); at least a few rows of each."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0 (1.0 is the full city), got {scale}")
    per_day = max(_MIN, round(CITY["payment"] * scale / PAYMENT_DAYS))
    return CitySizes(
        person=max(_MIN * 10, round(CITY["person"] * scale)),
        legal_entity=max(_MIN, round(CITY["legal_entity"] * scale)),
        credit_record=max(_MIN, round(CITY["credit_record"] * scale)),
        payments_per_day=per_day,
        payment_days=PAYMENT_DAYS,
    )


def build_city(root: Path, sizes: CitySizes, *, seed: int = 7, bad_share: float = 0.02) -> dict[str, Any]:
    """Build the four systems in `root` (SQLite registries, credit store, inbox, ledger) at `sizes`.

    Returns seconds per part, the home's counts and the number of bad records. Deterministic in
    (sizes, seed, bad_share). Memory: the persons stay in memory while the others reference them.
    """
    from simulators.generate import adult_pool
    from simulators.generate_orgs import generate_credit, generate_entities
    from simulators.home import SIM_EPOCH, SimulatorHome, build_population, day_start
    from simulators.nontax import generate_payments, ledger_add, write_settlement
    from simulators.registry import connect, create_table, sql_url

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    home = SimulatorHome(
        root=root,
        population_url=sql_url(root / "population.sqlite"),
        legal_entity_url=sql_url(root / "legal_entity.sqlite"),
        credit_db=root / "credit.sqlite",
        inbox=root / "inbox",
        ledger=root / "nontax_ledger.sqlite",
        seed=seed,
        bad_share=bad_share,
        epoch=SIM_EPOCH,
    )
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    persons = build_population(home.population_url, size=sizes.person, seed=seed, bad_share=bad_share)
    seconds["person"] = time.perf_counter() - started
    started = time.perf_counter()
    entities = generate_entities(sizes.legal_entity, persons, seed=seed, bad_share=bad_share, epoch=home.epoch)
    _load(connect, create_table, home.legal_entity_url, "legal_entity", entities)
    seconds["legal_entity"] = time.perf_counter() - started
    started = time.perf_counter()
    credit = generate_credit(sizes.credit_record, persons, entities, seed=seed, bad_share=bad_share, epoch=home.epoch)
    _load(connect, create_table, home.credit_url, "credit_record", credit)
    seconds["credit_record"] = time.perf_counter() - started
    started = time.perf_counter()
    pool = adult_pool(persons, home.epoch).tolist()
    payers = [(persons.columns["name"][i], persons.columns["id_number"][i]) for i in pool[:50_000]]
    bad = [*persons.bad, *entities.bad, *credit.bad]
    del entities, credit
    for day in range(1 - sizes.payment_days, 1):
        date = day_start(home.epoch, day).date()
        payments, planned = generate_payments(sizes.payments_per_day, payers, seed=seed, day=date, bad_share=bad_share)
        _, file_bad = write_settlement(home.inbox, date, payments, planned)
        ledger_add(home.ledger, payments)
        bad.extend(file_bad)
    seconds["payment"] = time.perf_counter() - started
    home.counts = {
        "person": len(persons),
        "legal_entity": sizes.legal_entity,
        "credit_record": sizes.credit_record,
        "payments_per_day": sizes.payments_per_day,
        "settlement_files": sizes.payment_days,
    }
    home.add_bad(bad)
    home.save()
    return {"seconds_by_part": seconds, "counts": home.counts, "bad_records": len(bad), "sizes": asdict(sizes)}


def _load(connect: Any, create_table: Any, url: str, resource: str, rows: Any) -> None:
    engine = connect(url)
    try:
        create_table(engine, resource, replace=True, rows=rows, decimal_as_text=resource == "credit_record")
    finally:
        engine.dispose()


def manifest_rows(inbox: Path, names: list[str] | None = None) -> int:
    """Rows the settlement manifests in `inbox` announce (every file, or only the named CSV files)."""
    import json

    from schemas import load_contract
    from simulators.nontax import manifest_path

    total = 0
    for csv_path in sorted(Path(inbox).glob(load_contract("payment").source.options["pattern"])):
        if names is None or csv_path.name in names:
            total += int(json.loads(manifest_path(csv_path).read_text(encoding="utf-8"))["rows"])
    return total
