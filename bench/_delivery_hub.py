"""A throwaway delivery hub over a loaded person table, for the delivery benchmarks and profiles.

`bench_memory` (its `deliver` case, in a child process) and `profile_delivery` deliver the person
table under `<home>/lake` the same way: a SQLite hub database with the catalogue's tables in a fresh
folder under `home`, subscriptions as plain `Sub` records (no catalogue rows), and everything the
deliveries wrote removed afterwards so the loaded table can be delivered again.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

    from lake import Lake
    from schemas import Contract

__all__ = ["DeliveryHub", "Sub", "delivery_hub"]


@dataclass
class Sub:
    """A subscription as delivery reads it (`SubscriptionLike`)."""

    id: int
    department_code: str
    delivery_mode: str
    pii_access: bool
    target_url: str | None = None  # a department database (resolved by the caller's `targets`, not the catalogue)
    target_name: str | None = None
    resource: str = "person"
    purpose: str = "bench"
    status: str = "granted"
    fields: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryHub:
    """What a delivery needs: the hub database's engine, the lake, the person contract and its field names."""

    work: Path  # the run's own folder (the hub database, department databases)
    engine: sa.Engine
    lake: Lake
    contract: Contract
    fields: list[str]


@contextmanager
def delivery_hub(home: str | Path, *, prefix: str) -> Iterator[DeliveryHub]:
    """A hub in a new folder `home/<prefix>…` over `home/lake`; on leaving, its folder and the deliveries go."""
    import sqlalchemy as sa

    import exchange.delivery.models
    import exchange.log.models  # noqa: F401 (tables)
    from catalog import Base
    from lake import Lake
    from schemas import load_contract

    contract = load_contract("person")
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=home))
    engine = sa.create_engine(f"sqlite:///{work}/hub.db")
    Base.metadata.create_all(engine)
    try:
        yield DeliveryHub(work, engine, Lake(f"{home}/lake"), contract, [f.name for f in contract.fields])
    finally:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(Path(home, "lake", "deliveries"), ignore_errors=True)
